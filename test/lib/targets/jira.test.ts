import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildSamples, REQUEST_ID, requestStages } from '#lib/events/samples.ts';
import { Store } from '#lib/store/store.ts';
import { JiraOptions, jiraDriver } from '#lib/targets/kinds/jira.ts';
import { RequestTicketStore } from '#lib/targets/tickets.ts';
import { PermanentDeliveryError, RetryableDeliveryError } from '#lib/targets/types.ts';
import { contextFor, lifecycle, MemoryTickets } from '../../fixtures/itsm/context.ts';
import { adfText, type JiraStandIn, startJira } from '../../fixtures/itsm/jira.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';

const SECRET = JSON.stringify({ email: 'stint-bot@example.com', apiToken: 'jira-api-token-1' });
const BASIC = `Basic ${Buffer.from('stint-bot@example.com:jira-api-token-1').toString('base64')}`;

const options = {
  projectKey: 'OPS',
  issueType: 'Service Request',
  labels: ['access'],
  fields: {
    customfield_10010: '{{request.flowId}}',
    customfield_10020: { value: '{{request.labels.env}}' },
  },
  transitions: { 'grant.active': 'Start', 'grant.expired': 'Done' },
};

let jira: JiraStandIn;
beforeEach(async () => {
  jira = await startJira({ authorization: BASIC, customFields: ['customfield_10010', 'customfield_10020'] });
});
afterEach(async () => {
  await jira.close();
});

const target = (overrides: Record<string, unknown> = {}) => ({
  name: 'jira-ops',
  kind: 'jira' as const,
  endpoint: `${jira.url}/`,
  options: { ...options, ...overrides },
});

const calls = () => jira.exchanges.map((e) => `${e.method} ${e.path} ${e.status}`);

describe('jira: a request’s whole life on dynalite', () => {
  let table: LocalTable;
  beforeEach(async () => {
    table = await startDynalite();
  });
  afterEach(async () => {
    await table.stop();
  });

  it('shows created → approved → active → expired as one issue with its comments and transitions', async () => {
    const store = new Store(table.doc, table.tableName);
    await store.createRequest(requestStages().pending);
    const ctx = contextFor(target(), SECRET, new RequestTicketStore(store));

    for (const event of lifecycle()) await jiraDriver.deliver([event], ctx);

    expect([...jira.issues.keys()]).toEqual(['OPS-1']);
    const issue = jira.issues.get('OPS-1');
    expect(issue?.fields.project).toEqual({ key: 'OPS' });
    expect(issue?.fields.issuetype).toEqual({ name: 'Service Request' });
    expect(issue?.fields.summary).toBe(`Access request: alice → prod-db-admin (${REQUEST_ID})`);
    expect(issue?.fields.labels).toEqual(['access', 'stint', `stint-${REQUEST_ID}`]);
    expect(issue?.fields.customfield_10010).toBe('prod-db-admin');
    expect(issue?.fields.customfield_10020).toEqual({ value: 'prod' });
    const description = JSON.stringify(issue?.fields.description);
    expect(description).toContain('alice <alice@example.com>');
    expect(description).toContain('pg-prod/payments/readwrite');
    expect(description).toContain('INC-4711: fix stuck payouts in the settlement table');

    const comments = (issue?.comments ?? []).map((c) => adfText(c.body));
    expect(comments).toHaveLength(3);
    expect(comments[0]).toContain('Request approved');
    expect(comments[0]).toContain('By: carol via api');
    expect(comments[0]).toContain('When: 2026-03-03T09:06:00.000Z');
    expect(comments[0]).toContain('Status: PENDING → APPROVED');
    expect(comments[0]).toContain(`[stint-event:request:${REQUEST_ID}:4]`);
    expect(comments[1]).toContain('Access granted');
    expect(comments[1]).toContain('Access until: 2026-03-03T10:07:00.000Z');
    expect(comments[2]).toContain('Access expired');
    expect(comments[2]).toContain('By: stint:system via workflow');
    expect(comments[2]).toContain('End reason: expired');
    expect(issue?.transitions).toEqual(['Start', 'Done']);
    expect(issue?.status).toBe('Done');

    const stored = await store.getRequest(REQUEST_ID);
    expect(stored?.tickets).toEqual({ 'jira-ops': 'OPS-1' });
    expect(stored?.status).toBe('PENDING');
    expect(jira.exchanges.every((e) => e.headers.authorization === BASIC)).toBe(true);
    expect(
      jira.exchanges.filter((e) => e.method === 'POST').every((e) => e.headers['content-type'] === 'application/json'),
    ).toBe(true);
  });
});

describe('jira: redelivery', () => {
  it('creates no second issue when request.created is delivered again', async () => {
    const tickets = new MemoryTickets();
    const ctx = contextFor(target(), SECRET, tickets);
    const [created] = lifecycle();
    if (created === undefined) throw new Error('no created sample');

    await jiraDriver.deliver([created], ctx);
    await jiraDriver.deliver([created], ctx);

    expect(jira.issues.size).toBe(1);
    expect(tickets.keys.get(`${REQUEST_ID}/jira-ops`)).toBe('OPS-1');
    expect(calls().filter((c) => c.startsWith('POST /rest/api/3/issue '))).toHaveLength(1);
  });

  it('finds the issue by its label after a crash between Jira’s create and storing the key', async () => {
    const tickets = new MemoryTickets();
    tickets.failPuts = 1;
    const ctx = contextFor(target(), SECRET, tickets);
    const [created, approved] = lifecycle();
    if (created === undefined || approved === undefined) throw new Error('no samples');

    await expect(jiraDriver.deliver([created], ctx)).rejects.toThrow('simulated crash');
    expect(jira.issues.size).toBe(1);
    expect(tickets.keys.size).toBe(0);

    await jiraDriver.deliver([created], ctx);
    await jiraDriver.deliver([approved], ctx);

    expect(jira.issues.size).toBe(1);
    expect(tickets.keys.get(`${REQUEST_ID}/jira-ops`)).toBe('OPS-1');
    const search = jira.exchanges.filter((e) => e.path === '/rest/api/3/search/jql');
    expect(search).toHaveLength(2);
    expect(search[1]?.body).toEqual({
      jql: `project = "OPS" AND labels = "stint-${REQUEST_ID}" ORDER BY created ASC`,
      fields: ['labels'],
      maxResults: 1,
    });
    expect(jira.issues.get('OPS-1')?.comments).toHaveLength(1);
  });

  it('does not comment or transition twice when a later event is delivered again', async () => {
    const ctx = contextFor(target(), SECRET, new MemoryTickets());
    const [created, approved, active, expired] = lifecycle();
    if (!created || !approved || !active || !expired) throw new Error('no samples');
    for (const event of [created, approved, active, expired, expired, active]) await jiraDriver.deliver([event], ctx);

    const issue = jira.issues.get('OPS-1');
    expect(issue?.comments).toHaveLength(3);
    expect(issue?.transitions).toEqual(['Start', 'Done']);
    expect(issue?.status).toBe('Done');
  });

  it('finishes the transition on redelivery when the comment was posted but the transition failed', async () => {
    const ctx = contextFor(target(), SECRET, new MemoryTickets());
    const [created, , active] = lifecycle();
    if (!created || !active) throw new Error('no samples');
    await jiraDriver.deliver([created], ctx);
    jira.failNext('POST /rest/api/3/issue/OPS-1/transitions', { status: 503, body: { errorMessages: ['busy'] } });

    await expect(jiraDriver.deliver([active], ctx)).rejects.toBeInstanceOf(RetryableDeliveryError);
    await jiraDriver.deliver([active], ctx);

    const issue = jira.issues.get('OPS-1');
    expect(issue?.comments).toHaveLength(1);
    expect(issue?.transitions).toEqual(['Start']);
  });
});

describe('jira: ordering and failures', () => {
  it('opens the issue from a later event when its request.created never reached this target', async () => {
    const tickets = new MemoryTickets();
    const ctx = contextFor(target(), SECRET, tickets);
    const [, approved] = lifecycle();
    if (!approved) throw new Error('no samples');

    await jiraDriver.deliver([approved], ctx);
    await jiraDriver.deliver([approved], ctx);

    expect(jira.issues.size).toBe(1);
    expect(jira.issues.get('OPS-1')?.comments).toHaveLength(1);
    expect(await tickets.get(approved.request.id, 'jira-ops')).toBe('OPS-1');
  });

  it.each([500, 503, 429])('treats %i from Jira as retryable', async (status) => {
    const ctx = contextFor(target(), SECRET, new MemoryTickets());
    const [created] = lifecycle();
    if (!created) throw new Error('no samples');
    jira.failNext('POST /rest/api/3/issue', { status, body: { errorMessages: ['try later'] } });

    const error = await jiraDriver.deliver([created], ctx).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({ status });
    expect(jira.issues.size).toBe(0);
  });

  it('treats a 400 as permanent and keeps Jira’s answer', async () => {
    const ctx = contextFor(target({ projectKey: 'NOPE' }), SECRET, new MemoryTickets());
    const [created] = lifecycle();
    if (!created) throw new Error('no samples');

    const error = await jiraDriver.deliver([created], ctx).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({ status: 400 });
    expect(error instanceof PermanentDeliveryError ? JSON.parse(error.answer ?? '{}') : undefined).toEqual({
      errorMessages: [],
      errors: { project: 'valid project is required' },
    });
  });

  it('refuses a field that is not on the create screen (400, permanent)', async () => {
    const ctx = contextFor(target({ fields: { customfield_99999: 'x' } }), SECRET, new MemoryTickets());
    const [created] = lifecycle();
    if (!created) throw new Error('no samples');

    const error = await jiraDriver.deliver([created], ctx).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error instanceof PermanentDeliveryError ? error.answer : '').toContain('customfield_99999');
  });

  it('is permanent when the configured transition is not available, naming those that are', async () => {
    const ctx = contextFor(target({ transitions: { 'request.approved': 'Escalate' } }), SECRET, new MemoryTickets());
    const [created, approved] = lifecycle();
    if (!created || !approved) throw new Error('no samples');
    await jiraDriver.deliver([created], ctx);

    const error = await jiraDriver.deliver([approved], ctx).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(String(error)).toContain('"Escalate" is not available for OPS-1 in status "To Do"');
    expect(error instanceof PermanentDeliveryError ? error.answer : '').toBe('available: Start, Done');
    expect(jira.issues.get('OPS-1')?.comments).toHaveLength(1);
  });

  it('accepts a transition named by the status it leads to', async () => {
    const ctx = contextFor(target({ transitions: { 'grant.active': 'In Progress' } }), SECRET, new MemoryTickets());
    const [created, , active] = lifecycle();
    if (!created || !active) throw new Error('no samples');

    await jiraDriver.deliver([created], ctx);
    await jiraDriver.deliver([active], ctx);

    expect(jira.issues.get('OPS-1')?.transitions).toEqual(['Start']);
    expect(jira.issues.get('OPS-1')?.status).toBe('In Progress');
  });

  it('leaves an issue someone already moved to the wanted status as it is', async () => {
    const ctx = contextFor(target({ transitions: { 'grant.expired': 'Done' } }), SECRET, new MemoryTickets());
    const [created, , , expired] = lifecycle();
    if (!created || !expired) throw new Error('no samples');
    await jiraDriver.deliver([created], ctx);
    const issue = jira.issues.get('OPS-1');
    if (issue === undefined) throw new Error('no issue');
    issue.status = 'Done';

    await jiraDriver.deliver([expired], ctx);

    expect(issue.comments).toHaveLength(1);
    expect(issue.transitions).toEqual([]);
    expect(calls()).toContain('GET /rest/api/3/issue/OPS-1 200');
  });

  it('ignores admin events (no ticket for flows, integrations or bundles)', async () => {
    const ctx = contextFor(target(), SECRET, new MemoryTickets());
    const samples = buildSamples();

    await jiraDriver.deliver([samples['flow.updated'], samples['integration.deleted']], ctx);

    expect(jira.exchanges).toHaveLength(0);
  });
});

describe('jira: credentials and options', () => {
  it('sends a bearer token when the secret holds one', async () => {
    const bearer = await startJira({ authorization: 'Bearer oauth-access-token' });
    try {
      const ctx = contextFor(
        { name: 'jira-ops', kind: 'jira', endpoint: bearer.url, options: { projectKey: 'OPS' } },
        JSON.stringify({ token: 'oauth-access-token' }),
        new MemoryTickets(),
      );
      const [created] = lifecycle();
      if (!created) throw new Error('no samples');
      await jiraDriver.deliver([created], ctx);
      expect(bearer.issues.get('OPS-1')?.fields.issuetype).toEqual({ name: 'Task' });
    } finally {
      await bearer.close();
    }
  });

  it('refuses a secret of the wrong shape without echoing it', async () => {
    const ctx = contextFor(target(), JSON.stringify({ user: 'x', password: 'hunter2-secret' }), new MemoryTickets());
    const [created] = lifecycle();
    if (!created) throw new Error('no samples');

    const error = await jiraDriver.deliver([created], ctx).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(String(error)).toContain('{"email","apiToken"} or {"token"}');
    expect(String(error)).not.toContain('hunter2');
    expect(jira.exchanges).toHaveLength(0);
  });

  it('validates options strictly', () => {
    const issues = (input: unknown) =>
      JiraOptions.safeParse(input).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];

    expect(issues({ projectKey: 'OPS' })).toEqual([]);
    expect(JiraOptions.parse({ projectKey: 'OPS' })).toMatchObject({ issueType: 'Task', labels: [], transitions: {} });
    expect(issues({ projectKey: 'ops' })).toEqual(['projectKey: must be a Jira project key such as OPS']);
    expect(issues({ projectKey: 'OPS', extra: 1 })).toEqual([': Unrecognized key: "extra"']);
    expect(issues({ projectKey: 'OPS', labels: ['two words'] })).toEqual([
      'labels.0: must be 1–255 characters without spaces',
    ]);
    expect(issues({ projectKey: 'OPS', fields: { summary: 'x' } })).toEqual([
      'fields: may not set project, issuetype, summary, description, labels (set by Stint)',
    ]);
    expect(issues({ projectKey: 'OPS', summary: '{{request.flowid}}' })).toEqual([
      'summary: {{request.flowid}}: request has no field "flowid"',
    ]);
    expect(issues({ projectKey: 'OPS', fields: { customfield_1: { value: '{{secret.x}}' } } })).toHaveLength(1);
    expect(issues({ projectKey: 'OPS', transitions: { 'flow.updated': 'Done' } })).toEqual([
      'transitions: Unrecognized key: "flow.updated"',
    ]);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JiraApi } from '#lib/channels/jira/client.ts';
import { JiraState } from '#lib/channels/jira/state.ts';
import { signJiraWebhook } from '#lib/channels/jira/verify.ts';
import { handleJiraWebhook, type JiraWebhookDeps, NOT_KNOWN } from '#lib/channels/jira/webhook.ts';
import type { AccessFlow } from '#lib/domain/flow.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { RequestService } from '#lib/services/requests.ts';
import { Store } from '#lib/store/store.ts';
import { TargetConfig } from '#lib/targets/config.ts';
import { basic } from '#lib/targets/itsm.ts';
import { requestLabel } from '#lib/targets/kinds/jira.ts';
import { createOutbound } from '#lib/targets/outbound.ts';
import { type JiraApprovalStandIn, startJiraApprovals } from '../../../fixtures/jira-approve/jira.ts';
import { MemoryDirectory } from '../../../fixtures/slack/directory.ts';
import { type LocalTable, startDynalite } from '../../../support/dynalite.ts';
import { aFlow, anIdentity, aRequest } from '../../../support/fixtures.ts';
import { RecordingExecutions } from '../../../support/recording-executions.ts';
import { ROLES, TestClock } from '../../../support/services.ts';

const SECRET = 'jira-webhook-secret-for-tests';
const NOW = '2030-01-15T10:00:00.000Z';
const JIRA_SECRET = JSON.stringify({ email: 'stint-bot@example.com', apiToken: 'api-token' });
const AUTHORIZATION = basic('stint-bot@example.com', 'api-token');

let table: LocalTable;
let jira: JiraApprovalStandIn;
let store: Store;
let executions: RecordingExecutions;
let directory: MemoryDirectory;
let clock: TestClock;
let deps: JiraWebhookDeps;
let target: TargetConfig;

const jiraFlow = (overrides: Partial<AccessFlow> = {}) =>
  aFlow({
    id: 'db-jira',
    jiraApproval: { target: 'tickets', approveStatuses: ['Approved'], rejectStatuses: ['Rejected'] },
    ...overrides,
  });

beforeEach(async () => {
  table = await startDynalite();
  jira = await startJiraApprovals({ authorization: AUTHORIZATION });
  clock = new TestClock(NOW);
  store = new Store(table.doc, table.tableName, { now: clock.now });
  executions = new RecordingExecutions();
  directory = new MemoryDirectory()
    .addUser({
      id: 'requester-1',
      email: 'requester-1@example.com',
      accounts: [{ kind: 'jira', accountId: 'acc-req' }],
    })
    .addUser({ id: 'approver-1', email: 'approver-1@example.com', accounts: [{ kind: 'jira', accountId: 'acc-app' }] })
    .addUser({ id: 'dba-1', email: 'dba-1@example.com' })
    .addUser({ id: 'mallory', email: 'mallory@example.com', accounts: [{ kind: 'jira', accountId: 'acc-mal' }] })
    .addGroup('dba', ['dba-1']);
  target = TargetConfig.parse({
    name: 'tickets',
    kind: 'jira',
    endpoint: jira.url,
    secretRef: 'env:JIRA_SECRET',
    allowPrivateNetwork: true,
    options: { projectKey: 'OPS' },
  });
  const http = createOutbound({ local: true, allowPrivateNetwork: true });
  deps = {
    webhookSecret: async () => SECRET,
    guard: new JiraState(table.doc, table.tableName),
    targets: [target],
    jira: async (t) => new JiraApi({ baseUrl: t.endpoint, secret: JIRA_SECRET, http }),
    directory,
    requests: new RequestService({ store, executions, roles: ROLES, now: clock.now }),
    store,
    now: clock.now,
  };
});

afterEach(async () => {
  await jira.close();
  await table.stop();
});

let issues = 0;
/** A pending request whose Jira ticket (labelled like the jira delivery kind labels it) is stored on the request. */
async function pendingWithTicket(flow: AccessFlow = jiraFlow()): Promise<{ request: AccessRequest; key: string }> {
  const request = aRequest({
    flow,
    approvalToken: 'approval-token',
    requester: anIdentity({ sub: 'requester-1' }),
  });
  issues += 1;
  const key = `OPS-${issues}`;
  await store.createRequest({ ...request, tickets: { tickets: key } });
  jira.addIssue(key, ['stint', requestLabel(request.id)]);
  executions.live('approval-token');
  return { request, key };
}

let deliveries = 0;
function webhook(key: string, claims: Record<string, unknown> = {}, at = Date.parse(NOW)): string {
  deliveries += 1;
  return JSON.stringify({
    timestamp: at,
    webhookEvent: 'jira:issue_updated',
    issue_event_type_name: 'issue_generic',
    issue: { id: jira.issues.get(key)?.id ?? '1', key, fields: { status: { name: 'Approved' } } },
    changelog: { id: String(deliveries), items: [{ field: 'status', toString: 'Approved' }] },
    ...claims,
  });
}

function signed(rawBody: string, extra: Record<string, string> = {}) {
  return {
    rawBody,
    headers: {
      'x-hub-signature': signJiraWebhook(SECRET, rawBody),
      'x-atlassian-webhook-identifier': `delivery-${deliveries}`,
      ...extra,
    },
  };
}

const bodyOf = (response: { body: string }) => JSON.parse(response.body) as unknown;

async function current(id: string) {
  const request = await store.getRequest(id);
  if (request === undefined) throw new Error(`request ${id} vanished`);
  return request;
}

describe('refused webhooks record no vote', () => {
  it('refuses a forged signature with 401', async () => {
    const { request, key } = await pendingWithTicket();
    jira.transition(key, 'Approved', 'acc-app');
    const body = webhook(key);
    const response = await handleJiraWebhook(deps, {
      rawBody: body,
      headers: { 'x-hub-signature': signJiraWebhook('guessed-secret', body) },
    });
    expect(response.status).toBe(401);
    expect(bodyOf(response)).toEqual({ error: 'bad-signature' });
    expect((await current(request.id)).votes).toEqual([]);
    expect(jira.exchanges).toEqual([]);
  });

  it('refuses a missing signature with 401', async () => {
    const { request, key } = await pendingWithTicket();
    jira.transition(key, 'Approved', 'acc-app');
    const response = await handleJiraWebhook(deps, { rawBody: webhook(key), headers: {} });
    expect(response.status).toBe(401);
    expect(bodyOf(response)).toEqual({ error: 'missing-signature' });
    expect((await current(request.id)).votes).toEqual([]);
  });

  it('refuses a body changed after signing', async () => {
    const { request, key } = await pendingWithTicket();
    jira.transition(key, 'Approved', 'acc-app');
    const original = signed(webhook('OPS-999'));
    const response = await handleJiraWebhook(deps, { ...original, rawBody: webhook(key) });
    expect(response.status).toBe(401);
    expect((await current(request.id)).votes).toEqual([]);
  });

  it('refuses a replay of a valid webhook and does nothing more', async () => {
    const quorum = jiraFlow({
      approval: {
        mode: 'manual',
        sets: [{ users: ['approver-1'], groups: ['dba'] }],
        rule: { type: 'quorum', count: 2 },
        timeoutMinutes: 60,
        reasonRequired: false,
      },
    });
    const { request, key } = await pendingWithTicket(quorum);
    jira.transition(key, 'Approved', 'acc-app');
    const delivery = signed(webhook(key));
    const first = await handleJiraWebhook(deps, delivery);
    const exchanges = jira.exchanges.length;
    const replay = await handleJiraWebhook(deps, delivery);
    expect(bodyOf(first)).toEqual({ outcome: 'recorded' });
    expect(replay.status).toBe(401);
    expect(bodyOf(replay)).toEqual({ error: 'replayed' });
    expect(jira.exchanges).toHaveLength(exchanges);
    expect((await current(request.id)).votes.map((v) => v.by)).toEqual(['approver-1']);
  });

  it('handles Jira’s retry of a delivery whose first attempt failed', async () => {
    const { request, key } = await pendingWithTicket();
    jira.transition(key, 'Approved', 'acc-app');
    const delivery = signed(webhook(key));
    jira.failNext(`GET /rest/api/3/issue/${key}`, { status: 503, body: { errorMessages: ['busy'] } });
    await expect(handleJiraWebhook(deps, delivery)).rejects.toThrow('HTTP 503');
    expect((await current(request.id)).votes).toEqual([]);
    const retry = await handleJiraWebhook(deps, delivery);
    expect(bodyOf(retry)).toEqual({ outcome: 'approved' });
  });

  it('refuses a correctly signed body stamped more than an hour ago', async () => {
    const { request, key } = await pendingWithTicket();
    jira.transition(key, 'Approved', 'acc-app');
    const response = await handleJiraWebhook(deps, signed(webhook(key, {}, Date.parse(NOW) - 61 * 60_000)));
    expect(response.status).toBe(401);
    expect(bodyOf(response)).toEqual({ error: 'stale-timestamp' });
    expect((await current(request.id)).votes).toEqual([]);
  });
});

describe('the issue is re-read instead of trusting the payload', () => {
  it('makes no decision when the payload claims Approved but the issue is not', async () => {
    const { request, key } = await pendingWithTicket();
    jira.transition(key, 'In Review', 'acc-app');
    const response = await handleJiraWebhook(deps, signed(webhook(key)));
    expect(response.status).toBe(200);
    expect(bodyOf(response)).toEqual({ outcome: 'ignored', reason: 'status "In Review" decides nothing' });
    const after = await current(request.id);
    expect(after.status).toBe('PENDING');
    expect(after.votes).toEqual([]);
    expect(executions.resumes).toEqual([]);
  });

  it('makes no decision when the newest status change does not lead to the current status', async () => {
    const { request, key } = await pendingWithTicket();
    const issue = jira.issues.get(key);
    if (issue === undefined) throw new Error('no issue');
    issue.status = 'Approved'; // set without a changelog entry (e.g. an import)
    const response = await handleJiraWebhook(deps, signed(webhook(key)));
    expect(bodyOf(response)).toEqual({
      outcome: 'ignored',
      reason: 'the newest status change does not lead to the current status',
    });
    expect((await current(request.id)).votes).toEqual([]);
  });

  it('ignores an issue that is not the ticket stored on the request', async () => {
    const { request } = await pendingWithTicket();
    jira.addIssue('OPS-500', ['stint', requestLabel(request.id)]);
    jira.transition('OPS-500', 'Approved', 'acc-app');
    const response = await handleJiraWebhook(deps, signed(webhook('OPS-500')));
    expect(bodyOf(response)).toEqual({ outcome: 'ignored', reason: 'not the ticket of a Stint request' });
    expect((await current(request.id)).votes).toEqual([]);
  });

  it('ignores a request whose flow does not approve through Jira', async () => {
    const { request, key } = await pendingWithTicket(aFlow());
    jira.transition(key, 'Approved', 'acc-app');
    const response = await handleJiraWebhook(deps, signed(webhook(key)));
    expect(bodyOf(response)).toEqual({
      outcome: 'ignored',
      reason: 'the flow does not approve through this Jira target',
    });
    expect((await current(request.id)).votes).toEqual([]);
  });
});

describe('votes by transition', () => {
  it('records the approval of the person who made the transition and approves the request', async () => {
    const { request, key } = await pendingWithTicket();
    jira.edit(key, 'acc-mal'); // a later edit by someone else is not a transition
    jira.transition(key, 'Approved', 'acc-app');
    jira.edit(key, 'acc-mal');
    const response = await handleJiraWebhook(deps, signed(webhook(key)));
    expect(response.status).toBe(200);
    expect(bodyOf(response)).toEqual({ outcome: 'approved' });
    const after = await current(request.id);
    expect(after.status).toBe('APPROVED');
    expect(after.votes.map((v) => [v.by, v.vote, v.channel, v.reason])).toEqual([
      ['approver-1', 'approve', 'jira', 'Jira transition to Approved'],
    ]);
    expect(executions.resumes).toEqual([{ token: 'approval-token', live: true }]);
    expect(jira.issues.get(key)?.comments).toEqual([]);
  });

  it('reads the newest transition from the last changelog page', async () => {
    const { request, key } = await pendingWithTicket();
    for (let i = 0; i < 120; i++) jira.edit(key, 'acc-mal');
    jira.transition(key, 'Approved', 'acc-app');
    const response = await handleJiraWebhook(deps, signed(webhook(key)));
    expect(bodyOf(response)).toEqual({ outcome: 'approved' });
    expect((await current(request.id)).votes.map((v) => v.by)).toEqual(['approver-1']);
    const pages = jira.exchanges.filter((e) => e.path.endsWith('/changelog')).map((e) => e.query.get('startAt'));
    expect(pages).toEqual(['0', '21']);
  });

  it('rejects the request on a transition to a reject status', async () => {
    const { request, key } = await pendingWithTicket();
    jira.transition(key, 'Rejected', 'acc-app');
    const response = await handleJiraWebhook(deps, signed(webhook(key)));
    expect(bodyOf(response)).toEqual({ outcome: 'rejected' });
    expect((await current(request.id)).status).toBe('REJECTED');
    expect(executions.fails.map((f) => f.token)).toEqual(['approval-token']);
  });

  it('maps an unlinked account through its visible Jira email and links it', async () => {
    const { request, key } = await pendingWithTicket();
    jira.users.set('acc-dba', 'dba-1@example.com');
    jira.transition(key, 'Approved', 'acc-dba');
    const response = await handleJiraWebhook(deps, signed(webhook(key)));
    expect(bodyOf(response)).toEqual({ outcome: 'approved' });
    expect((await current(request.id)).votes.map((v) => v.by)).toEqual(['dba-1']);
    expect(directory.links).toEqual([{ userId: 'dba-1', account: { kind: 'jira', accountId: 'acc-dba' } }]);
  });

  it('refuses the requester transitioning their own ticket, and says why on the issue', async () => {
    const { request, key } = await pendingWithTicket();
    jira.transition(key, 'Approved', 'acc-req');
    const response = await handleJiraWebhook(deps, signed(webhook(key)));
    expect(bodyOf(response)).toEqual({ outcome: 'refused', reason: 'NotApproverError' });
    const after = await current(request.id);
    expect(after.status).toBe('PENDING');
    expect(after.votes).toEqual([]);
    expect(jira.issues.get(key)?.comments.join('\n')).toContain('requesters cannot approve their own request');
  });

  it('refuses a non-approver, and says why on the issue', async () => {
    const { request, key } = await pendingWithTicket();
    jira.transition(key, 'Approved', 'acc-mal');
    const response = await handleJiraWebhook(deps, signed(webhook(key)));
    // The API hides the request from a non-approver (NotFoundError); the issue shows it anyway, so the comment says why.
    expect(bodyOf(response)).toMatchObject({ outcome: 'refused' });
    expect((await current(request.id)).votes).toEqual([]);
    expect(jira.issues.get(key)?.comments).toHaveLength(1);
    expect(jira.issues.get(key)?.comments.join('\n')).toContain('you are not an approver of this request');
  });

  it('records no vote for an account unknown to Stint and says so on the issue', async () => {
    const { request, key } = await pendingWithTicket();
    jira.users.set('acc-stranger', undefined); // email hidden by profile visibility
    jira.transition(key, 'Approved', 'acc-stranger');
    const response = await handleJiraWebhook(deps, signed(webhook(key)));
    expect(bodyOf(response)).toEqual({ outcome: 'refused', reason: 'unknown account' });
    expect((await current(request.id)).votes).toEqual([]);
    expect(jira.issues.get(key)?.comments.join('\n')).toContain(NOT_KNOWN);
  });

  it('records no vote for an account whose visible email matches no Stint user', async () => {
    const { request, key } = await pendingWithTicket();
    jira.users.set('acc-x', 'stranger@example.com');
    jira.transition(key, 'Approved', 'acc-x');
    const response = await handleJiraWebhook(deps, signed(webhook(key)));
    expect(bodyOf(response)).toEqual({ outcome: 'refused', reason: 'unknown account' });
    expect((await current(request.id)).votes).toEqual([]);
    expect(directory.links).toEqual([]);
  });

  it('ignores transitions once the request is decided', async () => {
    const { request, key } = await pendingWithTicket();
    jira.transition(key, 'Approved', 'acc-app');
    await handleJiraWebhook(deps, signed(webhook(key)));
    jira.transition(key, 'Rejected', 'acc-app');
    const response = await handleJiraWebhook(deps, signed(webhook(key)));
    expect(bodyOf(response)).toEqual({ outcome: 'ignored', reason: 'the request is APPROVED' });
    expect((await current(request.id)).status).toBe('APPROVED');
  });
});

describe('the unsigned ?target= parameter', () => {
  /** A second Jira site, configured as target `other`, holding an issue with the same key, label and transition. */
  async function withSecondJira(key: string, requestId: string): Promise<JiraApprovalStandIn> {
    const second = await startJiraApprovals({ authorization: AUTHORIZATION });
    deps.targets = [target, TargetConfig.parse({ ...target, name: 'other', endpoint: second.url })];
    second.addIssue(key, ['stint', requestLabel(requestId)]);
    second.transition(key, 'Approved', 'acc-app');
    return second;
  }

  it('refuses a signed delivery replayed with another ?target= (the replay guard keys on the body)', async () => {
    const { request, key } = await pendingWithTicket();
    const second = await withSecondJira(key, request.id);
    try {
      const delivery = signed(webhook(key));
      const first = await handleJiraWebhook(deps, { ...delivery, query: { target: 'tickets' } });
      const replay = await handleJiraWebhook(deps, { ...delivery, query: { target: 'other' } });

      expect(bodyOf(first)).toEqual({ outcome: 'ignored', reason: 'status "Waiting for approval" decides nothing' });
      expect(replay.status).toBe(401);
      expect(bodyOf(replay)).toEqual({ error: 'replayed' });
      expect(second.exchanges).toEqual([]);
      expect((await current(request.id)).votes).toEqual([]);
    } finally {
      await second.close();
    }
  });

  it('records no vote from a Jira the request’s ticket and flow do not name, whatever that Jira shows', async () => {
    const { request, key } = await pendingWithTicket();
    const second = await withSecondJira(key, request.id);
    try {
      const notTheTicket = await handleJiraWebhook(deps, { ...signed(webhook(key)), query: { target: 'other' } });
      // Even a request ticketed on both sites only takes votes from the one its flow names.
      await store.updateRequest(request.id, (r) => ({ ...r, tickets: { ...r.tickets, other: key } }));
      const notTheFlow = await handleJiraWebhook(deps, { ...signed(webhook(key)), query: { target: 'other' } });

      expect(bodyOf(notTheTicket)).toEqual({ outcome: 'ignored', reason: 'not the ticket of a Stint request' });
      expect(bodyOf(notTheFlow)).toEqual({
        outcome: 'ignored',
        reason: 'the flow does not approve through this Jira target',
      });
      expect((await current(request.id)).votes).toEqual([]);
      expect((await current(request.id)).status).toBe('PENDING');
    } finally {
      await second.close();
    }
  });
});

import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { signJiraWebhook } from '#lib/channels/jira/verify.ts';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { basic } from '#lib/targets/itsm.ts';
import { adfText, type JiraStandIn, startJira } from '../fixtures/itsm/jira.ts';
import { type JiraApprovalStandIn, startJiraApprovals } from '../fixtures/jira-approve/jira.ts';
import { call, until } from '../support/http.ts';

/**
 * Approval by a Jira transition end to end on the local runtime: the `jira` delivery target creates the request's
 * ticket on a Jira stand-in, the approver (a SCIM-provisioned user, found by the email Jira shows for the account)
 * moves it to "Approved", Jira's signed webhook reaches `/webhooks/jira`, Stint re-reads the issue and its changelog,
 * records the vote (channel `jira`) and grants; the one-minute grant then expires on its own, and the ticket says so
 * (the target comments every later event, and is configured to close the issue on `grant.expired`).
 *
 * One Jira at one URL: a small router in front of the delivery stand-in (create, search, comments, transitions) and
 * the approvals stand-in (get issue with labels, changelog, user); an issue created on the first is mirrored on the
 * second with its labels.
 */
const WEBHOOK_SECRET = 'e2e-jira-webhook-secret';
const JIRA_SECRET = { email: 'stint-bot@example.com', apiToken: 'e2e-jira-api-token' };
const AUTHORIZATION = basic(JIRA_SECRET.email, JIRA_SECRET.apiToken);
const ALICE = { sub: 'alice-jira', email: 'alice.jira@example.com', accountId: '5b10ac8d82e05b22cc7d4a11' };
const BOB = { sub: 'bob-jira', email: 'bob.jira@example.com', accountId: '5b10ac8d82e05b22cc7d4b22' };

let stint: Stint;
let delivery: JiraStandIn;
let approvals: JiraApprovalStandIn;
let router: Server;
let routerUrl = '';

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

const Created = z.object({ key: z.string() });
const CreateLabels = z.object({ fields: z.object({ labels: z.array(z.string()).default([]) }) });

/** Which stand-in answers: the approval reads go to the approvals stand-in, everything else to the delivery one. */
function approvalRead(method: string, path: string): boolean {
  if (method !== 'GET') return false;
  return path === '/rest/api/3/user' || /^\/rest\/api\/3\/issue\/[^/]+(\/changelog)?$/.test(path);
}

async function startRouter(): Promise<void> {
  router = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://router');
      const method = req.method ?? 'GET';
      const body = await readBody(req);
      const to = approvalRead(method, url.pathname) ? approvals.url : delivery.url;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host') headers[k] = v;
      const answer = await fetch(`${to}${url.pathname}${url.search}`, {
        method,
        headers,
        ...(body === '' ? {} : { body }),
      });
      const text = await answer.text();
      if (method === 'POST' && url.pathname === '/rest/api/3/issue' && answer.status === 201) {
        const labels = CreateLabels.parse(JSON.parse(body)).fields.labels;
        approvals.addIssue(Created.parse(JSON.parse(text)).key, labels, 'To Do');
      }
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
      res.end(text);
    })();
  });
  await new Promise<void>((resolve) => router.listen(0, '127.0.0.1', resolve));
  const address = router.address();
  if (address === null || typeof address === 'string') throw new Error('router did not bind a TCP port');
  routerUrl = `http://127.0.0.1:${address.port}`;
}

beforeAll(async () => {
  delivery = await startJira({ authorization: AUTHORIZATION });
  approvals = await startJiraApprovals({ authorization: AUTHORIZATION });
  approvals.users.set(ALICE.accountId, ALICE.email);
  approvals.users.set(BOB.accountId, BOB.email);
  await startRouter();
  const dir = await clusterParentDir('stint-e2e-jira-approval');
  stint = await startStint({
    pgDataDir: join(dir, 'pg'),
    pgPort: await freePort(),
    port: await freePort(),
    env: { E2E_JIRA_WEBHOOK: WEBHOOK_SECRET, E2E_JIRA_SECRET: JSON.stringify(JIRA_SECRET) },
    config: {
      targets: [
        {
          name: 'jira-ops',
          kind: 'jira',
          endpoint: routerUrl,
          secretRef: 'env:E2E_JIRA_SECRET',
          allowPrivateNetwork: true,
          options: { projectKey: 'OPS', issueType: 'Task', transitions: { 'grant.expired': 'Done' } },
        },
      ],
      jiraApprovals: { webhookSecretRef: 'env:E2E_JIRA_WEBHOOK' },
    },
  });
}, 180_000);

afterAll(async () => {
  await stint?.stop();
  router?.closeAllConnections();
  router?.close();
  await delivery?.close();
  await approvals?.close();
});

async function scim(method: string, path: string, body: unknown) {
  return call(stint.url, method, `/scim/v2${path}`, {
    body,
    headers: { authorization: `Bearer ${stint.scimToken}`, 'content-type': 'application/scim+json' },
  });
}

/** What Jira sends for `jira:issue_updated`, signed with the webhook's secret (X-Hub-Signature). */
function signedWebhook(issue: { id: string; key: string }, claims: Record<string, unknown> = {}) {
  const raw = JSON.stringify({ timestamp: Date.now(), webhookEvent: 'jira:issue_updated', issue, ...claims });
  return {
    raw,
    headers: { 'content-type': 'application/json', 'x-hub-signature': signJiraWebhook(WEBHOOK_SECRET, raw) },
  };
}

const RequestView = z.object({
  status: z.string(),
  tickets: z.record(z.string(), z.string()).default({}),
  votes: z.array(z.object({ by: z.string(), vote: z.string(), channel: z.string() })).default([]),
});

describe('Jira approval through the local runtime', () => {
  it('creates the ticket, takes the approver’s transition from a signed webhook, re-reads Jira, grants, and closes the ticket at expiry', async () => {
    for (const person of [ALICE, BOB]) {
      const created = await scim('POST', '/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: person.email,
        externalId: person.sub,
        emails: [{ value: person.email, primary: true, type: 'work' }],
        active: true,
      });
      expect(created.status).toBe(201);
    }
    const group = await scim('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'dba',
      members: [{ value: BOB.sub }],
    });
    expect(group.status).toBe(201);

    // An admin adds a flow approved in Jira: demo-admin's policy (any member of dba), decided by the ticket.
    const admin = await stint.token({ sub: 'admin-jira', email: 'admin.jira@example.com', groups: ['stint-admins'] });
    const demo = await call(stint.url, 'GET', '/flows/demo-admin', { token: admin });
    expect(demo.status).toBe(200);
    const { id: _id, version: _v, lastChange: _l, ...flow } = z.record(z.string(), z.unknown()).parse(demo.json);
    const put = await call(stint.url, 'PUT', '/flows/jira-admin', {
      token: admin,
      body: {
        ...flow,
        name: 'Admin, approved in Jira',
        jiraApproval: { target: 'jira-ops', approveStatuses: ['Approved'], rejectStatuses: ['Rejected'] },
      },
    });
    expect(put.status, put.text).toBe(200);

    const token = await stint.token({ sub: ALICE.sub, email: ALICE.email, groups: [] });
    const created = await call(stint.url, 'POST', '/requests', {
      token,
      body: { flowId: 'jira-admin', durationMinutes: 1, justification: 'fix order 43' },
    });
    expect(created.status, created.text).toBe(201);
    const { id } = z.object({ id: z.string() }).parse(created.json);

    // The delivery target opens the ticket and Stint stores its key on the request.
    const pending = await until(
      async () => RequestView.parse((await call(stint.url, 'GET', `/requests/${id}`, { token })).json),
      (r) => r.tickets['jira-ops'] !== undefined,
    );
    expect(pending.status).toBe('PENDING');
    const key = pending.tickets['jira-ops'] ?? '';
    const issue = approvals.issues.get(key);
    expect(issue?.labels).toContain(`stint-${id}`);
    expect(delivery.issues.get(key)?.fields.summary).toContain(id);
    const ref = { id: issue?.id ?? '', key };

    // A webhook claiming a decision that Jira does not show (nobody moved the issue) decides nothing.
    const forgedClaim = signedWebhook(ref, { changelog: { items: [{ field: 'status', toString: 'Approved' }] } });
    const ignored = await call(stint.url, 'POST', '/webhooks/jira', forgedClaim);
    expect(ignored.status).toBe(200);
    expect(ignored.json).toEqual({ outcome: 'ignored', reason: 'status "To Do" decides nothing' });

    // Bob moves the issue to Approved; Jira signs and sends issue_updated.
    approvals.transition(key, 'Approved', BOB.accountId);
    const webhook = signedWebhook(ref);
    const answer = await call(stint.url, 'POST', '/webhooks/jira', webhook);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json).toEqual({ outcome: 'approved' });

    // The same delivery again is a replay, and a wrong signature is refused.
    expect((await call(stint.url, 'POST', '/webhooks/jira', webhook)).status).toBe(401);
    const forged = await call(stint.url, 'POST', '/webhooks/jira', {
      raw: webhook.raw,
      headers: {
        'content-type': 'application/json',
        'x-hub-signature': signJiraWebhook('not-the-secret', webhook.raw),
      },
    });
    expect(forged.status).toBe(401);

    const active = await until(
      async () => RequestView.parse((await call(stint.url, 'GET', `/requests/${id}`, { token })).json),
      (r) => r.status === 'ACTIVE',
    );
    expect(active.votes).toEqual([expect.objectContaining({ by: BOB.sub, vote: 'approve', channel: 'jira' })]);
    // The Atlassian account was found by its visible email (and linked): no refusal comment on the ticket.
    const comments = (delivery.issues.get(key)?.comments ?? []).map((c) => JSON.stringify(c.body));
    expect(comments.filter((c) => c.includes('did not record'))).toEqual([]);
    expect(
      approvals.exchanges.some((e) => e.path === '/rest/api/3/user' && e.query.get('accountId') === BOB.accountId),
    ).toBe(true);

    // Nobody revokes: the grant ends when its minute is up, and the ticket shows it.
    const ended = await until(
      async () => RequestView.parse((await call(stint.url, 'GET', `/requests/${id}`, { token })).json),
      (r) => !['ACTIVE', 'REVOKING'].includes(r.status),
      180_000,
    );
    expect(ended.status).toBe('EXPIRED');
    const closed = await until(
      async () => delivery.issues.get(key),
      (i) => i?.status === 'Done',
    );
    expect(closed?.transitions).toEqual(['Done']);
    const texts = (closed?.comments ?? []).map((c) => adfText(c.body));
    expect(texts.some((t) => t.startsWith('Access granted') && t.includes('Access until: '))).toBe(true);
    const expired = texts.filter((t) => t.startsWith('Access expired'));
    expect(expired).toHaveLength(1);
    expect(expired[0]).toContain('Status: REVOKING → EXPIRED');
  }, 300_000);
});

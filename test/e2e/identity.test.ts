import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { FlowInput } from '#lib/domain/flow.ts';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { DEMO, demoFlows } from '#lib/local/seed.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { call } from '../support/http.ts';

/**
 * Who the caller is, end to end through the local runtime over HTTP. The local API gateway flattens array claims
 * as API Gateway does (`groups: ["not dba"]` reaches the function as the string "[not dba]"), so these only pass
 * when the functions read groups from the verified token and the directory, never from that string.
 */
let stint: Stint;
let admin: string;

/** An approver group whose name has a space, a comma, quotes, brackets and a non-ASCII letter. */
const ODD_GROUP = 'Platform Team, "EU" [ops] Zürich';

const RequestJson = z.object({ id: z.string(), status: z.string() });
const Page = z.object({ items: z.array(z.object({ id: z.string() })) });
const Me = z.object({ sub: z.string(), groups: z.array(z.string()), admin: z.boolean() });

beforeAll(async () => {
  const dir = await clusterParentDir('stint-e2e-identity');
  stint = await startStint({ pgDataDir: join(dir, 'pg'), pgPort: await freePort(), port: await freePort() });
  admin = await stint.token({ sub: 'id-root', email: 'id-root@example.com', groups: [DEMO.adminGroup] });
  const base = demoFlows['demo-admin'];
  if (base === undefined || base.approval.mode !== 'manual') throw new Error('the demo-admin flow changed');
  const oddFlow: FlowInput = {
    ...base,
    name: 'Approved by a group with an awkward name',
    approval: { ...base.approval, sets: [{ name: 'Odd', users: [], groups: [ODD_GROUP] }] },
  };
  const put = await call(stint.url, 'PUT', '/flows/identity-odd', { token: admin, body: oddFlow });
  if (put.status !== 200) throw new Error(`could not put the flow: ${put.status} ${put.text}`);
}, 180_000);

afterAll(async () => {
  await stint?.stop();
});

async function pendingRequest(flowId: string, requester: string): Promise<string> {
  const token = await stint.token({ sub: requester, email: `${requester}@example.com`, groups: [] });
  const created = await call(stint.url, 'POST', '/requests', {
    token,
    body: { flowId, durationMinutes: 15, justification: 'identity test' },
  });
  expect(created.status, created.text).toBe(201);
  const request = RequestJson.parse(created.json);
  expect(request.status).toBe('PENDING');
  return request.id;
}

async function statusOf(id: string): Promise<string> {
  const res = await call(stint.url, 'GET', `/requests/${id}`, { token: admin });
  return RequestJson.parse(res.json).status;
}

async function approvals(token: string): Promise<string[]> {
  const res = await call(stint.url, 'GET', '/requests?scope=approvals', { token });
  expect(res.status, res.text).toBe(200);
  return Page.parse(res.json).items.map((r) => r.id);
}

describe('identity on the local runtime (groups from the verified token and the directory)', () => {
  it('does not let a member of "not dba" approve a request that needs dba', async () => {
    const id = await pendingRequest('demo-admin', 'id-alice');
    const notDba = await stint.token({ sub: 'id-mallory', email: 'id-mallory@example.com', groups: ['not dba'] });

    const vote = await call(stint.url, 'POST', `/requests/${id}/approve`, { token: notDba, body: {} });

    expect([403, 404]).toContain(vote.status);
    expect(vote.contentType).toContain('application/problem+json');
    expect(await approvals(notDba)).not.toContain(id);
    expect(await statusOf(id)).toBe('PENDING');
  });

  it.each([['team stint-admins'], ['x,stint-admins'], ['[stint-admins]']])(
    'does not make a member of %j an admin',
    async (group) => {
      const token = await stint.token({ sub: 'id-eve', email: 'id-eve@example.com', groups: [group] });

      const me = await call(stint.url, 'GET', '/me', { token });

      expect(me.status, me.text).toBe(200);
      expect(Me.parse(me.json)).toMatchObject({ sub: 'id-eve', groups: [group], admin: false });
    },
  );

  it('lets a member of an approver group whose name has spaces, commas, quotes and brackets approve', async () => {
    const id = await pendingRequest('identity-odd', 'id-bob');
    const approver = await stint.token({ sub: 'id-olga', email: 'id-olga@example.com', groups: [ODD_GROUP] });
    const lookalike = await stint.token({
      sub: 'id-pat',
      email: 'id-pat@example.com',
      groups: ['Platform', 'Team,', '"EU"', '[ops]', 'Zürich'],
    });

    expect(await approvals(lookalike)).not.toContain(id);
    expect(await approvals(approver)).toContain(id);
    const vote = await call(stint.url, 'POST', `/requests/${id}/approve`, { token: approver, body: {} });

    expect(vote.status, vote.text).toBe(200);
    expect(RequestJson.parse(vote.json).status).not.toBe('PENDING');
  });

  it('lets a member of a directory-only approver group see the request and approve it through the API', async () => {
    const person = { userName: 'id-dora@example.com', emails: ['id-dora@example.com'] };
    expect((await call(stint.url, 'PUT', '/directory/users/id-dora', { token: admin, body: person })).status).toBe(200);
    const group = await call(stint.url, 'PUT', '/directory/groups/id-dba', {
      token: admin,
      body: { displayName: DEMO.approverGroup, members: ['id-dora'] },
    });
    expect(group.status, group.text).toBe(200);
    const id = await pendingRequest('demo-admin', 'id-carl');
    const dora = await stint.token({ sub: 'id-dora', email: 'id-dora@example.com', groups: [] });

    const me = Me.parse((await call(stint.url, 'GET', '/me', { token: dora })).json);
    expect(me.groups).toEqual([DEMO.approverGroup]);
    expect(await approvals(dora)).toContain(id);
    const vote = await call(stint.url, 'POST', `/requests/${id}/approve`, { token: dora, body: {} });

    expect(vote.status, vote.text).toBe(200);
    expect(RequestJson.parse(vote.json).status).not.toBe('PENDING');
  });

  it('refuses a person the directory has deactivated, on every route', async () => {
    const person = { userName: 'id-gone@example.com', emails: ['id-gone@example.com'], active: false };
    const put = await call(stint.url, 'PUT', '/directory/users/id-gone', { token: admin, body: person });
    expect(put.status, put.text).toBe(200);
    const gone = await stint.token({ sub: 'id-gone', email: 'id-gone@example.com', groups: [DEMO.approverGroup] });

    const me = await call(stint.url, 'GET', '/me', { token: gone });
    const list = await call(stint.url, 'GET', '/requests?scope=approvals', { token: gone });

    expect(me.status).toBe(403);
    expect(me.contentType).toContain('application/problem+json');
    expect(list.status).toBe(403);
  });
});

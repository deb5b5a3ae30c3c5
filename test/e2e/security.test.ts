import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { FlowInput } from '#lib/domain/flow.ts';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { DEMO, demoFlows } from '#lib/local/seed.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { call, until } from '../support/http.ts';

/**
 * What the security review tried, end to end through the local runtime over HTTP, on one runtime. The local API
 * gateway hands handlers the claims flattened exactly as API Gateway does (`groups: ["not dba"]` reaches the function
 * as the string "[not dba]"), so the identity cases only pass when the functions read groups from the verified token
 * and the directory, never from that string.
 * - identity: group names that once escalated, directory-only approver groups, deactivated people;
 * - malformed Unicode: a lone UTF-16 surrogate (the JSON escape `\ud800`, valid JSON text) is refused with 400
 *   naming the field (problem+json; SCIM: scim+json), and a token whose `sub` holds one creates no request;
 * - existence: a request a caller may not see answers every route as a missing id does;
 * - an access token without `email`: the email comes from the local issuer's UserInfo endpoint;
 * - two admins editing one flow: the stale If-Match write is refused (412), the first change kept.
 */
let stint: Stint;
let admin: string;
const people = {
  alice: { sub: 'alice', email: 'alice@example.com', groups: [] as string[] },
  bob: { sub: 'bob', email: 'bob@example.com', groups: ['sales'] },
};
type Person = keyof typeof people;
const tokens = {} as Record<Person, string>;

/** An approver group whose name has a space, a comma, quotes, brackets and a non-ASCII letter. */
const ODD_GROUP = 'Platform Team, "EU" [ops] Zürich';

const RequestJson = z.object({ id: z.string(), status: z.string() });
const Page = z.object({ items: z.array(z.object({ id: z.string() })) });
const Me = z.object({ sub: z.string(), groups: z.array(z.string()), admin: z.boolean() });

beforeAll(async () => {
  const dir = await clusterParentDir('stint-e2e-security');
  stint = await startStint({ pgDataDir: join(dir, 'pg'), pgPort: await freePort(), port: 0, scheduleEveryMs: 1000 });
  admin = await stint.token({ sub: 'sec-root', email: 'sec-root@example.com', groups: [DEMO.adminGroup] });
  for (const name of Object.keys(people) as Person[]) tokens[name] = await stint.token(people[name]);
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

async function allRequestIds(): Promise<string[]> {
  const res = await call(stint.url, 'GET', '/requests?scope=all&limit=100', { token: admin });
  expect(res.status, res.text).toBe(200);
  return Page.parse(res.json).items.map((r) => r.id);
}

const Problem = z.looseObject({ status: z.number(), type: z.string(), title: z.string(), detail: z.string() });

/** A refusal as a caller sees it, without what differs per call (correlation id, instance path, the id itself). */
function shown(reply: Awaited<ReturnType<typeof call>>, id: string) {
  const { correlationId: _c, instance: _i, ...rest } = Problem.parse(reply.json);
  return {
    ...rest,
    httpStatus: reply.status,
    contentType: reply.contentType,
    detail: rest.detail.replaceAll(id, '<id>'),
  };
}

async function createAs(who: Person, body: Record<string, unknown>): Promise<string> {
  const res = await call(stint.url, 'POST', '/requests', { token: tokens[who], body });
  expect(res.status, res.text).toBe(201);
  return RequestJson.parse(res.json).id;
}

const routes: [string, string, unknown][] = [
  ['GET', '', undefined],
  ['GET', '/access', undefined],
  ['POST', '/approve', {}],
  ['POST', '/reject', { reason: 'no' }],
  ['POST', '/cancel', {}],
  ['POST', '/revoke', {}],
  ['POST', '/extend', { minutes: 5 }],
];

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

describe('an access token without email on the local runtime', () => {
  it('resolves the email from the issuer’s UserInfo endpoint and lets the caller request access', async () => {
    const token = await stint.token({ sub: 'ui-una', email: 'ui-una@example.com', groups: [], use: 'access' });

    const me = await call(stint.url, 'GET', '/me', { token });
    const created = await call(stint.url, 'POST', '/requests', {
      token,
      body: { flowId: 'demo-admin', durationMinutes: 15, justification: 'userinfo test' },
    });

    expect(me.status, me.text).toBe(200);
    expect(me.json).toMatchObject({ sub: 'ui-una', email: 'ui-una@example.com' });
    expect(created.status, created.text).toBe(201);
    expect(created.json).toMatchObject({ requester: { sub: 'ui-una', email: 'ui-una@example.com' } });
  });

  it('refuses with 401 problem+json a caller whose email neither the token, the directory nor UserInfo knows', async () => {
    const token = await stint.token({ sub: 'ui-nobody', groups: [], use: 'access' });

    const me = await call(stint.url, 'GET', '/me', { token });

    expect(me.status, me.text).toBe(401);
    expect(me.contentType).toContain('application/problem+json');
  });
});

describe('two admins editing the same flow over HTTP', () => {
  it('refuses the second, stale PUT with 412 and keeps the first admin’s change', async () => {
    const other = await stint.token({ sub: 'sec-root-2', email: 'sec-root-2@example.com', groups: [DEMO.adminGroup] });
    const base = demoFlows['demo-admin'];
    if (base === undefined) throw new Error('the demo-admin flow changed');
    const created = await call(stint.url, 'PUT', '/flows/two-admins', {
      token: admin,
      body: { ...base, name: 'Shared' },
      headers: { 'if-none-match': '*' },
    });
    const firstRead = await call(stint.url, 'GET', '/flows/two-admins', { token: admin });
    const secondRead = await call(stint.url, 'GET', '/flows/two-admins', { token: other });

    const first = await call(stint.url, 'PUT', '/flows/two-admins', {
      token: admin,
      body: { ...base, name: 'First admin’s edit' },
      headers: { 'if-match': firstRead.etag ?? '' },
    });
    const second = await call(stint.url, 'PUT', '/flows/two-admins', {
      token: other,
      body: { ...base, name: 'Second admin’s stale edit' },
      headers: { 'if-match': secondRead.etag ?? '' },
    });
    const after = await call(stint.url, 'GET', '/flows/two-admins', { token: other });

    expect(created.status, created.text).toBe(200);
    expect([firstRead.etag, secondRead.etag]).toEqual(['"1"', '"1"']);
    expect(first).toMatchObject({ status: 200, etag: '"2"' });
    expect(second.status, second.text).toBe(412);
    expect(second.contentType).toContain('application/problem+json');
    expect(second.json).toMatchObject({
      field: 'if-match',
      current: { version: 2, lastChange: { by: 'sec-root' } },
      detail: expect.stringContaining('sec-root'),
    });
    expect(after).toMatchObject({ status: 200, etag: '"2"', json: { name: 'First admin’s edit' } });
  });
});

describe('malformed Unicode on the local runtime', () => {
  it('answers PUT /directory/users/{id} with a lone surrogate in userName with 400 problem+json naming it', async () => {
    const res = await call(stint.url, 'PUT', '/directory/users/uni-ann', {
      token: admin,
      raw: '{"userName":"\\ud800","emails":["uni-ann@example.com"]}',
    });
    const read = await call(stint.url, 'GET', '/directory/users/uni-ann', { token: admin });

    expect(res.status, res.text).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.json).toMatchObject({ status: 400, field: 'body.userName' });
    expect(read.status).toBe(404);
  });

  it('answers SCIM POST /scim/v2/Users with a lone surrogate in userName with 400 scim+json', async () => {
    const res = await call(stint.url, 'POST', '/scim/v2/Users', {
      headers: { authorization: `Bearer ${stint.scimToken}`, 'content-type': 'application/scim+json' },
      raw: '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a\\udc00","emails":[{"value":"uni-b@example.com"}]}',
    });
    const found = await call(stint.url, 'GET', '/scim/v2/Users?filter=userName%20eq%20%22uni-b%40example.com%22', {
      headers: { authorization: `Bearer ${stint.scimToken}` },
    });

    expect(res.status, res.text).toBe(400);
    expect(res.contentType).toContain('application/scim+json');
    expect(res.json).toMatchObject({ status: '400', scimType: 'invalidValue' });
    expect(String(z.object({ detail: z.string() }).parse(res.json).detail)).toMatch(/^userName: /);
    expect(found.json).toMatchObject({ totalResults: 0 });
  });

  it('refuses a token whose sub holds a lone surrogate and creates no request', async () => {
    const before = await allRequestIds();
    const token = await stint.token({ sub: 'uni-mallory\ud800', email: 'uni-mallory@example.com' });

    const res = await call(stint.url, 'POST', '/requests', {
      token,
      body: { flowId: 'demo-readonly', durationMinutes: 5, justification: 'look' },
    });

    expect(res.status, res.text).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.json).toMatchObject({ field: 'token.sub' });
    expect(await allRequestIds()).toEqual(before);
  });
});

describe('a request the caller may not see', () => {
  it('answers every route of a PENDING and an ACTIVE request exactly as for an id that does not exist', async () => {
    const pending = await createAs('alice', { flowId: 'demo-admin', durationMinutes: 5, justification: 'fix orders' });
    const active = await createAs('alice', { flowId: 'demo-readonly', durationMinutes: 5, justification: 'look' });
    await until(
      async () =>
        RequestJson.parse((await call(stint.url, 'GET', `/requests/${active}`, { token: tokens.alice })).json),
      (r) => r.status === 'ACTIVE',
      60_000,
    );
    const missing = '01JZZZZZZZZZZZZZZZZZZZZZZZ';

    for (const id of [pending, active]) {
      for (const [method, suffix, body] of routes) {
        const options = { token: tokens.bob, ...(body === undefined ? {} : { body }) };
        const forHidden = await call(stint.url, method, `/requests/${id}${suffix}`, options);
        const forMissing = await call(stint.url, method, `/requests/${missing}${suffix}`, options);
        expect(shown(forHidden, id), `${method} ${suffix}`).toEqual(shown(forMissing, missing));
        expect(forHidden.status).toBe(404);
      }
    }
    const after = await call(stint.url, 'GET', `/requests/${pending}`, { token: tokens.alice });
    expect(RequestJson.parse(after.json).status).toBe('PENDING');
    const stillActive = await call(stint.url, 'GET', `/requests/${active}`, { token: tokens.alice });
    expect(RequestJson.parse(stillActive.json).status).toBe('ACTIVE');
  });
});

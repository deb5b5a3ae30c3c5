import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as deleteGroup } from '#functions/api/delete-directory-group.ts';
import { handler as deleteUser } from '#functions/api/delete-directory-user.ts';
import { handler as getGroup } from '#functions/api/get-directory-group.ts';
import { handler as getUser } from '#functions/api/get-directory-user.ts';
import { handler as listGroups } from '#functions/api/list-directory-groups.ts';
import { handler as listUsers } from '#functions/api/list-directory-users.ts';
import { handler as putGroup } from '#functions/api/put-directory-group.ts';
import { handler as putUser } from '#functions/api/put-directory-user.ts';
import { handler as putAccounts } from '#functions/api/put-directory-user-accounts.ts';
import { DirectoryStore } from '#lib/directory/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { callHandler, type Handler } from '../../support/handler-call.ts';
import { stubHandlerEnv } from '../../support/handler-env.ts';
import { ROLES } from '../../support/services.ts';
import { startTestIssuer, type TestIssuer, type TokenClaims } from '../../support/token.ts';

/**
 * The directory admin routes at handler level: API Gateway events in, the real middy chain, the service wired from
 * the environment onto dynalite.
 */
const adminClaims = { sub: 'root', email: 'root@example.com', groups: [ROLES.adminGroup] };
const auditorClaims = { sub: 'audrey', email: 'audrey@example.com', groups: [ROLES.auditorGroup] };
const strangerClaims = { sub: 'mallory', email: 'mallory@example.com', groups: ['sales'] };
const BOB_AAD = '0b6d1f7e-2222-4a2b-9c3d-5e6f7a8b9c0d';

let table: LocalTable;
let issuer: TestIssuer;
let directory: DirectoryStore;

beforeAll(async () => {
  table = await startDynalite();
  issuer = await startTestIssuer();
  stubHandlerEnv({ table, issuer });
  directory = new DirectoryStore(table.doc, table.tableName);
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await issuer.stop();
  await table.stop();
});

function call(
  handler: Handler,
  input: {
    method: string;
    path: string;
    id?: string;
    body?: unknown;
    claims?: TokenClaims;
    headers?: Record<string, string>;
    query?: Record<string, string>;
  },
) {
  return callHandler(issuer, handler, {
    method: input.method,
    path: input.path,
    claims: input.claims ?? adminClaims,
    ...(input.id === undefined ? {} : { params: { id: input.id } }),
    ...(input.body === undefined ? {} : { body: JSON.stringify(input.body) }),
    ...(input.headers === undefined ? {} : { headers: input.headers }),
    ...(input.query === undefined ? {} : { query: input.query }),
  });
}

const user = (name: string, extra: Record<string, unknown> = {}) => ({
  userName: `${name}@example.com`,
  emails: [`${name}@example.com`],
  displayName: name,
  ...extra,
});
const put = (id: string, body: unknown, more: { claims?: TokenClaims; headers?: Record<string, string> } = {}) =>
  call(putUser, { method: 'PUT', path: `/directory/users/${id}`, id, body, ...more });
const link = (id: string, accounts: unknown[], more: { headers?: Record<string, string> } = {}) =>
  call(putAccounts, { method: 'PUT', path: `/directory/users/${id}/accounts`, id, body: { accounts }, ...more });

describe('admin only', () => {
  it.each([
    ['a stranger', strangerClaims],
    ['an auditor', auditorClaims],
  ])('refuses %s with 403 on every route, reads included, and writes nothing', async (_who, claims) => {
    const responses = [
      await call(listUsers, { method: 'GET', path: '/directory/users', claims }),
      await call(getUser, { method: 'GET', path: '/directory/users/x', id: 'x', claims }),
      await put('intruder', user('intruder'), { claims }),
      await call(deleteUser, { method: 'DELETE', path: '/directory/users/x', id: 'x', claims }),
      await call(putAccounts, {
        method: 'PUT',
        path: '/directory/users/x/accounts',
        id: 'x',
        body: { accounts: [] },
        claims,
      }),
      await call(listGroups, { method: 'GET', path: '/directory/groups', claims }),
      await call(getGroup, { method: 'GET', path: '/directory/groups/g', id: 'g', claims }),
      await call(putGroup, {
        method: 'PUT',
        path: '/directory/groups/g',
        id: 'g',
        body: { displayName: 'stint-admins', members: ['mallory'] },
        claims,
      }),
      await call(deleteGroup, { method: 'DELETE', path: '/directory/groups/g', id: 'g', claims }),
    ];

    expect(responses.map((r) => r.status)).toEqual(Array(9).fill(403));
    expect(responses[0]?.type).toBe('application/problem+json');
    expect(await directory.userById('intruder')).toBeUndefined();
    expect(await directory.groupById('g')).toBeUndefined();
  });
});

describe('PUT/GET/DELETE /directory/users/{id}', () => {
  it('creates, reads and replaces a user, recording who changed it, keeping linked accounts', async () => {
    const created = await put('u-ann', user('ann', { manager: 'root' }));
    expect(created.status).toBe(200);
    expect(created.etag).toBe('"1"');
    expect(created.body).toMatchObject({
      id: 'u-ann',
      userName: 'ann@example.com',
      manager: 'root',
      active: true,
      accounts: [],
      version: 1,
      lastChange: { by: 'root', channel: 'api', action: 'create' },
    });
    await link('u-ann', [{ kind: 'slack', teamId: 'T1', userId: 'U1' }]);

    const replaced = await put('u-ann', user('ann', { displayName: 'Ann B.', active: false }));
    const read = await call(getUser, { method: 'GET', path: '/directory/users/u-ann', id: 'u-ann' });

    expect(replaced.body).toMatchObject({
      displayName: 'Ann B.',
      active: false,
      version: 3,
      accounts: [{ kind: 'slack', teamId: 'T1', userId: 'U1' }],
      lastChange: { by: 'root', channel: 'api', action: 'replace' },
    });
    expect(replaced.body).not.toHaveProperty('manager');
    expect(read.body).toEqual(replaced.body);
    expect(read.etag).toBe('"3"');
  });

  it('answers a bad body with 400 problem+json naming the field', async () => {
    const noEmail = await put('u-bad', { userName: 'bad@example.com', emails: [] });
    const badEmail = await put('u-bad', { userName: 'bad@example.com', emails: ['not-an-email'] });
    const unknownField = await put('u-bad', { ...user('bad'), groups: ['stint-admins'] });
    const ownManager = await put('u-bad', user('bad', { manager: 'u-bad' }));

    expect(noEmail).toMatchObject({ status: 400, type: 'application/problem+json', body: { field: 'body.emails' } });
    expect(badEmail.body).toMatchObject({ status: 400, field: 'body.emails.0' });
    expect(unknownField.body).toMatchObject({ status: 400, field: 'body.groups' });
    expect(ownManager.body).toMatchObject({ status: 400, field: 'body.manager' });
    expect(await directory.userById('u-bad')).toBeUndefined();
  });

  it('refuses a userName or email another user holds with 409 naming the field', async () => {
    await put('u-cid', user('cid'));

    const sameName = await put('u-dee', { userName: 'CID@example.com', emails: ['dee@example.com'] });
    const sameEmail = await put('u-dee', { userName: 'dee@example.com', emails: ['cid@example.com'] });

    expect(sameName).toMatchObject({ status: 409, body: { field: 'body.userName' } });
    expect(sameEmail).toMatchObject({ status: 409, body: { field: 'body.emails' } });
  });

  it('takes If-Match: replaces at the version read, 412 once it moved on, 404 for a user that is not there', async () => {
    const created = await put('u-eve', user('eve'));
    const etag = created.etag ?? '';

    const first = await put('u-eve', user('eve', { displayName: 'first' }), { headers: { 'if-match': etag } });
    const stale = await put('u-eve', user('eve', { displayName: 'stale' }), { headers: { 'if-match': etag } });
    const missing = await put('u-nobody', user('nobody'), { headers: { 'if-match': '"1"' } });
    const garbled = await put('u-eve', user('eve'), { headers: { 'if-match': 'yesterday' } });

    expect(first).toMatchObject({ status: 200, etag: '"2"' });
    expect(stale).toMatchObject({ status: 412, type: 'application/problem+json', body: { field: 'if-match' } });
    expect(missing.status).toBe(404);
    expect(garbled).toMatchObject({ status: 400, body: { field: 'if-match' } });
    expect((await directory.userById('u-eve'))?.displayName).toBe('first');
  });

  it('deletes as SCIM does (soft delete: gone from lookups, name released), honouring If-Match', async () => {
    await put('u-fay', user('fay'));

    const stale = await call(deleteUser, {
      method: 'DELETE',
      path: '/directory/users/u-fay',
      id: 'u-fay',
      headers: { 'if-match': '"7"' },
    });
    const gone = await call(deleteUser, { method: 'DELETE', path: '/directory/users/u-fay', id: 'u-fay' });
    const again = await call(getUser, { method: 'GET', path: '/directory/users/u-fay', id: 'u-fay' });

    expect(stale.status).toBe(412);
    expect(gone.status).toBe(204);
    expect(again.status).toBe(404);
    expect(await directory.userByUserName('fay@example.com')).toBeUndefined();
    expect((await put('u-fay2', user('fay'))).status).toBe(200);
  });
});

describe('PUT /directory/users/{id}/accounts', () => {
  it('links a Teams account so the channel resolves it, and replaces the list', async () => {
    await put('u-bob', user('bob'));

    const linked = await link('u-bob', [{ kind: 'teams', aadObjectId: BOB_AAD }]);

    expect(linked.status).toBe(200);
    expect(linked.body).toMatchObject({
      accounts: [{ kind: 'teams', aadObjectId: BOB_AAD }],
      lastChange: { by: 'root', channel: 'api', action: 'link-accounts' },
    });
    expect((await directory.userByAccount({ kind: 'teams', aadObjectId: BOB_AAD.toUpperCase() }))?.id).toBe('u-bob');

    await link('u-bob', [{ kind: 'jira', accountId: '5b10ac8d82e05b22cc7d4ef5' }]);
    expect(await directory.userByAccount({ kind: 'teams', aadObjectId: BOB_AAD })).toBeUndefined();
  });

  it('refuses a Teams account already linked to another user with 409 naming the account', async () => {
    const aad = '0b6d1f7e-3333-4a2b-9c3d-5e6f7a8b9c0d';
    await put('u-gil', user('gil'));
    await put('u-hal', user('hal'));
    await link('u-gil', [{ kind: 'teams', aadObjectId: aad }]);

    const taken = await link('u-hal', [
      { kind: 'slack', teamId: 'T1', userId: 'U9' },
      { kind: 'teams', aadObjectId: aad.toUpperCase() },
    ]);

    expect(taken).toMatchObject({ status: 409, type: 'application/problem+json', body: { field: 'body.accounts.1' } });
    expect((await directory.userById('u-hal'))?.accounts).toEqual([]);
    expect((await directory.userByAccount({ kind: 'teams', aadObjectId: aad }))?.id).toBe('u-gil');
  });

  it('answers an invalid account with 400 naming it, and a stale If-Match with 412', async () => {
    const created = await put('u-ida', user('ida'));
    await link('u-ida', []);

    const invalid = await link('u-ida', [{ kind: 'teams', aadObjectId: 'not-a-uuid' }]);
    const stale = await link('u-ida', [], { headers: { 'if-match': created.etag ?? '' } });
    const unknownUser = await link('u-nobody', []);

    expect(invalid).toMatchObject({
      status: 400,
      body: { field: 'body.accounts.0.aadObjectId', detail: expect.stringContaining('Entra ID object id') },
    });
    expect(stale.status).toBe(412);
    expect(unknownUser.status).toBe(404);
  });
});

describe('GET /directory/users', () => {
  it('pages through every user and looks one up by email or userName', async () => {
    for (const name of ['list-a', 'list-b', 'list-c']) await put(`l-${name}`, user(name));

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await call(listUsers, {
        method: 'GET',
        path: '/directory/users',
        query: { limit: '2', ...(cursor === undefined ? {} : { cursor }) },
      });
      expect(page.status).toBe(200);
      const items = page.body.items as { id: string }[];
      seen.push(...items.map((u) => u.id));
      cursor = typeof page.body.cursor === 'string' ? page.body.cursor : undefined;
    } while (cursor !== undefined && seen.length < 100);
    const byEmail = await call(listUsers, {
      method: 'GET',
      path: '/directory/users',
      query: { email: 'LIST-B@example.com' },
    });
    const byName = await call(listUsers, {
      method: 'GET',
      path: '/directory/users',
      query: { userName: 'list-c@example.com' },
    });

    expect(seen).toEqual(expect.arrayContaining(['l-list-a', 'l-list-b', 'l-list-c']));
    expect(new Set(seen).size).toBe(seen.length);
    expect(byEmail.body.items).toMatchObject([{ id: 'l-list-b' }]);
    expect(byName.body.items).toMatchObject([{ id: 'l-list-c' }]);
  });
});

describe('/directory/groups', () => {
  it('creates, replaces, reads, lists and deletes a group; its members’ groups follow', async () => {
    await put('m-1', user('member-1'));
    await put('m-2', user('member-2'));

    const created = await call(putGroup, {
      method: 'PUT',
      path: '/directory/groups/g-dba',
      id: 'g-dba',
      body: { displayName: 'dba', members: ['m-1'] },
    });
    const replaced = await call(putGroup, {
      method: 'PUT',
      path: '/directory/groups/g-dba',
      id: 'g-dba',
      body: { displayName: 'dba', members: ['m-2'] },
      headers: { 'if-match': created.etag ?? '' },
    });
    const read = await call(getGroup, { method: 'GET', path: '/directory/groups/g-dba', id: 'g-dba' });
    const byName = await call(listGroups, { method: 'GET', path: '/directory/groups', query: { displayName: 'dba' } });

    expect(created).toMatchObject({ status: 200, etag: '"1"', body: { displayName: 'dba', members: ['m-1'] } });
    expect(replaced.body).toMatchObject({ version: 2, members: ['m-2'], lastChange: { by: 'root', channel: 'api' } });
    expect(read.body).toMatchObject({ id: 'g-dba', members: ['m-2'] });
    expect(byName.body.items).toMatchObject([{ id: 'g-dba' }]);
    expect(await directory.groupsOf('m-1')).toEqual([]);
    expect(await directory.groupsOf('m-2')).toEqual(['dba']);

    const deleted = await call(deleteGroup, { method: 'DELETE', path: '/directory/groups/g-dba', id: 'g-dba' });
    expect(deleted.status).toBe(204);
    expect(await directory.groupsOf('m-2')).toEqual([]);
  });

  it('refuses an unknown member (400) and a name another group holds (409), naming the field', async () => {
    await call(putGroup, { method: 'PUT', path: '/directory/groups/g-sec', id: 'g-sec', body: { displayName: 'sec' } });

    const unknown = await call(putGroup, {
      method: 'PUT',
      path: '/directory/groups/g-x',
      id: 'g-x',
      body: { displayName: 'x', members: ['nobody'] },
    });
    const taken = await call(putGroup, {
      method: 'PUT',
      path: '/directory/groups/g-y',
      id: 'g-y',
      body: { displayName: 'sec' },
    });

    expect(unknown).toMatchObject({ status: 400, body: { field: 'body.members' } });
    expect(taken).toMatchObject({ status: 409, body: { field: 'body.displayName' } });
  });
});

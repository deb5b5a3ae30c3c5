import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as groups } from '#functions/scim/scim-groups.ts';
import { handler as meta } from '#functions/scim/scim-meta.ts';
import { handler as users } from '#functions/scim/scim-users.ts';
import { DirectoryStore } from '#lib/directory/store.ts';
import { identityOfDirectoryUser } from '#lib/identity/resolver.ts';
import { lambdaContext } from '../../support/api-event.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { scimEvent as sharedScimEvent } from '../../support/scim-event.ts';

/** SCIM Lambdas at handler level: real middy chain, bearer check, DirectoryStore on dynalite. */
const TOKEN = 'scim-test-token-0123456789abcdef';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

let table: LocalTable;
let directory: DirectoryStore;
let n = 0;

beforeAll(async () => {
  table = await startDynalite();
  vi.stubEnv('STINT_TABLE_NAME', table.tableName);
  vi.stubEnv('STINT_SCIM_TOKEN_REF', 'env:STINT_TEST_SCIM_TOKEN');
  vi.stubEnv('STINT_TEST_SCIM_TOKEN', TOKEN);
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', table.endpoint);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
  directory = new DirectoryStore(table.doc, table.tableName);
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await table.stop();
});

type Handler = (
  event: APIGatewayProxyEventV2,
  context: typeof lambdaContext,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** A SCIM event with the test's bearer token unless `token` says otherwise (`null`: none). */
function scimEvent(input: Omit<Parameters<typeof sharedScimEvent>[0], 'token'> & { token?: string | null }) {
  return sharedScimEvent({ ...input, token: input.token === undefined ? TOKEN : input.token });
}

async function call(handler: Handler, event: APIGatewayProxyEventV2) {
  const result = await handler(event, lambdaContext);
  const body: unknown = result.body ? JSON.parse(result.body) : undefined;
  return { status: result.statusCode, headers: result.headers ?? {}, body: body as Record<string, unknown> };
}

function aScimUser(overrides: Record<string, unknown> = {}) {
  n += 1;
  const name = `person-${n}-${Date.now()}@example.com`;
  return {
    schemas: [USER],
    userName: name,
    emails: [{ value: name, type: 'work', primary: true }],
    active: true,
    ...overrides,
  };
}

async function createUser(overrides: Record<string, unknown> = {}) {
  const created = await call(users, scimEvent({ route: 'POST /scim/v2/Users', body: aScimUser(overrides) }));
  expect(created.status).toBe(201);
  return created.body as { id: string; userName: string };
}

describe('SCIM authentication', () => {
  it('refuses a request without a bearer token with a 401 SCIM error', async () => {
    const res = await call(users, scimEvent({ route: 'GET /scim/v2/Users', token: null }));

    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toBe('application/scim+json');
    expect(res.body).toMatchObject({ schemas: [ERROR], status: '401' });
  });

  it('refuses a wrong token, including one that only differs in length', async () => {
    for (const token of ['wrong', `${TOKEN}x`, TOKEN.slice(0, -1)]) {
      const res = await call(meta, scimEvent({ route: 'GET /scim/v2/ServiceProviderConfig', token }));
      expect(res.status).toBe(401);
    }
  });

  it('creates nothing when the token is wrong', async () => {
    const body = aScimUser();
    const res = await call(users, scimEvent({ route: 'POST /scim/v2/Users', body, token: 'nope' }));

    expect(res.status).toBe(401);
    expect(await directory.userByUserName(body.userName)).toBeUndefined();
  });
});

describe('SCIM Users', () => {
  it('creates a user and finds it with filter=userName eq, case-insensitively', async () => {
    const user = await createUser({ displayName: 'Ada' });

    const res = await call(
      users,
      scimEvent({ route: 'GET /scim/v2/Users', query: { filter: `userName eq "${user.userName.toUpperCase()}"` } }),
    );

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
      totalResults: 1,
      startIndex: 1,
      itemsPerPage: 1,
      Resources: [{ id: user.id, userName: user.userName, displayName: 'Ada', active: true }],
    });
    const none = await call(
      users,
      scimEvent({ route: 'GET /scim/v2/Users', query: { filter: 'userName eq "no@x.io"' } }),
    );
    expect(none.body).toMatchObject({ totalResults: 0, Resources: [] });
  });

  it('uses a subject-like externalId as the Stint id and maps the enterprise manager', async () => {
    const bossId = `00uboss${n}-${Date.now()}`;
    const empId = `00uemp${n}-${Date.now()}`;
    const boss = await createUser({ externalId: bossId });
    const res = await call(
      users,
      scimEvent({
        route: 'POST /scim/v2/Users',
        body: aScimUser({
          externalId: empId,
          schemas: [USER, ENTERPRISE],
          [ENTERPRISE]: { manager: { value: boss.id } },
        }),
      }),
    );

    expect(res.status).toBe(201);
    expect(res.body.id).toBe(empId);
    expect(res.headers.location).toBe(`https://stint.example.com/scim/v2/Users/${empId}`);
    expect(boss.id).toBe(bossId);
    expect((await directory.userById(empId))?.manager).toBe(bossId);
  });

  it('answers a duplicate userName with 409 uniqueness', async () => {
    const user = await createUser();

    const res = await call(
      users,
      scimEvent({ route: 'POST /scim/v2/Users', body: aScimUser({ userName: user.userName }) }),
    );

    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ schemas: [ERROR], status: '409', scimType: 'uniqueness' });
  });

  it.each([
    ['a body that is not JSON', { rawBody: '{"userName": ' }, 400, 'invalidSyntax'],
    ['a JSON array', { body: [] }, 400, 'invalidSyntax'],
    ['a user without userName', { body: { schemas: [USER], emails: [{ value: 'a@b.co' }] } }, 400, 'invalidValue'],
    ['a user whose active is not a boolean', { body: aScimUser({ active: 'maybe' }) }, 400, 'invalidValue'],
    [
      'a user with no email and a non-email userName',
      { body: { schemas: [USER], userName: 'bare' } },
      400,
      'invalidValue',
    ],
  ])('answers %s with a SCIM error', async (_name, input, status, scimType) => {
    const res = await call(users, scimEvent({ route: 'POST /scim/v2/Users', ...input }));

    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ schemas: [ERROR], status: String(status), scimType });
  });

  it.each([
    ['a PatchOp without Operations', { schemas: [PATCH] }, 'invalidSyntax'],
    [
      'an unknown op',
      { schemas: [PATCH], Operations: [{ op: 'move', path: 'active', value: false }] },
      'invalidSyntax',
    ],
    ['a remove without a path', { schemas: [PATCH], Operations: [{ op: 'remove' }] }, 'noTarget'],
    ['a malformed path', { schemas: [PATCH], Operations: [{ op: 'replace', path: 'a b (', value: 1 }] }, 'invalidPath'],
    [
      'a non-boolean active',
      { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: 'nah' }] },
      'invalidValue',
    ],
  ])('answers a PATCH with %s with a 400 SCIM error', async (_name, body, scimType) => {
    const user = await createUser();

    const res = await call(users, scimEvent({ route: 'PATCH /scim/v2/Users/{id}', params: { id: user.id }, body }));

    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ schemas: [ERROR], status: '400', scimType });
  });

  it('deactivates with Entra-style PATCH active "False": the user no longer resolves to an identity', async () => {
    const user = await createUser();
    expect((await identityOfDirectoryUser(directory, user.id))?.sub).toBe(user.id);

    const res = await call(
      users,
      scimEvent({
        route: 'PATCH /scim/v2/Users/{id}',
        params: { id: user.id },
        body: { schemas: [PATCH], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] },
      }),
    );

    expect(res.status).toBe(200);
    expect(res.body.active).toBe(false);
    expect(await identityOfDirectoryUser(directory, user.id)).toBeUndefined();
  });

  it('applies Okta-style path-less replace and Entra email/manager paths', async () => {
    const user = await createUser();
    const manager = await createUser();

    const res = await call(
      users,
      scimEvent({
        route: 'PATCH /scim/v2/Users/{id}',
        params: { id: user.id },
        body: {
          schemas: [PATCH],
          Operations: [
            { op: 'replace', value: { active: false, displayName: 'Grace', 'name.givenName': 'ignored' } },
            { op: 'Add', path: 'emails[type eq "work"].value', value: 'grace@example.com' },
            { op: 'Add', path: `${ENTERPRISE}:manager`, value: manager.id },
          ],
        },
      }),
    );

    expect(res.status).toBe(200);
    const after = await directory.userById(user.id);
    expect(after).toMatchObject({ active: false, displayName: 'Grace', manager: manager.id });
    expect(after?.emails[0]).toBe('grace@example.com');
    expect((await directory.userByEmail('grace@example.com'))?.id).toBe(user.id);
  });

  it('replaces with PUT, deletes with DELETE, then answers 404', async () => {
    const user = await createUser();
    const put = await call(
      users,
      scimEvent({
        route: 'PUT /scim/v2/Users/{id}',
        params: { id: user.id },
        body: aScimUser({ userName: user.userName, displayName: 'New' }),
      }),
    );
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ displayName: 'New', meta: { version: 'W/"2"' } });

    const del = await call(users, scimEvent({ route: 'DELETE /scim/v2/Users/{id}', params: { id: user.id } }));
    expect(del.status).toBe(204);
    const get = await call(users, scimEvent({ route: 'GET /scim/v2/Users/{id}', params: { id: user.id } }));
    expect(get.status).toBe(404);
    expect(get.body).toMatchObject({ schemas: [ERROR], status: '404' });
  });

  it('pages with startIndex and count', async () => {
    await createUser();
    await createUser();
    const res = await call(users, scimEvent({ route: 'GET /scim/v2/Users', query: { startIndex: '2', count: '1' } }));

    expect(res.body).toMatchObject({ startIndex: 2, itemsPerPage: 1 });
    expect(Number(res.body.totalResults)).toBeGreaterThanOrEqual(2);
  });

  it('refuses an unsupported filter with invalidFilter', async () => {
    const res = await call(users, scimEvent({ route: 'GET /scim/v2/Users', query: { filter: 'title co "x"' } }));

    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe('invalidFilter');
  });

  it('refuses an over-long filter with a SCIM 400 naming the parameter, not a 500', async () => {
    const filter = `userName eq "${'a'.repeat(1100)}"`;
    const res = await call(users, scimEvent({ route: 'GET /scim/v2/Users', query: { filter } }));

    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ schemas: [ERROR], scimType: 'invalidValue' });
    expect(String(res.body.detail)).toMatch(/^query\.filter: /);
  });
});

describe('SCIM Groups', () => {
  it('creates a group, adds and removes members by PATCH (members[value eq] path) and lists without members', async () => {
    const a = await createUser();
    const b = await createUser();
    const name = `engineers-${n}`;
    const created = await call(
      groups,
      scimEvent({ route: 'POST /scim/v2/Groups', body: { displayName: name, members: [{ value: a.id }] } }),
    );
    expect(created.status).toBe(201);
    const id = String(created.body.id);

    await call(
      groups,
      scimEvent({
        route: 'PATCH /scim/v2/Groups/{id}',
        params: { id },
        body: { schemas: [PATCH], Operations: [{ op: 'Add', path: 'members', value: [{ value: b.id }] }] },
      }),
    );
    const removed = await call(
      groups,
      scimEvent({
        route: 'PATCH /scim/v2/Groups/{id}',
        params: { id },
        body: { schemas: [PATCH], Operations: [{ op: 'Remove', path: `members[value eq "${a.id}"]` }] },
      }),
    );

    expect(removed.status).toBe(200);
    expect(removed.body.members).toEqual([{ value: b.id, type: 'User' }]);
    expect(await directory.groupsOf(b.id)).toEqual([name]);
    expect(await directory.groupsOf(a.id)).toEqual([]);
    const listed = await call(
      groups,
      scimEvent({
        route: 'GET /scim/v2/Groups',
        query: { filter: `displayName eq "${name}"`, excludedAttributes: 'members' },
      }),
    );
    expect(listed.body).toMatchObject({ totalResults: 1, Resources: [{ id, displayName: name }] });
    expect((listed.body.Resources as Record<string, unknown>[])[0]?.members).toBeUndefined();
  });

  it('renames a group with an Entra path-less replace', async () => {
    const created = await call(groups, scimEvent({ route: 'POST /scim/v2/Groups', body: { displayName: `old-${n}` } }));
    const id = String(created.body.id);

    const res = await call(
      groups,
      scimEvent({
        route: 'PATCH /scim/v2/Groups/{id}',
        params: { id },
        body: { schemas: [PATCH], Operations: [{ op: 'Replace', value: { id, displayName: `renamed-${n}` } }] },
      }),
    );

    expect(res.body.displayName).toBe(`renamed-${n}`);
    expect((await directory.groupByName(`renamed-${n}`))?.id).toBe(id);
  });

  it('answers an unknown member with 400 invalidValue and a duplicate name with 409 uniqueness', async () => {
    const name = `dup-${n}`;
    await call(groups, scimEvent({ route: 'POST /scim/v2/Groups', body: { displayName: name } }));

    const dup = await call(groups, scimEvent({ route: 'POST /scim/v2/Groups', body: { displayName: name } }));
    const ghost = await call(
      groups,
      scimEvent({ route: 'POST /scim/v2/Groups', body: { displayName: `g-${n}-x`, members: [{ value: 'ghost' }] } }),
    );

    expect(dup).toMatchObject({ status: 409, body: { scimType: 'uniqueness' } });
    expect(ghost).toMatchObject({ status: 400, body: { scimType: 'invalidValue' } });
  });
});

describe('SCIM discovery', () => {
  it('serves ServiceProviderConfig, ResourceTypes and Schemas as application/scim+json', async () => {
    const config = await call(meta, scimEvent({ route: 'GET /scim/v2/ServiceProviderConfig' }));
    const types = await call(meta, scimEvent({ route: 'GET /scim/v2/ResourceTypes' }));
    const schemas = await call(meta, scimEvent({ route: 'GET /scim/v2/Schemas' }));

    expect(config.headers['content-type']).toBe('application/scim+json');
    expect(config.body).toMatchObject({ patch: { supported: true }, filter: { supported: true, maxResults: 100 } });
    expect((types.body.Resources as { id: string }[]).map((t) => t.id)).toEqual(['User', 'Group']);
    expect((schemas.body.Resources as { id: string }[]).map((s) => s.id)).toContain(USER);
  });
});

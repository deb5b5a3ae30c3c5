import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { FlowInput } from '#lib/domain/flow.ts';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { DEMO } from '#lib/local/seed.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { createDocumentClient } from '#lib/store/client.ts';
import { Store } from '#lib/store/store.ts';
import { call, until } from '../support/http.ts';
import { tableNameOf } from '../support/local-table.ts';
import { canLogin, loginWith } from '../support/postgres.ts';

/**
 * The lifecycle end to end, through the local runtime over HTTP, on the synthesized template, with a real
 * PostgreSQL using password (scram) authentication. Expiry scenarios wait real minutes, so they run
 * concurrently.
 */
let stint: Stint;
const people = {
  alice: { sub: 'alice', email: 'alice@example.com', groups: [] as string[] },
  bob: { sub: 'bob', email: 'bob@example.com', groups: [] as string[] },
  dba1: { sub: 'dba1', email: 'dba1@example.com', groups: ['dba'] },
  dba2: { sub: 'dba2', email: 'dba2@example.com', groups: ['dba'] },
  root: { sub: 'root', email: 'root@example.com', groups: ['stint-admins', 'dba'] },
};
type Person = keyof typeof people;
const tokens = {} as Record<Person, string>;

type RequestJson = {
  id: string;
  status: string;
  votes: unknown[];
  failureReason?: string;
  expiresAt?: string;
  revokedAt?: string;
};

async function create(who: Person, body: Record<string, unknown>) {
  return call(stint.url, 'POST', '/requests', { token: tokens[who], body });
}
async function get(who: Person, id: string): Promise<RequestJson> {
  const res = await call(stint.url, 'GET', `/requests/${id}`, { token: tokens[who] });
  expect(res.status).toBe(200);
  return res.json as RequestJson;
}
async function reach(who: Person, id: string, status: string, timeoutMs = 150_000): Promise<RequestJson> {
  return until(
    () => get(who, id),
    (r) => r.status === status,
    timeoutMs,
  );
}
async function act(who: Person, id: string, action: string, body: unknown = {}) {
  return call(stint.url, 'POST', `/requests/${id}/${action}`, { token: tokens[who], body });
}
async function access(who: Person, id: string) {
  const res = await call(stint.url, 'GET', `/requests/${id}/access`, { token: tokens[who] });
  expect(res.status).toBe(200);
  return res.json as {
    host: string;
    port: number;
    database: string;
    username: string;
    password: string;
    expiresAt: string;
  };
}
async function adminQuery<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  const { host, port, adminUser, adminPassword } = stint.postgres;
  const client = new pg.Client({ host, port, user: adminUser, password: adminPassword, database: DEMO.database });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}
async function putFlow(id: string, flow: Partial<FlowInput>) {
  const base = {
    name: id,
    requestors: { everyone: true },
    targets: [{ integrationId: DEMO.integrationId, resource: DEMO.database, permission: 'readonly' }],
    approval: { mode: 'manual', sets: [{ groups: ['dba'] }], rule: { type: 'anyOf' }, timeoutMinutes: 30 },
    defaultMinutes: 5,
    maxMinutes: 30,
    justificationRequired: false,
    maxExtensions: 1,
  };
  const res = await call(stint.url, 'PUT', `/flows/${id}`, { token: tokens.root, body: { ...base, ...flow } });
  expect(res.status, res.text).toBe(200);
}
const RequestDetail = z.object({ request: z.object({ id: z.string() }) });
function eventTypes(requestId: string): string[] {
  return stint.runtime
    .events()
    .filter((e) => RequestDetail.safeParse(e.detail).data?.request.id === requestId)
    .map((e) => e['detail-type']);
}
/**
 * The request's event types once the bus has caught up with the table (stream → publisher → bus is
 * asynchronous): waits until `last` has arrived, then returns them all in order.
 */
async function eventsUntil(requestId: string, last: string): Promise<string[]> {
  return until(
    async () => eventTypes(requestId),
    (types) => types.includes(last),
    30_000,
    50,
  );
}

/** The stored item, read straight from the local table (task tokens never leave the store through the API). */
async function stored(id: string) {
  const store = new Store(createDocumentClient(), tableNameOf(stint.runtime));
  return store.getRequest(id);
}

beforeAll(async () => {
  stint = await startStint({
    pgDataDir: join(await clusterParentDir('stint-e2e'), 'pg'),
    pgPort: await freePort(),
    port: 0,
    scheduleEveryMs: 1000,
  });
  for (const name of Object.keys(people) as Person[]) tokens[name] = await stint.token(people[name]);
  await putFlow('quorum-two', {
    approval: {
      mode: 'manual',
      sets: [{ users: [], groups: ['dba'] }],
      rule: { type: 'quorum', count: 2 },
      timeoutMinutes: 30,
      reasonRequired: false,
    },
  });
  await putFlow('any-dba', {});
  await putFlow('short-approval', {
    approval: {
      mode: 'manual',
      sets: [{ users: [], groups: ['dba'] }],
      rule: { type: 'anyOf' },
      timeoutMinutes: 1,
      reasonRequired: false,
    },
  });
  const integration = await call(stint.url, 'GET', `/integrations/${DEMO.integrationId}`, { token: tokens.root });
  const withBroken = structuredClone(integration.json) as {
    resources: { permissions: { id: string; grants: string[] }[] }[];
  };
  withBroken.resources[0]?.permissions.push({ id: 'broken', grants: ['no_such_role'] });
  const { id: _i, version: _v, lastChange: _l, ...input } = withBroken as Record<string, unknown>;
  expect(
    (await call(stint.url, 'PUT', `/integrations/${DEMO.integrationId}`, { token: tokens.root, body: input })).status,
  ).toBe(200);
  await putFlow('broken', {
    approval: { mode: 'auto' },
    targets: [{ integrationId: DEMO.integrationId, resource: DEMO.database, permission: 'broken' }],
  });
}, 180_000);

afterAll(async () => {
  await stint?.stop();
});

// These wait on real minutes (the shortest duration and approval timeout are one minute): run side by side.
describe.concurrent('waiting on the clock', { timeout: 300_000 }, () => {
  it('grants read-only access with a password login and revokes it when it expires', async () => {
    const created = await create('alice', {
      flowId: 'demo-readonly',
      durationMinutes: 1,
      justification: 'look at orders',
    });
    expect(created.status, created.text).toBe(201);
    const { id } = created.json as RequestJson;
    await reach('alice', id, 'ACTIVE');

    const creds = await access('alice', id);
    expect(await canLogin({ ...creds, password: 'wrong-password' })).toBe(false);
    const session = await loginWith(creds);
    const rows = await session.query('SELECT count(*)::int AS n FROM orders');
    expect(rows.rows[0]?.n).toBeGreaterThan(0);
    await expect(session.query(`INSERT INTO orders (customer, total) VALUES ('mallory', 1)`)).rejects.toThrow(
      /permission denied/,
    );
    session.on('error', () => undefined);

    const done = await reach('alice', id, 'EXPIRED');
    expect(Date.parse(done.revokedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(done.expiresAt ?? ''));
    expect(await canLogin(creds)).toBe(false);
    expect(await adminQuery('SELECT pid FROM pg_stat_activity WHERE usename = $1', [creds.username])).toEqual([]);
    expect(await eventsUntil(id, 'grant.expired')).toEqual([
      'request.created',
      'grant.started',
      'grant.active',
      'grant.revoking',
      'grant.expired',
    ]);
  });

  it('keeps a second overlapping grant working when the first one expires', async () => {
    const first = (await create('bob', { flowId: 'demo-readonly', durationMinutes: 1, justification: 'first' }))
      .json as RequestJson;
    const second = (await create('bob', { flowId: 'demo-readonly', durationMinutes: 5, justification: 'second' }))
      .json as RequestJson;
    await reach('bob', first.id, 'ACTIVE');
    await reach('bob', second.id, 'ACTIVE');
    const secondCreds = await access('bob', second.id);
    await reach('bob', first.id, 'EXPIRED');
    const session = await loginWith(secondCreds);
    expect((await session.query('SELECT count(*)::int AS n FROM orders')).rows[0]?.n).toBeGreaterThan(0);
    await session.end();
    expect((await act('bob', second.id, 'revoke')).status).toBe(200);
    await reach('bob', second.id, 'REVOKED');
  });
  it('times out when nobody decides in time', async () => {
    const { id } = (await create('alice', { flowId: 'short-approval', durationMinutes: 5 })).json as RequestJson;
    await reach('alice', id, 'TIMED_OUT');
    expect(await eventsUntil(id, 'request.timed_out')).toEqual(['request.created', 'request.timed_out']);
  });
});

describe('approvals', () => {
  it('needs two distinct approvers from dba for a quorum of two', async () => {
    const { id } = (await create('alice', { flowId: 'quorum-two', durationMinutes: 5 })).json as RequestJson;
    expect((await act('dba1', id, 'approve')).status).toBe(200);
    const afterOne = await get('alice', id);
    expect(afterOne.status).toBe('PENDING');
    expect(afterOne.votes).toHaveLength(1);
    expect((await act('dba2', id, 'approve')).status).toBe(200);
    await reach('alice', id, 'ACTIVE');
    expect((await eventsUntil(id, 'request.approved')).slice(0, 3)).toEqual([
      'request.created',
      'request.approval_recorded',
      'request.approved',
    ]);
    await act('alice', id, 'revoke');
    await reach('alice', id, 'REVOKED');
  });

  it('refuses self-approval, even by an admin in the approver group, and approval by a non-approver', async () => {
    const { id } = (await create('root', { flowId: 'any-dba', durationMinutes: 5 })).json as RequestJson;
    const self = await act('root', id, 'approve');
    expect(self.status).toBe(403);
    expect(self.contentType).toContain('application/problem+json');
    // Bob is not an approver: the request does not exist for him (as a missing id).
    const stranger = await act('bob', id, 'approve');
    expect(stranger.status).toBe(404);
    expect((await get('root', id)).votes).toEqual([]);
    await act('root', id, 'cancel');
  });

  it('turns two concurrent approvals into one decision and one resumed execution', async () => {
    const { id } = (await create('alice', { flowId: 'any-dba', durationMinutes: 5 })).json as RequestJson;
    await until(
      () => stored(id),
      (r) => r?.approvalToken !== undefined,
    );
    const before = stint.runtime.stats().stepFunctions.SendTaskSuccess ?? 0;
    const results = await Promise.all([act('dba1', id, 'approve'), act('dba2', id, 'approve')]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    await reach('alice', id, 'ACTIVE');
    expect((await eventsUntil(id, 'grant.active')).filter((t) => t === 'request.approved')).toHaveLength(1);
    expect((stint.runtime.stats().stepFunctions.SendTaskSuccess ?? 0) - before).toBe(1);
    await act('alice', id, 'revoke');
    await reach('alice', id, 'REVOKED');
  });

  it('rejects', async () => {
    const { id } = (await create('alice', { flowId: 'any-dba', durationMinutes: 5 })).json as RequestJson;
    expect((await act('dba1', id, 'reject', { reason: 'not today' })).status).toBe(200);
    await reach('alice', id, 'REJECTED');
    expect(await eventsUntil(id, 'request.rejected')).toEqual(['request.created', 'request.rejected']);
  });

  it('cancels while pending, by the requester only', async () => {
    const { id } = (await create('alice', { flowId: 'any-dba', durationMinutes: 5 })).json as RequestJson;
    expect((await act('bob', id, 'cancel')).status).toBe(404);
    expect((await act('root', id, 'cancel')).status).toBe(403);
    expect((await act('alice', id, 'cancel')).status).toBe(200);
    await reach('alice', id, 'CANCELLED');
    expect((await act('dba1', id, 'approve')).status).toBe(409);
  });
});

describe('active grants', () => {
  it('revokes early: the login is refused and open sessions are ended', async () => {
    const { id } = (await create('alice', { flowId: 'any-dba', durationMinutes: 10 })).json as RequestJson;
    await act('dba1', id, 'approve');
    await reach('alice', id, 'ACTIVE');
    const creds = await access('alice', id);
    const session = await loginWith(creds);
    session.on('error', () => undefined);
    expect((await act('dba1', id, 'revoke', { reason: 'done' })).status).toBe(200);
    await reach('alice', id, 'REVOKED');
    expect(await canLogin(creds)).toBe(false);
    expect(await adminQuery('SELECT pid FROM pg_stat_activity WHERE usename = $1', [creds.username])).toEqual([]);
    expect((await call(stint.url, 'GET', `/requests/${id}/access`, { token: tokens.alice })).status).toBe(409);
    expect(await eventsUntil(id, 'grant.revoked')).toEqual([
      'request.created',
      'request.approved',
      'grant.started',
      'grant.active',
      'grant.revoking',
      'grant.revoked',
    ]);
  });

  it('extends within the limit and refuses an extension past it', async () => {
    const { id } = (await create('alice', { flowId: 'demo-readonly', durationMinutes: 5, justification: 'extend me' }))
      .json as RequestJson;
    const active = await reach('alice', id, 'ACTIVE');
    const extended = await act('alice', id, 'extend', { minutes: 5 });
    expect(extended.status).toBe(200);
    expect(Date.parse((extended.json as RequestJson).expiresAt ?? '')).toBe(
      Date.parse(active.expiresAt ?? '') + 5 * 60_000,
    );
    const creds = await access('alice', id);
    const validUntil = await until(
      () => adminQuery<{ v: Date }>('SELECT rolvaliduntil AS v FROM pg_roles WHERE rolname = $1', [creds.username]),
      (rows) => rows[0]?.v.getTime() === Date.parse((extended.json as RequestJson).expiresAt ?? ''),
    );
    expect(validUntil).toHaveLength(1);
    const refused = await act('alice', id, 'extend', { minutes: 5 });
    expect(refused.status).toBe(422);
    expect((await eventsUntil(id, 'grant.extended')).filter((t) => t === 'grant.extended')).toHaveLength(1);
    await act('alice', id, 'revoke');
    await reach('alice', id, 'REVOKED');
  });

  it('fails a grant whose role is missing, with the reason, leaving nothing in PostgreSQL', async () => {
    const { id } = (await create('alice', { flowId: 'broken', durationMinutes: 5 })).json as RequestJson;
    const failed = await reach('alice', id, 'FAILED');
    expect(failed.failureReason).toContain('no_such_role');
    expect(await adminQuery(`SELECT rolname FROM pg_roles WHERE rolname LIKE $1`, [`%${id.toLowerCase()}%`])).toEqual(
      [],
    );
    // The failed grant is undone on the revoke path (grant.revoking, endReason failed) before it ends FAILED.
    expect(await eventsUntil(id, 'grant.failed')).toEqual([
      'request.created',
      'grant.started',
      'grant.revoking',
      'grant.failed',
    ]);
  });
});

describe('service routes', () => {
  it('answers /health without a token and serves the OpenAPI document to signed-in callers only', async () => {
    expect((await call(stint.url, 'GET', '/health')).status).toBe(200);
    expect((await call(stint.url, 'GET', '/openapi.json')).status).toBe(401);
    const doc = await call(stint.url, 'GET', '/openapi.json', { token: tokens.alice });
    expect(doc.status).toBe(200);
    expect(Object.keys((doc.json as { paths: Record<string, unknown> }).paths)).toContain('/requests/{id}/approve');
  });

  it('answers /auth-config without a token: the local issuer, no CLI client (stint login --local), local: true', async () => {
    const answer = await call(stint.url, 'GET', '/auth-config');

    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ issuer: `${stint.url}/_local`, local: true });
  });
});

describe('bad input', () => {
  const cases: [string, { raw?: string; body?: unknown }, number, string][] = [
    ['malformed JSON', { raw: '{"flowId":' }, 400, 'body'],
    [
      'an unknown field',
      { body: { flowId: 'demo-readonly', durationMinutes: 5, justification: 'x', admin: true } },
      400,
      'body.admin',
    ],
    [
      'a wrong type',
      { body: { flowId: 'demo-readonly', durationMinutes: 'five', justification: 'x' } },
      400,
      'body.durationMinutes',
    ],
    [
      'a zero duration',
      { body: { flowId: 'demo-readonly', durationMinutes: 0, justification: 'x' } },
      400,
      'body.durationMinutes',
    ],
    [
      'a duration over the maximum',
      { body: { flowId: 'demo-readonly', durationMinutes: 16, justification: 'x' } },
      422,
      'body.durationMinutes',
    ],
    [
      'an unknown flow',
      { body: { flowId: 'no-such-flow', durationMinutes: 5, justification: 'x' } },
      404,
      'body.flowId',
    ],
    [
      'an unknown resource',
      {
        body: {
          flowId: 'demo-readonly',
          durationMinutes: 5,
          justification: 'x',
          targets: [{ resource: 'nope', permission: 'readonly' }],
        },
      },
      422,
      'body.targets.0.resource',
    ],
    [
      'an unknown bundle',
      { body: { flowId: 'demo-readonly', durationMinutes: 5, justification: 'x', bundle: 'nope' } },
      422,
      'body.bundle',
    ],
    [
      'a body over 64 KiB',
      { body: { flowId: 'demo-readonly', durationMinutes: 5, justification: 'x'.repeat(70_000) } },
      413,
      'body',
    ],
  ];

  it.each(cases)(
    'refuses %s with a problem naming the field and changes nothing',
    async (_name, input, status, field) => {
      const before = await call(stint.url, 'GET', '/requests?scope=mine', { token: tokens.bob });
      const res = await call(stint.url, 'POST', '/requests', { token: tokens.bob, ...input });
      expect(res.status, res.text).toBe(status);
      expect(res.contentType).toContain('application/problem+json');
      expect((res.json as { field?: string }).field).toBe(field);
      expect(res.text).not.toMatch(/at .+\.(ts|js):\d+/);
      const after = await call(stint.url, 'GET', '/requests?scope=mine', { token: tokens.bob });
      expect((after.json as { items: unknown[] }).items).toHaveLength(
        (before.json as { items: unknown[] }).items.length,
      );
    },
  );

  it('refuses a call without a token before any handler runs', async () => {
    const res = await call(stint.url, 'POST', '/requests', { body: { flowId: 'demo-readonly', durationMinutes: 5 } });
    expect(res.status).toBe(401);
  });
});

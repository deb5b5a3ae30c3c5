import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requestRevoke } from '#lib/domain/lifecycle.ts';
import type { AccessRequest, RequestStatus } from '#lib/domain/request.ts';
import { postgresqlDriver, roleNameFor } from '#lib/integrations/postgresql.ts';
import { GrantPermanentError } from '#lib/integrations/types.ts';
import { resolveSecret } from '#lib/secrets/resolve.ts';
import { openSecret, sealSecret } from '#lib/secrets/seal.ts';
import { WorkflowService } from '#lib/services/workflow.ts';
import { requestKey } from '#lib/store/keys.ts';
import { Store } from '#lib/store/store.ts';
import { MAX_WAIT_SECONDS } from '#lib/workflow/contract.ts';
import { route } from '#lib/workflow/route.ts';
import { driverContext } from '../../support/driver-context.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aFlow, anIdentity, anIntegration, aRequest } from '../../support/fixtures.ts';
import { useTestPostgres } from '../../support/postgres.ts';
import { RecordingExecutions } from '../../support/recording-executions.ts';
import { seedIntegration, TestClock } from '../../support/services.ts';

const KEY = 'a-fixed-sealing-key-for-tests-0123456789';
const SECRET_ENV = 'STINT_SVC_TEST_PG_ADMIN';
const APP_DB = 'app';

const postgres = useTestPostgres();
const pg = postgresqlDriver;

const alice = anIdentity({ sub: 'alice' });
const readonly = { integrationId: 'pg', resource: APP_DB, permission: 'readonly' };
const broken = { integrationId: 'pg', resource: APP_DB, permission: 'broken' };
const flow = aFlow({
  id: 'pg-self-serve',
  approval: { mode: 'auto' },
  targets: [readonly, broken],
  maxExtensions: 2,
});

let previousSecret: string | undefined;
beforeAll(async () => {
  const admin = await postgres.current.connect();
  await admin.query(`CREATE DATABASE ${APP_DB}`);
  await admin.query('CREATE ROLE app_readonly NOLOGIN');
  await admin.end();
  previousSecret = process.env[SECRET_ENV];
  process.env[SECRET_ENV] = JSON.stringify({
    username: postgres.current.adminUser,
    password: postgres.current.adminPassword,
  });
});
afterAll(() => {
  if (previousSecret === undefined) delete process.env[SECRET_ENV];
  else process.env[SECRET_ENV] = previousSecret;
});

let table: LocalTable;
let store: Store;
let executions: RecordingExecutions;
let clock: TestClock;
let workflow: WorkflowService;

beforeEach(async () => {
  table = await startDynalite();
  // Real time: the granted role must be able to log in (VALID UNTIL lies ahead of the server's clock).
  clock = new TestClock(new Date(Math.floor(Date.now() / 1000) * 1000).toISOString());
  store = new Store(table.doc, table.tableName, { now: clock.now });
  executions = new RecordingExecutions();
  workflow = new WorkflowService({
    store,
    executions,
    resolveSecret,
    seal: (plain) => sealSecret(plain, KEY),
    now: clock.now,
  });
  await seedIntegration(
    store,
    anIntegration({
      config: { host: postgres.current.host, port: postgres.current.port, database: 'postgres', sslmode: 'disable' },
      secretRef: `env:${SECRET_ENV}`,
      resources: [
        {
          id: APP_DB,
          owners: [],
          permissions: [
            { id: 'readonly', grants: ['app_readonly'] },
            { id: 'broken', grants: ['no_such_role'] },
          ],
        },
      ],
    }),
  );
});
afterEach(async () => {
  await table.stop();
});

/** A request as RequestService leaves it under a self-serve flow. */
async function approved(units = [readonly], overrides: Partial<AccessRequest> = {}): Promise<AccessRequest> {
  const at = clock.now().toISOString();
  const request = aRequest({
    requester: alice,
    grantee: alice,
    flow,
    units,
    status: 'APPROVED',
    createdAt: at,
    approvalDeadline: undefined,
    decision: { outcome: 'auto', by: 'stint:system', channel: 'api', at },
    lastChange: { by: 'alice', channel: 'api', action: 'create', at },
    durationMinutes: 30,
    ...overrides,
  });
  await store.createRequest(request);
  return request;
}

async function stored(id: string): Promise<AccessRequest> {
  const request = await store.getRequest(id);
  if (request === undefined) throw new Error(`request ${id} is gone`);
  return request;
}

async function role(name: string): Promise<{ validUntil: string | null; canLogin: boolean } | undefined> {
  const client = await postgres.current.connect();
  try {
    const result = await client.query<{ rolvaliduntil: Date | null; rolcanlogin: boolean }>(
      'SELECT rolvaliduntil, rolcanlogin FROM pg_roles WHERE rolname = $1',
      [name],
    );
    const row = result.rows[0];
    return row === undefined
      ? undefined
      : { validUntil: row.rolvaliduntil?.toISOString() ?? null, canLogin: row.rolcanlogin };
  } finally {
    await client.end();
  }
}

/** Logs in as the granted role with the password sealed on the request; resolves the current user's name. */
async function loginWithSealedPassword(request: AccessRequest): Promise<string> {
  const grant = request.grants[0];
  if (grant?.sealedSecret === undefined) throw new Error('no sealed secret');
  const password = await openSecret(grant.sealedSecret, KEY);
  const username = String(grant.access?.username);
  const client = await postgres.current.connect({ database: APP_DB, user: username, password });
  try {
    const result = await client.query<{ user: string }>('SELECT current_user AS user');
    return result.rows[0]?.user ?? '';
  } finally {
    await client.end();
  }
}

describe('route', () => {
  const now = new Date('2030-01-15T10:00:00.000Z');
  const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000).toISOString();
  const cases: [string, Partial<AccessRequest>, { next: string; waitSeconds: number }][] = [
    [
      'PENDING before its deadline',
      { status: 'PENDING', approvalDeadline: at(30) },
      { next: 'await-approval', waitSeconds: 1800 },
    ],
    [
      'PENDING past its deadline',
      { status: 'PENDING', approvalDeadline: at(-1) },
      { next: 'await-approval', waitSeconds: 1 },
    ],
    [
      'PENDING for longer than one wait',
      { status: 'PENDING', approvalDeadline: at(60 * 24 * 30) },
      { next: 'await-approval', waitSeconds: MAX_WAIT_SECONDS },
    ],
    ['APPROVED', { status: 'APPROVED' }, { next: 'grant', waitSeconds: 1 }],
    ['GRANTING', { status: 'GRANTING' }, { next: 'grant', waitSeconds: 1 }],
    [
      'ACTIVE before expiry',
      { status: 'ACTIVE', expiresAt: at(10), enforcedExpiresAt: at(10) },
      { next: 'await-expiry', waitSeconds: 600 },
    ],
    [
      'ACTIVE after an extension',
      { status: 'ACTIVE', expiresAt: at(20), enforcedExpiresAt: at(10) },
      { next: 'apply-extension', waitSeconds: 1 },
    ],
    [
      'ACTIVE past expiry',
      { status: 'ACTIVE', expiresAt: at(0), enforcedExpiresAt: at(0) },
      { next: 'revoke', waitSeconds: 1 },
    ],
    ['REVOKING', { status: 'REVOKING' }, { next: 'revoke', waitSeconds: 1 }],
  ];
  it.each(cases)('routes %s', (_name, overrides, expected) => {
    expect(route(aRequest(overrides), ['postgresql'], now)).toEqual({ ...expected, driver: 'postgresql' });
  });

  const done: RequestStatus[] = ['REJECTED', 'CANCELLED', 'TIMED_OUT', 'FAILED', 'REVOKED', 'EXPIRED', 'REVOKE_FAILED'];
  it.each(done)('ends the execution at %s', (status) => {
    expect(route(aRequest({ status }), ['postgresql'], now)).toEqual({
      next: 'done',
      waitSeconds: 1,
      driver: 'postgresql',
    });
  });
});

describe('load', () => {
  it('routes on the stored status and reports the version it saw', async () => {
    const request = await approved();

    expect(await workflow.load(request.id)).toEqual({
      next: 'grant',
      waitSeconds: 1,
      version: 1,
      driver: 'postgresql',
      branch: 'grant:postgresql',
      // The hint for the grant step: the integration it reads with the request.
      integrationIds: ['pg'],
    });
  });

  it('ends an execution whose request does not exist', async () => {
    expect(await workflow.load('01NOSUCHREQUEST0000000000')).toEqual({
      next: 'done',
      waitSeconds: 1,
      version: 0,
      driver: 'postgresql',
      branch: 'done',
      integrationIds: [],
    });
  });
});

describe('a driver step with the route hint', () => {
  /** The commands the store's client sends during `work`, by name. */
  async function commandsDuring(work: () => Promise<unknown>): Promise<string[]> {
    const sent: string[] = [];
    table.doc.middlewareStack.add(
      (next, context) => async (args) => {
        sent.push(context.commandName ?? 'unknown');
        return next(args);
      },
      { step: 'initialize', name: 'recordStepCommands' },
    );
    try {
      await work();
    } finally {
      table.doc.middlewareStack.remove('recordStepCommands');
    }
    return sent;
  }

  it('reads the request and its integration in one BatchGetItem, then grants and activates in two writes', async () => {
    const request = await approved([readonly], { unitTypes: ['postgresql'] });

    const sent = await commandsDuring(() => workflow.grant(request.id, pg, { integrationIds: ['pg'] }));

    expect(sent).toEqual(['BatchGetItemCommand', 'PutItemCommand', 'PutItemCommand']);
    expect((await stored(request.id)).status).toBe('ACTIVE');
    expect(await role(roleNameFor(request.id, readonly))).toMatchObject({ canLogin: true });
  });

  it('revokes from the same one read, and answers the route of what it wrote', async () => {
    const request = await approved([readonly], { unitTypes: ['postgresql'] });
    await workflow.grant(request.id, pg, { integrationIds: ['pg'] });
    await store.updateRequest(request.id, (current) =>
      requestRevoke(current, { who: alice, channel: 'api', now: clock.now(), isAdmin: false }),
    );

    let answered: unknown;
    const sent = await commandsDuring(async () => {
      answered = await workflow.revoke(request.id, pg, { integrationIds: ['pg'] });
    });

    expect(sent).toEqual(['BatchGetItemCommand', 'PutItemCommand']);
    expect((await stored(request.id)).status).toBe('REVOKED');
    expect(await role(roleNameFor(request.id, readonly))).toBeUndefined();
    expect(answered).toMatchObject({ next: 'done', integrationIds: [] });
  });

  it('acts on what the request names when the hint names another integration (the table is the truth)', async () => {
    const request = await approved([readonly], { unitTypes: ['postgresql'] });

    const sent = await commandsDuring(() => workflow.grant(request.id, pg, { integrationIds: ['not-this-one'] }));

    // The hinted item does not exist; the request's own integration is read on its own.
    expect(sent).toEqual(['BatchGetItemCommand', 'PutItemCommand', 'GetItemCommand', 'PutItemCommand']);
    const active = await stored(request.id);
    expect(active.status).toBe('ACTIVE');
    expect(active.grants.map((g) => g.unit)).toEqual([readonly]);
  });

  it('does not grant from an integration the hint read deleted', async () => {
    const request = await approved([readonly], { unitTypes: ['postgresql'] });
    await store.deleteIntegration('pg', {
      by: 'admin',
      channel: 'api',
      action: 'delete',
      at: clock.now().toISOString(),
    });

    await expect(workflow.grant(request.id, pg, { integrationIds: ['pg'] })).rejects.toThrow(/no longer exists/);
    expect(await role(roleNameFor(request.id, readonly))).toBeUndefined();
  });

  it('reads with a GetItem as before when the route gave no hint', async () => {
    const request = await approved([readonly], { unitTypes: ['postgresql'] });

    const sent = await commandsDuring(() => workflow.grant(request.id, pg));

    expect(sent).toEqual(['GetItemCommand', 'PutItemCommand', 'GetItemCommand', 'PutItemCommand']);
    expect((await stored(request.id)).status).toBe('ACTIVE');
  });
});

describe('grant', () => {
  it('activates the request with a sealed password that logs in, and VALID UNTIL set to expiresAt', async () => {
    const request = await approved();

    await workflow.grant(request.id, pg);

    const active = await stored(request.id);
    const expected = new Date(clock.now().getTime() + 30 * 60_000).toISOString();
    expect(active.status).toBe('ACTIVE');
    expect(active.expiresAt).toBe(expected);
    expect(active.enforcedExpiresAt).toBe(expected);
    expect(active.grantedAt).toBe(clock.now().toISOString());
    const roleName = roleNameFor(request.id, readonly);
    expect(active.grants).toHaveLength(1);
    expect(active.grants[0]?.state).toEqual({ role: roleName });
    expect(active.grants[0]?.access).toMatchObject({ database: APP_DB, username: roleName });
    expect(await role(roleName)).toEqual({ validUntil: expected, canLogin: true });
    expect(await loginWithSealedPassword(active)).toBe(roleName);
    expect((await workflow.load(request.id)).next).toBe('await-expiry');
  });

  it('answers the route of what follows, as Load reads it from the table after its write', async () => {
    const request = await approved();

    const next = await workflow.grant(request.id, pg);

    expect(next).toMatchObject({
      next: 'await-expiry',
      branch: 'await-expiry',
      version: (await stored(request.id)).version,
    });
    expect(next).toEqual(await workflow.load(request.id));
  });

  it('does nothing on a stale route (the request is ACTIVE already) and answers the route the data gives', async () => {
    const request = await approved();
    await workflow.grant(request.id, pg);
    const first = await stored(request.id);

    const next = await workflow.grant(request.id, pg);

    expect(await stored(request.id)).toEqual(first);
    expect(next).toMatchObject({ next: 'await-expiry', version: first.version });
  });

  it('changes nothing when repeated after it succeeded (a retried invocation)', async () => {
    const request = await approved();
    await workflow.grant(request.id, pg);
    const first = await stored(request.id);

    await workflow.grant(request.id, pg);

    expect(await stored(request.id)).toEqual(first);
    expect(await loginWithSealedPassword(first)).toBe(roleNameFor(request.id, readonly));
  });

  it('converges when the role was created but the grant was never recorded (crash, then retry)', async () => {
    const request = await approved();
    // The first attempt moved to GRANTING and created the role, then died before recording it.
    const expiresAt = new Date(clock.now().getTime() + 30 * 60_000).toISOString();
    await store.updateRequest(request.id, (r) => ({ ...r, status: 'GRANTING', expiresAt }));
    const integration = await store.getIntegration('pg');
    if (integration === undefined) throw new Error('integration missing');
    await pg.grant(
      driverContext(integration, {
        requestId: request.id,
        grantee: alice,
        resource: APP_DB,
        permission: 'readonly',
        expiresAt: new Date(expiresAt),
        secret: await resolveSecret(`env:${SECRET_ENV}`),
      }),
    );

    await workflow.grant(request.id, pg);

    const active = await stored(request.id);
    expect(active.status).toBe('ACTIVE');
    expect(active.expiresAt).toBe(expiresAt);
    expect(await loginWithSealedPassword(active)).toBe(roleNameFor(request.id, readonly));
    expect((await role(roleNameFor(request.id, readonly)))?.validUntil).toBe(expiresAt);
  });

  it('fails permanently on a missing role; grantFailed hands it to the revoke path, which ends FAILED with no role left', async () => {
    const request = await approved([readonly, broken]);

    const error = await workflow.grant(request.id, pg).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrantPermanentError);
    // The first unit landed before the second failed.
    expect(await role(roleNameFor(request.id, readonly))).toBeDefined();

    await workflow.grantFailed(request.id, {
      Error: 'GrantPermanentError',
      Cause: JSON.stringify({
        errorType: 'GrantPermanentError',
        errorMessage: error instanceof Error ? error.message : '',
      }),
    });

    const undoing = await stored(request.id);
    expect([undoing.status, undoing.endReason]).toEqual(['REVOKING', 'failed']);
    expect((await workflow.load(request.id)).next).toBe('revoke');

    await workflow.revoke(request.id, pg);

    const failed = await stored(request.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.failureReason).toBe(
      'GrantPermanentError: integration pg: role(s) to grant do not exist: no_such_role',
    );
    expect(failed.grants.every((g) => g.sealedSecret === undefined)).toBe(true);
    expect(await role(roleNameFor(request.id, readonly))).toBeUndefined();
    expect(await role(roleNameFor(request.id, broken))).toBeUndefined();
    expect((await workflow.load(request.id)).next).toBe('done');
  });
});

describe('revoke', () => {
  async function active(): Promise<AccessRequest> {
    const request = await approved();
    await workflow.grant(request.id, pg);
    return stored(request.id);
  }

  it('expires a grant whose time is up: role dropped, sealed secrets erased', async () => {
    const request = await active();
    clock.advanceMinutes(31);

    await workflow.revoke(request.id, pg);

    const expired = await stored(request.id);
    expect(expired.status).toBe('EXPIRED');
    expect(expired.endReason).toBe('expired');
    expect(expired.revokedAt).toBe(clock.now().toISOString());
    expect(expired.grants).toHaveLength(1);
    expect(expired.grants[0]?.sealedSecret).toBeUndefined();
    expect(await role(roleNameFor(request.id, readonly))).toBeUndefined();
  });

  it('ends as REVOKED when someone revoked early', async () => {
    const request = await active();
    await store.updateRequest(request.id, (r) =>
      requestRevoke(r, { who: alice, channel: 'api', now: clock.now(), isAdmin: false }),
    );

    const next = await workflow.revoke(request.id, pg);

    expect((await stored(request.id)).status).toBe('REVOKED');
    expect(await role(roleNameFor(request.id, readonly))).toBeUndefined();
    expect(next).toMatchObject({ next: 'done', branch: 'done' });
  });

  it('revokes a grant whose integration an admin deleted while it was ACTIVE', async () => {
    const request = await active();
    await store.deleteIntegration(readonly.integrationId, {
      by: 'root',
      channel: 'api',
      action: 'delete',
      at: clock.now().toISOString(),
    });
    clock.advanceMinutes(31);

    await workflow.revoke(request.id, pg);

    expect((await stored(request.id)).status).toBe('EXPIRED');
    expect(await role(roleNameFor(request.id, readonly))).toBeUndefined();
  });

  it('is harmless when repeated', async () => {
    const request = await active();
    clock.advanceMinutes(31);
    await workflow.revoke(request.id, pg);
    const first = await stored(request.id);

    await workflow.revoke(request.id, pg);

    expect(await stored(request.id)).toEqual(first);
  });

  it('leaves alone an ACTIVE grant whose expiry was extended after Load routed it to revoke', async () => {
    const request = await active();
    clock.advanceMinutes(31);
    expect((await workflow.load(request.id)).next).toBe('revoke');
    // The grantee extends between Load and Revoke.
    const extendedTo = new Date(clock.now().getTime() + 15 * 60_000).toISOString();
    await store.updateRequest(request.id, (r) => ({ ...r, expiresAt: extendedTo }));

    const next = await workflow.revoke(request.id, pg);

    const after = await stored(request.id);
    expect(after.status).toBe('ACTIVE');
    expect(await role(roleNameFor(request.id, readonly))).toBeDefined();
    expect((await workflow.load(request.id)).next).toBe('apply-extension');
    // Its answer (the next $.load) routes on the data too, not on the stale route that brought it here.
    expect(next).toEqual(await workflow.load(request.id));
  });

  it('records REVOKE_FAILED with the reason, only from REVOKING', async () => {
    const request = await active();

    await workflow.revokeFailed(request.id, { Error: 'Error', Cause: 'connection refused' });
    expect((await stored(request.id)).status).toBe('ACTIVE');

    await store.updateRequest(request.id, (r) =>
      requestRevoke(r, { who: alice, channel: 'api', now: clock.now(), isAdmin: false }),
    );
    await workflow.revokeFailed(request.id, { Error: 'Error', Cause: 'connection refused' });

    const failed = await stored(request.id);
    expect(failed.status).toBe('REVOKE_FAILED');
    expect(failed.failureReason).toBe('Error: connection refused');
  });
});

describe('applyExtension', () => {
  it('moves VALID UNTIL to the extended expiry and marks it enforced', async () => {
    const request = await approved();
    await workflow.grant(request.id, pg);
    const before = await stored(request.id);
    const extendedTo = new Date(Date.parse(before.expiresAt ?? '') + 15 * 60_000).toISOString();
    await store.updateRequest(request.id, (r) => ({ ...r, expiresAt: extendedTo }));
    expect((await workflow.load(request.id)).next).toBe('apply-extension');

    await workflow.applyExtension(request.id, pg);

    expect((await role(roleNameFor(request.id, readonly)))?.validUntil).toBe(extendedTo);
    expect((await stored(request.id)).enforcedExpiresAt).toBe(extendedTo);
    expect((await workflow.load(request.id)).next).toBe('await-expiry');
  });
});

describe('timeOut', () => {
  it('times out a pending request only once its deadline has passed', async () => {
    const request = aRequest({ createdAt: clock.now().toISOString() });
    await store.createRequest(request);

    clock.advanceMinutes(59);
    await workflow.timeOut(request.id);
    expect((await stored(request.id)).status).toBe('PENDING');

    clock.advanceMinutes(1);
    await workflow.timeOut(request.id);
    const timedOut = await stored(request.id);
    expect(timedOut.status).toBe('TIMED_OUT');
    expect(timedOut.lastChange).toMatchObject({ by: 'stint:system', channel: 'workflow', action: 'time-out' });
  });
});

describe('registerToken', () => {
  it('stores the token when the request is as Load saw it, and resumes nothing', async () => {
    const request = aRequest();
    await store.createRequest(request);

    await workflow.registerToken({ requestId: request.id, attempt: 0, kind: 'approval', taskToken: 't1', version: 1 });

    expect((await stored(request.id)).approvalToken).toBe('t1');
    expect(executions.resumes).toEqual([]);
  });

  it('stores the token by a conditional update marked noEvent, which the next full write drops', async () => {
    const request = aRequest();
    await store.createRequest(request);

    await workflow.registerToken({ requestId: request.id, attempt: 0, kind: 'approval', taskToken: 't1', version: 1 });

    const raw = async () =>
      (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: requestKey(request.id) }))).Item;
    expect(await raw()).toMatchObject({ approvalToken: 't1', version: 2, noEvent: true });
    expect(await stored(request.id)).toEqual({ ...request, approvalToken: 't1', version: 2 });
    await store.updateRequest(request.id, (r) => ({ ...r, justification: 'changed' }));
    expect(await raw()).not.toHaveProperty('noEvent');
  });

  it('resumes at once when the request changed since Load (stale version)', async () => {
    const request = aRequest();
    await store.createRequest(request);
    await store.updateRequest(request.id, (r) => ({ ...r, justification: 'changed' }));
    executions.live('t1');

    await workflow.registerToken({ requestId: request.id, attempt: 0, kind: 'approval', taskToken: 't1', version: 1 });

    expect((await stored(request.id)).approvalToken).toBeUndefined();
    expect(executions.resumes).toEqual([{ token: 't1', live: true }]);
  });

  it('resumes an expiry wait registered for a request that is no longer ACTIVE', async () => {
    const request = aRequest({ status: 'REVOKING', endReason: 'revoked' });
    await store.createRequest(request);
    executions.live('t2');

    await workflow.registerToken({ requestId: request.id, attempt: 0, kind: 'active', taskToken: 't2' });

    expect((await stored(request.id)).activeToken).toBeUndefined();
    expect(executions.resumes).toEqual([{ token: 't2', live: true }]);
  });
});

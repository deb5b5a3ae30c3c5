import { escapeIdentifier, escapeLiteral } from 'pg';
import { ulid } from 'ulid';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StintEvent } from '#events/schemas.ts';
import type { AccessUnit } from '#lib/domain/bundle.ts';
import type { AccessRequest, RequestStatus } from '#lib/domain/request.ts';
import { postgresqlDriver, roleNameFor } from '#lib/integrations/postgresql.ts';
import { resolveSecret } from '#lib/secrets/resolve.ts';
import { sealSecret } from '#lib/secrets/seal.ts';
import { OrphanSweep, type SweepTarget } from '#lib/services/sweep.ts';
import { WorkflowService } from '#lib/services/workflow.ts';
import { Store } from '#lib/store/store.ts';
import { driverContext } from '../../support/driver-context.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aFlow, anIdentity, anIntegration, aRequest } from '../../support/fixtures.ts';
import { useTestPostgres } from '../../support/postgres.ts';
import { RecordingExecutions } from '../../support/recording-executions.ts';
import { seedIntegration } from '../../support/services.ts';

const KEY = 'a-fixed-sealing-key-for-tests-0123456789';
const SECRET_ENV = 'STINT_SWEEP_TEST_PG_ADMIN';
const APP_DB = 'app';

const postgres = useTestPostgres();

const alice = anIdentity({ sub: 'alice' });
const readonly: AccessUnit = { integrationId: 'pg', resource: APP_DB, permission: 'readonly' };
const flow = aFlow({ id: 'pg-self-serve', approval: { mode: 'auto' }, targets: [readonly] });

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
let workflow: WorkflowService;
let published: StintEvent[];
let sweep: OrphanSweep;

const pgConfig = () => ({
  host: postgres.current.host,
  port: postgres.current.port,
  database: 'postgres',
  sslmode: 'disable',
});

/** The driver function's code, called in process (driver-step.ts does the same behind Lambda Invoke). */
const target = (): SweepTarget => ({
  listManaged: (_type, integrationId, holders) => workflow.listManaged(integrationId, holders, postgresqlDriver),
  revokeManaged: async (_type, integrationId, principal) => {
    await workflow.revokeManaged(integrationId, principal, postgresqlDriver);
  },
});

beforeEach(async () => {
  table = await startDynalite();
  store = new Store(table.doc, table.tableName);
  workflow = new WorkflowService({
    store,
    executions: new RecordingExecutions(),
    resolveSecret,
    seal: (plain) => sealSecret(plain, KEY),
  });
  published = [];
  sweep = new OrphanSweep({
    store,
    target: target(),
    publish: async (events) => {
      published.push(...events);
    },
  });
  await seedIntegration(
    store,
    anIntegration({
      config: pgConfig(),
      secretRef: `env:${SECRET_ENV}`,
      resources: [{ id: APP_DB, owners: [], permissions: [{ id: 'readonly', grants: ['app_readonly'] }] }],
    }),
  );
});

afterEach(async () => {
  await table.stop();
  // Every test starts from a cluster without Stint's roles (the cluster is this file's own).
  const admin = await postgres.current.connect();
  try {
    const roles = await admin.query<{ rolname: string }>(
      "SELECT rolname FROM pg_roles WHERE left(rolname, 6) = 'stint_'",
    );
    for (const { rolname } of roles.rows) await admin.query(`DROP ROLE ${escapeIdentifier(rolname)}`);
  } finally {
    await admin.end();
  }
});

async function sql(text: string): Promise<void> {
  const admin = await postgres.current.connect();
  try {
    await admin.query(text);
  } finally {
    await admin.end();
  }
}

async function roleExists(name: string): Promise<boolean> {
  const admin = await postgres.current.connect();
  try {
    const result = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
    return result.rowCount === 1;
  } finally {
    await admin.end();
  }
}

/** A role as Stint's grant leaves it (prefix, marker naming the request), created behind Stint's back. */
async function markedRole(requestId: string, unit: AccessUnit = readonly): Promise<string> {
  const name = roleNameFor(requestId, unit);
  await sql(`CREATE ROLE ${escapeIdentifier(name)} LOGIN PASSWORD NULL`);
  await sql(`COMMENT ON ROLE ${escapeIdentifier(name)} IS ${escapeLiteral(`managed by stint; request ${requestId}`)}`);
  return name;
}

async function storedRequest(status: RequestStatus, overrides: Partial<AccessRequest> = {}): Promise<AccessRequest> {
  const at = new Date().toISOString();
  const request = aRequest({
    requester: alice,
    grantee: alice,
    flow,
    units: [readonly],
    status,
    createdAt: at,
    approvalDeadline: undefined,
    // Changed before the sweep starts (a request changed during the sweep is left to the next one).
    lastChange: { by: 'alice', channel: 'api', action: 'create', at: new Date(Date.now() - 60_000).toISOString() },
    ...overrides,
  });
  await store.createRequest(request);
  return request;
}

/** An ACTIVE request granted by the workflow (its role made by the driver, its grant recorded). */
async function activeRequest(): Promise<AccessRequest> {
  const request = await storedRequest('APPROVED', {
    decision: { outcome: 'auto', by: 'stint:system', channel: 'api', at: new Date().toISOString() },
    durationMinutes: 30,
  });
  await workflow.grant(request.id, postgresqlDriver);
  const active = await store.getRequest(request.id);
  if (active?.status !== 'ACTIVE') throw new Error(`the grant left the request ${active?.status}`);
  return active;
}

describe('the orphan sweep on PostgreSQL', () => {
  it('removes a Stint-marked role whose request is REVOKED, with a grant.orphan_revoked event', async () => {
    const request = await storedRequest('REVOKED', { revokedAt: new Date().toISOString(), endReason: 'revoked' });
    const role = await markedRole(request.id);

    const report = await sweep.run();

    expect(await roleExists(role)).toBe(false);
    expect(report).toMatchObject({ swept: 1, failed: 0, revoked: 1, drift: 0 });
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      type: 'grant.orphan_revoked',
      severity: 'high',
      actor: { sub: 'stint:system', channel: 'reconciler' },
      integration: { id: 'pg', type: 'postgresql' },
      principal: role,
      requestId: request.id,
      requestStatus: 'REVOKED',
    });
  });

  it('keeps a Stint-marked role whose request this deployment has no record of (another deployment’s)', async () => {
    const requestId = ulid();
    const role = await markedRole(requestId);

    const report = await sweep.run();

    expect(await roleExists(role)).toBe(true);
    expect(published).toEqual([]);
    expect(report).toMatchObject({ revoked: 0, foreign: 1 });
  });

  it('leaves a role with the prefix but without the marker alone', async () => {
    await sql(`CREATE ROLE stint_not_ours LOGIN`);
    await sql(`CREATE ROLE stint_commented_by_someone NOLOGIN`);
    await sql(`COMMENT ON ROLE stint_commented_by_someone IS 'the DBA team: do not drop'`);

    const report = await sweep.run();

    expect(await roleExists('stint_not_ours')).toBe(true);
    expect(await roleExists('stint_commented_by_someone')).toBe(true);
    expect(report).toMatchObject({ swept: 1, revoked: 0, failed: 0 });
    expect(published).toEqual([]);
  });

  it('keeps the role of an ACTIVE request, and reports no drift for it', async () => {
    const request = await activeRequest();
    const role = roleNameFor(request.id, readonly);
    expect(await roleExists(role)).toBe(true);

    const report = await sweep.run();

    expect(await roleExists(role)).toBe(true);
    expect(report).toMatchObject({ swept: 1, revoked: 0, drift: 0 });
    expect(published).toEqual([]);
  });

  it('keeps the role of a GRANTING request whose grant is not recorded yet', async () => {
    const request = await storedRequest('GRANTING', { durationMinutes: 30 });
    const integration = await store.getIntegration('pg');
    if (integration === undefined) throw new Error('no integration');
    // The driver created the role; the request does not say so yet (the step crashed before recording it).
    await postgresqlDriver.grant(
      driverContext(integration, {
        requestId: request.id,
        resource: APP_DB,
        permission: 'readonly',
        secret: process.env[SECRET_ENV],
      }),
    );
    const role = roleNameFor(request.id, readonly);
    expect(await roleExists(role)).toBe(true);

    const report = await sweep.run();

    expect(await roleExists(role)).toBe(true);
    expect(report.revoked).toBe(0);
    expect(published).toEqual([]);
  });

  it('reports drift for an ACTIVE request whose role was dropped by hand, and re-grants nothing', async () => {
    const request = await activeRequest();
    const role = roleNameFor(request.id, readonly);
    await sql(`DROP ROLE ${escapeIdentifier(role)}`);

    const report = await sweep.run();

    expect(report).toMatchObject({ swept: 1, revoked: 0, drift: 1 });
    expect(await roleExists(role)).toBe(false);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      type: 'grant.drift_detected',
      severity: 'warning',
      principal: role,
      unit: readonly,
      integration: { id: 'pg', type: 'postgresql' },
      request: { id: request.id, status: 'ACTIVE' },
    });
    expect((await store.getRequest(request.id))?.status).toBe('ACTIVE');
  });

  it('keeps a role whose request is made and granted while the target is being listed', async () => {
    let raced: string | undefined;
    const racing = new OrphanSweep({
      store,
      target: {
        ...target(),
        listManaged: async (type, integrationId, holders) => {
          // A grant racing the sweep: its request did not exist at the first read, its role does at the listing.
          if (raced === undefined) {
            const request = await storedRequest('GRANTING');
            raced = await markedRole(request.id);
          }
          return target().listManaged(type, integrationId, holders);
        },
      },
      publish: async (events) => {
        published.push(...events);
      },
    });

    const report = await racing.run();

    expect(raced).toBeDefined();
    expect(await roleExists(raced ?? '')).toBe(true);
    expect(report.revoked).toBe(0);
    expect(published).toEqual([]);
  });

  it('removes nothing when the live requests cannot be read completely (fail closed)', async () => {
    const role = await markedRole(ulid());
    class Unreadable extends Store {
      override async listRequestsByStatus(...args: Parameters<Store['listRequestsByStatus']>) {
        if (args[0] === 'REVOKING') throw new Error('ProvisionedThroughputExceededException');
        return super.listRequestsByStatus(...args);
      }
    }
    const failing = new OrphanSweep({
      store: new Unreadable(table.doc, table.tableName),
      target: target(),
      publish: async (events) => {
        published.push(...events);
      },
    });

    const report = await failing.run();

    expect(report.aborted).toMatch(/could not be read/);
    expect(report.revoked).toBe(0);
    expect(await roleExists(role)).toBe(true);
    expect(published).toEqual([]);
  });

  it('goes on with the other integrations when one target is unreachable', async () => {
    await seedIntegration(
      store,
      anIntegration({
        id: 'aa-unreachable',
        // Nothing listens on port 1.
        config: { ...pgConfig(), port: 1 },
        secretRef: `env:${SECRET_ENV}`,
      }),
    );
    const request = await storedRequest('REVOKED', { revokedAt: new Date().toISOString(), endReason: 'revoked' });
    const role = await markedRole(request.id);

    const report = await sweep.run();

    expect(report).toMatchObject({ swept: 1, failed: 1, revoked: 1 });
    expect(await roleExists(role)).toBe(false);
  });
});

describe('the PostgreSQL driver for the sweep', () => {
  it('refuses to remove a role without the marker, even when asked by name', async () => {
    const requestId = ulid();
    const name = roleNameFor(requestId, readonly);
    await sql(`CREATE ROLE ${escapeIdentifier(name)} LOGIN`);

    await expect(workflow.revokeManaged('pg', { name, requestId }, postgresqlDriver)).rejects.toThrow(
      /not created by Stint; refusing to touch it/,
    );
    expect(await roleExists(name)).toBe(true);
  });

  it('lists only roles with the prefix and the marker, and names each holder’s role', async () => {
    const ours = ulid();
    const role = await markedRole(ours);
    await sql('CREATE ROLE stint_unmarked NOLOGIN');
    await sql('CREATE ROLE xstint_marked NOLOGIN');
    await sql(`COMMENT ON ROLE xstint_marked IS 'managed by stint; request x'`);

    const answer = await workflow.listManaged('pg', [{ requestId: ours, unit: readonly }], postgresqlDriver);

    expect(answer.managed).toEqual([{ name: role, requestId: ours }]);
    expect(answer.principals).toEqual([role]);
    await sql('DROP ROLE xstint_marked');
  });

  it('discovers the databases and the group roles that could back permissions, not system or Stint roles', async () => {
    await sql('CREATE ROLE app_reporting NOLOGIN');
    await sql(`COMMENT ON ROLE app_reporting IS 'read-only reporting'`);
    await sql('CREATE ROLE rds_like NOLOGIN');
    await sql('CREATE ROLE a_login_user LOGIN');
    const stintRole = await markedRole(ulid());

    const answer = await workflow.discover('pg', postgresqlDriver);

    const ids = answer.resources.map((r) => r.id);
    expect(ids).toContain(APP_DB);
    expect(ids).toContain('postgres');
    expect(ids).not.toContain('template0');
    expect(ids).not.toContain('template1');
    const permissions = answer.resources.find((r) => r.id === APP_DB)?.permissions ?? [];
    expect(permissions).toContainEqual({ id: 'app_readonly', grants: ['app_readonly'] });
    expect(permissions).toContainEqual({
      id: 'app_reporting',
      description: 'read-only reporting',
      grants: ['app_reporting'],
    });
    const offered = permissions.map((p) => p.id);
    expect(offered).not.toContain('rds_like');
    expect(offered).not.toContain('a_login_user');
    expect(offered).not.toContain(stintRole);
    expect(offered.some((id) => id.startsWith('pg_'))).toBe(false);
    await sql('DROP ROLE app_reporting');
    await sql('DROP ROLE rds_like');
    await sql('DROP ROLE a_login_user');
  });
});

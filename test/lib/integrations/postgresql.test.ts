import { escapeIdentifier } from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Integration, Permission } from '#lib/domain/integration.ts';
import {
  CONNECTION_LIMIT,
  POSTGRESQL_CAPABILITIES,
  postgresqlDriver,
  roleNameFor,
} from '#lib/integrations/postgresql.ts';
import {
  AccessView,
  type DriverContext,
  type DriverState,
  type GrantDone,
  GrantPermanentError,
} from '#lib/integrations/types.ts';
import { useTestPostgres } from '../../support/postgres.ts';

const postgres = useTestPostgres();

const APP_DB = 'appdb';
const HOSTILE_DB = `we"ird'; DROP DATABASE appdb; --`;
const HOSTILE_ROLE = `ro"; DROP ROLE app_readonly; --`;

const readonly: Permission = { id: 'readonly', grants: ['app_readonly'] };
const readwrite: Permission = { id: 'readwrite', grants: ['app_readwrite'] };

beforeAll(async () => {
  const admin = await postgres.current.connect();
  await admin.query(`CREATE DATABASE ${APP_DB}`);
  await admin.query(`CREATE DATABASE ${escapeIdentifier(HOSTILE_DB)}`);
  await admin.query('CREATE ROLE app_readonly NOLOGIN');
  await admin.query('CREATE ROLE app_readwrite NOLOGIN');
  await admin.query(`CREATE ROLE ${escapeIdentifier(HOSTILE_ROLE)} NOLOGIN`);
  await admin.end();

  const app = await postgres.current.connect({ database: APP_DB });
  await app.query(`
    CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO items VALUES (1, 'one');
    GRANT SELECT ON items TO app_readonly;
    GRANT SELECT, INSERT ON items TO app_readwrite;
    GRANT CREATE ON SCHEMA public TO app_readwrite;
  `);
  await app.end();
});

let sequence = 0;
/** A fresh request id per test, so tests do not share roles. */
function nextRequestId(): string {
  sequence += 1;
  return `01JREQ${String(sequence).padStart(4, '0')}ABCDEFGHJKMNPQRS`;
}

function integration(config: Integration['config'] = {}): Integration {
  return {
    id: 'pg-main',
    name: 'Main PostgreSQL',
    type: 'postgresql',
    config: {
      host: postgres.current.host,
      port: postgres.current.port,
      database: 'postgres',
      sslmode: 'disable',
      ...config,
    },
    secretRef: 'env:STINT_PG_ADMIN',
    resources: [{ id: APP_DB, owners: [], permissions: [readonly, readwrite] }],
    version: 1,
    lastChange: { by: 'admin', channel: 'admin', action: 'create', at: '2025-01-01T00:00:00.000Z' },
  };
}

function context(
  options: {
    requestId?: string;
    resource?: string;
    permission?: Permission;
    expiresAt?: Date;
    /** The admin secret as resolved from secretRef; `null`: the integration names none. */
    adminSecret?: string | null;
    config?: Integration['config'];
  } = {},
): DriverContext {
  const resource = options.resource ?? APP_DB;
  const permission = options.permission ?? readonly;
  const requestId = options.requestId ?? nextRequestId();
  const secret =
    options.adminSecret === undefined
      ? JSON.stringify({
          username: postgres.current.adminUser,
          password: postgres.current.adminPassword,
          engine: 'postgres',
        })
      : options.adminSecret;
  return {
    requestId,
    idempotencyKey: `idem-${requestId.replace(/[^A-Za-z0-9-]/g, '-')}`.slice(0, 64),
    grantee: { sub: 'alice', email: 'alice@example.com', groups: [] },
    integration: integration(options.config),
    unit: { integrationId: 'pg-main', resource, permission: permission.id },
    resource: { id: resource, owners: [], permissions: [permission] },
    permission,
    expiresAt: options.expiresAt ?? new Date(Date.now() + 60 * 60 * 1000),
    admin: secret === null ? {} : { secret },
    directory: {
      // PostgreSQL never looks the grantee up: reading or linking accounts is a bug.
      accounts: async () => {
        throw new Error('the PostgreSQL driver read the directory');
      },
      link: async () => {
        throw new Error('the PostgreSQL driver linked an account');
      },
    },
    now: new Date(),
  };
}

/** A grant that must finish at once (PostgreSQL never answers pending), with the kind-tagged access it reports. */
async function granted(ctx: DriverContext): Promise<GrantDone & { access: Extract<AccessView, { kind: 'database' }> }> {
  const outcome = await postgresqlDriver.grant(ctx);
  if (outcome.status !== 'done') throw new Error(`grant answered ${outcome.status}, not done`);
  // What the grantee is shown must be a valid AccessView, exactly (strict: nothing extra, no secret).
  const access = AccessView.parse(outcome.access);
  if (access.kind !== 'database') throw new Error(`grant reported access of kind ${access.kind}`);
  expect(outcome.owned).toBeUndefined();
  return { ...outcome, access };
}

/** A revoke that must finish at once, asking for no cleanup later. */
async function revoked(ctx: DriverContext, state: DriverState): Promise<void> {
  expect(await postgresqlDriver.revoke(ctx, state)).toEqual({ status: 'done' });
}

async function loginAs(user: string, password: string, database = APP_DB) {
  return await postgres.current.connect({ user, password, database });
}

async function adminQuery<T>(sql: string, values: unknown[] = []): Promise<T[]> {
  const admin = await postgres.current.connect();
  try {
    return (await admin.query(sql, values)).rows;
  } finally {
    await admin.end();
  }
}

async function rolesNamed(role: string): Promise<number> {
  const rows = await adminQuery<{ n: number }>('SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1', [role]);
  return rows[0]?.n ?? -1;
}

async function sessionsOf(role: string): Promise<number> {
  const rows = await adminQuery<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [
    role,
  ]);
  return rows[0]?.n ?? -1;
}

async function validUntil(role: string): Promise<Date | null> {
  const rows = await adminQuery<{ until: Date | null }>(
    'SELECT rolvaliduntil AS until FROM pg_roles WHERE rolname = $1',
    [role],
  );
  return rows[0]?.until ?? null;
}

describe('postgresql driver contract', () => {
  it('promises what the tests below prove: live sessions end at revoke, the target enforces expiry', () => {
    expect(postgresqlDriver.capabilities).toEqual({
      endsLiveSessions: true,
      residualSessionSeconds: 0,
      targetEnforcesExpiry: true,
      issuesCredentials: false,
    });
    expect(POSTGRESQL_CAPABILITIES).toBe(postgresqlDriver.capabilities);
    expect(postgresqlDriver.issueCredentials).toBeUndefined();
    expect(postgresqlDriver.needsSecret).toBe(true);
  });

  it('shares nothing between requests: no lease keys, for any request or unit', () => {
    const { admin: _admin, ...ctx } = context();
    expect(postgresqlDriver.leaseKeys(ctx)).toEqual([]);
    expect(postgresqlDriver.leaseKeys({ ...ctx, unit: { ...ctx.unit, permission: 'readwrite' } })).toEqual([]);
  });
});

describe('postgresql grant', () => {
  it('issues a login role whose password works, and only with that password', async () => {
    const ctx = context();
    const result = await granted(ctx);
    const username = result.access.username;

    expect(result.state).toEqual({ role: username });
    expect(result.access).toEqual({
      kind: 'database',
      engine: 'postgresql',
      host: postgres.current.host,
      port: postgres.current.port,
      database: APP_DB,
      username: roleNameFor(ctx.requestId, ctx.unit),
    });
    expect(username).toMatch(/^stint_[a-z0-9_]+$/);
    expect(username.length).toBeLessThanOrEqual(63);
    expect(result.secret).toMatch(/^[A-Za-z0-9_-]{32,}$/);

    const session = await loginAs(username, result.secret ?? '');
    const who = await session.query('SELECT current_user AS u');
    await session.end();
    expect(who.rows).toEqual([{ u: username }]);
    await expect(loginAs(username, `${result.secret}x`)).rejects.toThrow(/password authentication failed/);
  });

  it('lets a readonly grantee SELECT but not INSERT', async () => {
    const result = await granted(context({ permission: readonly }));
    const session = await loginAs(result.access.username, result.secret ?? '');
    try {
      const rows = await session.query('SELECT id, name FROM items ORDER BY id');
      expect(rows.rows).toEqual([{ id: 1, name: 'one' }]);
      await expect(session.query("INSERT INTO items VALUES (2, 'two')")).rejects.toThrow(/permission denied/);
    } finally {
      await session.end();
    }
  });

  it('lets a readwrite grantee INSERT', async () => {
    const result = await granted(context({ permission: readwrite }));
    const session = await loginAs(result.access.username, result.secret ?? '');
    try {
      await session.query("INSERT INTO items VALUES (100, 'from readwrite')");
      const rows = await session.query('SELECT name FROM items WHERE id = 100');
      expect(rows.rows).toEqual([{ name: 'from readwrite' }]);
    } finally {
      await session.end();
    }
  });

  it('stores no plain password in the catalog and sets a modest connection limit', async () => {
    const result = await granted(context());
    const rows = await adminQuery<{ pw: string; limit: number; login: boolean; superuser: boolean }>(
      'SELECT rolpassword AS pw, rolconnlimit AS limit, rolcanlogin AS login, rolsuper AS superuser FROM pg_authid WHERE rolname = $1',
      [result.state.role],
    );
    expect(rows[0]?.pw).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(rows[0]?.pw).not.toContain(result.secret);
    expect(rows[0]).toMatchObject({ limit: CONNECTION_LIMIT, login: true, superuser: false });
  });

  it('converges on one role with a new working password when retried', async () => {
    const ctx = context();
    const first = await granted(ctx);
    const second = await granted(ctx);

    expect(second.state).toEqual(first.state);
    expect(second.secret).not.toBe(first.secret);
    const role = String(second.access?.username);
    expect(await rolesNamed(role)).toBe(1);
    const rows = await adminQuery<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'stint\\_%' AND shobj_description(oid, 'pg_authid') LIKE $1",
      [`%request ${ctx.requestId}`],
    );
    expect(rows[0]?.n).toBe(1);
    await expect(loginAs(role, first.secret ?? '')).rejects.toThrow(/password authentication failed/);
    const session = await loginAs(role, second.secret ?? '');
    await session.end();
  });

  it('drops memberships the permission no longer lists when retried', async () => {
    const requestId = nextRequestId();
    const first = await granted(
      context({ requestId, permission: { id: 'readonly', grants: ['app_readonly', 'app_readwrite'] } }),
    );
    await granted(context({ requestId, permission: readonly }));

    const rows = await adminQuery<{ name: string }>(
      `SELECT g.rolname AS name FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
         JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = $1`,
      [first.state.role],
    );
    expect(rows).toEqual([{ name: 'app_readonly' }]);
  });

  it('fails permanently and leaves nothing behind when a role to grant is missing', async () => {
    const ctx = context({ permission: { id: 'readonly', grants: ['app_readonly', 'app_missing'] } });

    const error = await granted(ctx).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(String(error)).toContain('app_missing');
    expect(await rolesNamed(roleNameFor(ctx.requestId, ctx.unit))).toBe(0);
  });

  it('fails permanently when the database does not exist', async () => {
    const ctx = context({ resource: 'no_such_db' });
    await expect(postgresqlDriver.grant(ctx)).rejects.toThrow(/database no_such_db does not exist/);
    expect(await rolesNamed(roleNameFor(ctx.requestId, ctx.unit))).toBe(0);
  });

  it('fails permanently on an admin secret that is not JSON, without quoting it', async () => {
    const error = await granted(context({ adminSecret: 'hunter2-not-json' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(String(error)).toMatch(/admin secret is not JSON/);
    expect(String(error)).not.toContain('hunter2');

    const missingPassword = await postgresqlDriver
      .grant(context({ adminSecret: JSON.stringify({ username: 'postgres', pass: 'hunter2' }) }))
      .catch((e: unknown) => e);
    expect(missingPassword).toBeInstanceOf(GrantPermanentError);
    expect(String(missingPassword)).not.toContain('hunter2');
  });

  it('fails permanently, creating nothing, when the integration names no admin secret', async () => {
    const ctx = context({ adminSecret: null });

    const error = await postgresqlDriver.grant(ctx).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(String(error)).toMatch(/names no secretRef/);
    expect(await rolesNamed(roleNameFor(ctx.requestId, ctx.unit))).toBe(0);
    await expect(postgresqlDriver.revoke(ctx, {})).rejects.toBeInstanceOf(GrantPermanentError);
    await expect(postgresqlDriver.extend(ctx, {})).rejects.toBeInstanceOf(GrantPermanentError);
  });

  it('sets VALID UNTIL to the expiry, and extend moves it', async () => {
    const expiresAt = new Date('2099-01-02T03:04:05.000Z');
    const ctx = context({ expiresAt });
    const result = await granted(ctx);
    expect((await validUntil(String(result.state.role)))?.toISOString()).toBe(expiresAt.toISOString());

    const later = new Date('2099-01-02T05:00:00.000Z');
    await postgresqlDriver.extend({ ...ctx, expiresAt: later }, result.state);
    expect((await validUntil(String(result.state.role)))?.toISOString()).toBe(later.toISOString());
  });

  it('refuses login once VALID UNTIL has passed, with no Stint process involved', async () => {
    const result = await granted(context({ expiresAt: new Date(Date.now() - 1000) }));
    await expect(loginAs(result.access.username, result.secret ?? '')).rejects.toThrow(
      /password authentication failed/,
    );
  });

  it('shows grantees the public host and port when configured', async () => {
    const result = await granted(context({ config: { publicHost: 'db.example.com', publicPort: 6432 } }));
    expect(result.access).toMatchObject({ host: 'db.example.com', port: 6432 });
  });

  it('does not let hostile database, role or request names inject SQL', async () => {
    const permission: Permission = { id: 'hostile', grants: [HOSTILE_ROLE] };
    const ctx = context({ requestId: `req'; DROP ROLE app_readonly; --`, resource: HOSTILE_DB, permission });

    const result = await granted(ctx);
    const role = result.access.username;

    expect(role).toMatch(/^stint_req___drop_role_app_readonly_____[0-9a-f]{8}$/);
    expect(result.access.database).toBe(HOSTILE_DB);
    const session = await loginAs(role, result.secret ?? '', HOSTILE_DB);
    const db = await session.query('SELECT current_database() AS db');
    await session.end();
    expect(db.rows).toEqual([{ db: HOSTILE_DB }]);
    const members = await adminQuery<{ name: string }>(
      `SELECT g.rolname AS name FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
         JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = $1`,
      [role],
    );
    expect(members).toEqual([{ name: HOSTILE_ROLE }]);
    expect(await rolesNamed('app_readonly')).toBe(1);
    const dbs = await adminQuery<{ n: number }>("SELECT count(*)::int AS n FROM pg_database WHERE datname = 'appdb'");
    expect(dbs[0]?.n).toBe(1);

    await revoked(ctx, result.state);
    expect(await rolesNamed(role)).toBe(0);
    expect(await rolesNamed(HOSTILE_ROLE)).toBe(1);
  });
});

describe('postgresql revoke', () => {
  it('ends live sessions, refuses login afterwards and drops the role', async () => {
    const ctx = context();
    const result = await granted(ctx);
    const role = result.access.username;
    const live = await loginAs(role, result.secret ?? '');
    await live.query('SELECT 1');
    expect(await sessionsOf(role)).toBe(1);
    const terminated = new Promise<unknown>((resolve) => live.once('error', resolve));

    await revoked(ctx, result.state);

    expect(await terminated).toMatchObject({ code: '57P01' }); // admin_shutdown: terminated by pg_terminate_backend
    await expect(live.query('SELECT 1')).rejects.toThrow(/not queryable/);
    await live.end().catch(() => undefined);
    expect(await sessionsOf(role)).toBe(0);
    expect(await rolesNamed(role)).toBe(0);
    await expect(loginAs(role, result.secret ?? '')).rejects.toThrow(/password authentication failed/);
  });

  it('succeeds when run twice, and when the role was never created', async () => {
    const ctx = context();
    const result = await granted(ctx);

    await revoked(ctx, result.state);
    await revoked(ctx, result.state);
    await revoked(context(), {});

    expect(await rolesNamed(String(result.state.role))).toBe(0);
  });

  it('finds the role from the request when the grant crashed before recording its state', async () => {
    const ctx = context();
    const result = await granted(ctx);

    await revoked(ctx, {});

    expect(await rolesNamed(String(result.state.role))).toBe(0);
  });

  it('hands objects the grantee created to the admin, then drops the role', async () => {
    const ctx = context({ permission: readwrite });
    const result = await granted(ctx);
    const session = await loginAs(result.access.username, result.secret ?? '');
    await session.query('CREATE TABLE scratch (v int)');
    await session.end();

    await revoked(ctx, result.state);

    expect(await rolesNamed(String(result.state.role))).toBe(0);
    const app = await postgres.current.connect({ database: APP_DB });
    const owner = await app.query("SELECT tableowner FROM pg_tables WHERE tablename = 'scratch'");
    await app.end();
    expect(owner.rows).toEqual([{ tableowner: postgres.current.adminUser }]);
  });

  it('refuses to touch a role Stint did not create', async () => {
    await adminQuery('CREATE ROLE stint_not_ours LOGIN');

    await expect(postgresqlDriver.revoke(context(), { role: 'stint_not_ours' })).rejects.toBeInstanceOf(
      GrantPermanentError,
    );
    expect(await rolesNamed('stint_not_ours')).toBe(1);
  });
});

describe('postgresql verify and extend', () => {
  it('reports a granted role as present and a revoked one as absent', async () => {
    const ctx = context();
    const result = await granted(ctx);
    expect(await postgresqlDriver.verify?.(ctx, result.state)).toEqual({ present: true });

    await revoked(ctx, result.state);
    expect(await postgresqlDriver.verify?.(ctx, result.state)).toEqual({ present: false });
  });

  it('fails permanently when extending a role that is gone', async () => {
    const ctx = context();
    await expect(postgresqlDriver.extend(ctx, {})).rejects.toBeInstanceOf(GrantPermanentError);
  });
});

describe('postgresql with a non-superuser admin (as on RDS)', () => {
  const ADMIN = { username: 'broker_admin', password: 'broker-admin-password-for-tests' };
  const adminSecret = JSON.stringify(ADMIN);

  beforeAll(async () => {
    await adminQuery(`CREATE ROLE broker_admin LOGIN CREATEROLE PASSWORD '${ADMIN.password}'`);
    // ADMIN OPTION on app_readonly only: granting app_readwrite fails after the role is created.
    await adminQuery('GRANT app_readonly TO broker_admin WITH ADMIN OPTION, INHERIT FALSE, SET FALSE');
    await adminQuery('GRANT pg_signal_backend TO broker_admin');
  });

  it('grants and revokes with only CREATEROLE, ADMIN OPTION on the granted role and pg_signal_backend', async () => {
    const ctx = context({ adminSecret });
    const result = await granted(ctx);
    const role = result.access.username;
    const live = await loginAs(role, result.secret ?? '');
    const rows = await live.query('SELECT count(*)::int AS n FROM items');
    expect(rows.rows).toEqual([{ n: expect.any(Number) }]);
    const terminated = new Promise<unknown>((resolve) => live.once('error', resolve));

    await revoked(ctx, result.state);

    expect(await terminated).toMatchObject({ code: '57P01' });
    expect(await rolesNamed(role)).toBe(0);
  });

  it('rolls the whole grant back when a GRANT fails after the role was created', async () => {
    const ctx = context({ adminSecret, permission: readwrite });

    const error = await granted(ctx).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(String(error)).toMatch(/42501/);
    expect(await rolesNamed(roleNameFor(ctx.requestId, ctx.unit))).toBe(0);
  });
});

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Integration, Permission } from '#lib/domain/integration.ts';
import { MYSQL_CAPABILITIES, MysqlState, mysqlDriver, userNameFor } from '#lib/integrations/mysql.ts';
import {
  AccessView,
  type DriverContext,
  type DriverState,
  type GrantDone,
  GrantPermanentError,
} from '#lib/integrations/types.ts';
import { until } from '../../support/http.ts';
import {
  connectAs,
  createMysqlFixture,
  loginResult,
  MYSQL_HOST,
  MYSQL_PORT,
  type MysqlFixture,
  rootQuery,
  traces,
} from '../../support/mysql.ts';

/** The mysql driver against the machine's real MariaDB, with an admin user holding only the documented privileges. */
let fx: MysqlFixture;
let read: Permission;
let write: Permission;
const run = randomBytes(3).toString('hex').toUpperCase();

beforeAll(async () => {
  fx = await createMysqlFixture('drv');
  read = { id: 'read', grants: [fx.readRole] };
  write = { id: 'write', grants: [fx.readRole, fx.writeRole] };
});
afterAll(async () => {
  await fx?.drop();
});

let sequence = 0;
function nextRequestId(): string {
  sequence += 1;
  return `01JMY${run}${String(sequence).padStart(4, '0')}ABCDEFGHJKMNP`;
}

function integration(): Integration {
  return {
    id: 'mysql-main',
    name: 'Main MariaDB',
    type: 'mysql',
    config: { host: MYSQL_HOST, port: MYSQL_PORT, tls: 'disable' },
    secretRef: 'env:STINT_MYSQL_ADMIN',
    resources: [{ id: fx.database, owners: [], permissions: [read, write] }],
    version: 1,
    lastChange: { by: 'admin', channel: 'admin', action: 'create', at: '2026-01-01T00:00:00.000Z' },
  };
}

function context(
  options: { requestId?: string; permission?: Permission; expiresAt?: Date; secret?: string } = {},
): DriverContext {
  const permission = options.permission ?? read;
  const requestId = options.requestId ?? nextRequestId();
  return {
    requestId,
    idempotencyKey: `idem-${requestId}`,
    grantee: { sub: 'alice', email: 'alice@example.com', groups: [] },
    integration: integration(),
    unit: { integrationId: 'mysql-main', resource: fx.database, permission: permission.id },
    resource: { id: fx.database, owners: [], permissions: [permission] },
    permission,
    expiresAt: options.expiresAt ?? new Date(Date.now() + 60 * 60 * 1000),
    admin: { secret: options.secret ?? fx.secret },
    directory: {
      accounts: async () => {
        throw new Error('the mysql driver read the directory');
      },
      link: async () => {
        throw new Error('the mysql driver linked an account');
      },
    },
    now: new Date(),
  };
}

async function granted(ctx: DriverContext): Promise<GrantDone & { secret: string; state: MysqlState }> {
  const outcome = await mysqlDriver.grant(ctx);
  if (outcome.status !== 'done') throw new Error(`grant answered ${outcome.status}`);
  if (outcome.secret === undefined) throw new Error('grant returned no password');
  return { ...outcome, secret: outcome.secret, state: MysqlState.parse(outcome.state) };
}

async function revoked(ctx: DriverContext, state: DriverState): Promise<void> {
  expect(await mysqlDriver.revoke(ctx, state)).toEqual({ status: 'done' });
}

async function eventTime(user: string): Promise<string | undefined> {
  const rows = await rootQuery<{ at: string }>(
    'SELECT EXECUTE_AT AS at FROM information_schema.EVENTS WHERE EVENT_NAME = ?',
    [user],
  );
  return rows[0]?.at;
}

const nothingLeft = { users: 0, roles: 0, events: 0, threads: 0 };

describe('mysql driver (MariaDB)', () => {
  it('grants a per-request user that logs in over TCP and may SELECT but not UPDATE with a read role', async () => {
    const ctx = context();
    const out = await granted(ctx);

    const user = userNameFor(ctx.requestId, ctx.unit);
    expect(user).toMatch(/^stint_[a-z2-7]{26}$/);
    expect(AccessView.parse(out.access)).toEqual({
      kind: 'database',
      engine: 'mysql',
      host: MYSQL_HOST,
      port: MYSQL_PORT,
      database: fx.database,
      username: user,
    });
    expect(out.state).toMatchObject({ user, role: `${user}_r`, eventDatabase: fx.database, flavor: 'mariadb' });
    const [scheduler] = await rootQuery<{ s: string }>('SELECT @@GLOBAL.event_scheduler AS s');
    expect(out.state.serverExpiry).toBe(scheduler?.s === 'ON');

    const c = await connectAs(user, out.secret, fx.database);
    try {
      const [rows] = await c.query('SELECT name FROM items WHERE id = 1');
      expect(rows).toEqual([{ name: 'one' }]);
      await expect(c.query("UPDATE items SET name = 'two' WHERE id = 1")).rejects.toThrow(/UPDATE command denied/);
    } finally {
      await c.end();
    }
    expect(await loginResult(user, 'not-the-password')).toMatch(/Access denied/);
    await revoked(ctx, out.state);
  });

  it('gives a write permission (two roles, one default role on MariaDB) SELECT and UPDATE', async () => {
    const ctx = context({ permission: write });
    const out = await granted(ctx);
    const c = await connectAs(out.state.user, out.secret, fx.database);
    try {
      const [result] = await c.query("UPDATE items SET name = 'one' WHERE id = 1");
      expect(result).toMatchObject({ affectedRows: 1 });
    } finally {
      await c.end();
    }
    await revoked(ctx, out.state);
  });

  it('revokes: open connections are killed, the login is refused, nothing of the request is left', async () => {
    const ctx = context();
    const out = await granted(ctx);
    const open = await connectAs(out.state.user, out.secret, fx.database);
    expect((await traces(out.state.user)).threads).toBe(1);

    await revoked(ctx, out.state);

    await expect(open.query('SELECT 1')).rejects.toThrow();
    open.destroy();
    expect(await loginResult(out.state.user, out.secret)).toMatch(/Access denied/);
    expect(await traces(out.state.user)).toEqual(nothingLeft);
    // Idempotent: revoking again is done.
    await revoked(ctx, out.state);
    // A revoke after a grant whose state was never recorded finds the same user by name.
    await revoked(ctx, {});
  });

  it("fails revoke permanently with the server's reason when the admin may not kill the user's connections", async () => {
    const ctx = context();
    const out = await granted(ctx);
    const open = await connectAs(out.state.user, out.secret, fx.database);
    const weak = { username: `stintweak_${fx.suffix}`, password: randomBytes(12).toString('hex') };
    const w = `'${weak.username}'@'%'`;
    await rootQuery(`CREATE USER ${w} IDENTIFIED BY '${weak.password}'`);
    await rootQuery(`GRANT CREATE USER, PROCESS ON *.* TO ${w}`);
    await rootQuery(`GRANT SELECT ON mysql.user TO ${w}`);
    await rootQuery(`GRANT EVENT ON \`${fx.database}\`.* TO ${w}`);
    try {
      const error = await mysqlDriver
        .revoke({ ...ctx, admin: { secret: JSON.stringify(weak) } }, out.state)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GrantPermanentError);
      expect((error as Error).message).toMatch(/errno 1095/);
      // The full admin then finishes the job.
      await revoked(ctx, out.state);
      expect(await traces(out.state.user)).toEqual(nothingLeft);
    } finally {
      open.destroy();
      await rootQuery(`DROP USER IF EXISTS ${w}`);
    }
  });

  it('a retried grant resets the password and ends up with one user, one role, one event', async () => {
    const ctx = context();
    const first = await granted(ctx);
    const second = await granted(ctx);
    expect(second.state).toEqual(first.state);
    expect(second.secret).not.toBe(first.secret);
    expect(await loginResult(first.state.user, first.secret)).toMatch(/Access denied/);
    expect(await loginResult(first.state.user, second.secret, fx.database)).toBe(true);
    expect(await traces(first.state.user)).toEqual({ users: 1, roles: 1, events: 1, threads: 0 });
    await revoked(ctx, second.state);
  });

  it('fails permanently with the server reason for a role that does not exist, leaving nothing', async () => {
    const ctx = context({ permission: { id: 'ghost', grants: [fx.readRole, `no_such_role_${fx.suffix}`] } });
    const error = await mysqlDriver.grant(ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrantPermanentError);
    expect((error as Error).message).toMatch(new RegExp(`Invalid role specification .no_such_role_${fx.suffix}`));
    expect((error as Error).message).not.toContain(fx.admin.password);
    expect(await traces(userNameFor(ctx.requestId, ctx.unit))).toEqual(nothingLeft);
  });

  it('fails permanently for a database that does not exist, and for an unreadable admin secret', async () => {
    const ctx = context();
    const missing = { ...ctx, unit: { ...ctx.unit, resource: `nodb_${fx.suffix}` } };
    await expect(mysqlDriver.grant(missing)).rejects.toThrow(GrantPermanentError);
    await expect(mysqlDriver.grant(missing)).rejects.toThrow(/does not exist/);
    const wrong = context({ secret: JSON.stringify({ username: fx.admin.username, password: 'wrong-secret-xyz' }) });
    const error = await mysqlDriver.grant(wrong).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrantPermanentError);
    expect((error as Error).message).toMatch(/Access denied/);
    expect((error as Error).message).not.toContain('wrong-secret-xyz');
  });

  it('extend moves the expiry event', async () => {
    const expiresAt = new Date(Date.UTC(2037, 0, 1, 10, 0, 0));
    const ctx = context({ expiresAt });
    const out = await granted(ctx);
    expect(await eventTime(out.state.user)).toBe('2037-01-01 10:00:00');

    await mysqlDriver.extend({ ...ctx, expiresAt: new Date(Date.UTC(2037, 0, 1, 12, 30, 5)) }, out.state);

    expect(await eventTime(out.state.user)).toBe('2037-01-01 12:30:05');
    expect(await mysqlDriver.verify?.(ctx, out.state)).toEqual({ present: true });
    await revoked(ctx, out.state);
    expect(await mysqlDriver.verify?.(ctx, out.state)).toEqual({ present: false });
    await expect(mysqlDriver.extend(ctx, out.state)).rejects.toThrow(/no longer exists/);
  });

  it('with the event scheduler ON, the server itself drops the user and kills its connection at expiry', async () => {
    // Left ON (other tests may rely on it too).
    await rootQuery('SET GLOBAL event_scheduler = ON');
    const ctx = context({ expiresAt: new Date(Date.now() + 3_000) });
    const out = await granted(ctx);
    expect(out.state.serverExpiry).toBe(true);
    const open = await connectAs(out.state.user, out.secret, fx.database);

    // Nothing of Stint runs now: only the server.
    const left = await until(
      () => traces(out.state.user),
      (t) => t.users === 0 && t.roles === 0 && t.events === 0 && t.threads === 0,
      30_000,
    );

    expect(left).toEqual(nothingLeft);
    await expect(open.query('SELECT 1')).rejects.toThrow();
    open.destroy();
    expect(await loginResult(out.state.user, out.secret)).toMatch(/Access denied/);
  });

  it("lists Stint's users by their marker, never a similarly named user Stint did not create", async () => {
    const ctx = context();
    const out = await granted(ctx);
    const stranger = `stint_x${fx.suffix.replace(/[^a-z0-9]/g, '').slice(0, 10)}`;
    await rootQuery(`CREATE USER '${stranger}'@'%' IDENTIFIED BY 'hand-made-1'`);
    try {
      const managed = await mysqlDriver.listManaged?.(ctx);
      expect(managed).toContainEqual({ name: out.state.user, requestId: ctx.requestId });
      expect(managed?.map((m) => m.name)).not.toContain(stranger);

      // The sweep refuses a user without the marker and leaves it as it was.
      await expect(mysqlDriver.revokeManaged?.(ctx, { name: stranger })).rejects.toThrow(/no Stint marker/);
      expect(await loginResult(stranger, 'hand-made-1')).toBe(true);

      // An orphan (no live request): removed with its event and role.
      await mysqlDriver.revokeManaged?.(ctx, { name: out.state.user });
      expect(await traces(out.state.user)).toEqual(nothingLeft);
      expect((await mysqlDriver.listManaged?.(ctx))?.map((m) => m.name)).not.toContain(out.state.user);
    } finally {
      await rootQuery(`DROP USER IF EXISTS '${stranger}'@'%'`);
    }
  });

  it('never touches a user of the same name that Stint did not create', async () => {
    const ctx = context();
    const user = userNameFor(ctx.requestId, ctx.unit);
    await rootQuery(`CREATE USER '${user}'@'%' IDENTIFIED BY 'hand-made-2'`);
    try {
      await expect(mysqlDriver.grant(ctx)).rejects.toThrow(/no Stint marker/);
      await expect(mysqlDriver.revoke(ctx, {})).rejects.toThrow(/no Stint marker/);
      expect(await loginResult(user, 'hand-made-2')).toBe(true);
    } finally {
      await rootQuery(`DROP USER IF EXISTS '${user}'@'%'`);
    }
  });

  it('discovers the test database and the roles an admin could grant, not system databases or its own roles', async () => {
    const ctx = context();
    const out = await granted(ctx); // a per-request role exists meanwhile
    try {
      const found = await mysqlDriver.discover?.(ctx);
      const db = found?.resources.find((r) => r.id === fx.database);
      expect(db?.permissions).toContainEqual({
        id: fx.readRole,
        description: `role ${fx.readRole}`,
        grants: [fx.readRole],
      });
      expect(db?.permissions.map((p) => p.grants[0])).toContain(fx.writeRole);
      expect(db?.permissions.some((p) => p.grants[0]?.startsWith('stint_'))).toBe(false);
      expect(found?.resources.map((r) => r.id)).not.toContain('mysql');
    } finally {
      await revoked(ctx, out.state);
    }
  });

  it('keeps the password out of the SQL text the server keeps (the event body, the user record)', async () => {
    const ctx = context();
    const out = await granted(ctx);
    const [event] = await rootQuery<{ body: string }>(
      'SELECT EVENT_DEFINITION AS body FROM information_schema.EVENTS WHERE EVENT_NAME = ?',
      [out.state.user],
    );
    expect(event?.body).toContain('DROP USER IF EXISTS');
    expect(event?.body).not.toContain(out.secret);
    const [row] = await rootQuery<{ auth: string }>(
      "SELECT authentication_string AS auth FROM mysql.user WHERE User = ? AND Host = '%'",
      [out.state.user],
    );
    expect(row?.auth).toMatch(/^\*[0-9A-F]{40}$/);
    await revoked(ctx, out.state);
  });

  it('declares what it can promise', () => {
    expect(MYSQL_CAPABILITIES).toEqual({
      endsLiveSessions: true,
      residualSessionSeconds: 0,
      targetEnforcesExpiry: false,
      issuesCredentials: false,
    });
    expect(mysqlDriver.principalOf?.('r1', { integrationId: 'i', resource: 'd', permission: 'p' })).toBe(
      userNameFor('r1', { integrationId: 'i', resource: 'd', permission: 'p' }),
    );
  });
});

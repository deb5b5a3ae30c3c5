import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';
import * as z from 'zod';
import { config } from '#lib/config.ts';
import type { AccessUnit } from '#lib/domain/bundle.ts';
import { slugOf } from '#lib/domain/common.ts';
import { CAPABILITIES } from './capabilities.ts';
import { MysqlConfig, mysqlChecks } from './checks/mysql.ts';
import { generatePassword, PRINCIPAL_PREFIX, parseAdminSecret, principalNameFor, tlsModeOf } from './principals.ts';
import {
  type Capabilities,
  type Discovered,
  type DriverContext,
  type DriverState,
  type GrantOutcome,
  GrantPermanentError,
  type IntegrationDriver,
  type ManagedPrincipal,
  type RevokeOutcome,
} from './types.ts';

/**
 * MySQL 8 and MariaDB 10.6+: each request gets its own user `stint_…`@'%' with a generated password, the
 * permission's roles as its default roles, and a one-time event in the resource database that drops the user at
 * the expiry (so access ends on time even if every Lambda is down, when `event_scheduler` is ON). Revoke locks the
 * user, drops it, kills every connection it has and drops the event. docs/integrations/mysql.md.
 *
 * MariaDB activates one default role only: there the user gets a per-request role `<user>_r` holding the
 * permission's roles (roles granted to a role are active with it), and that role is its default role.
 *
 * Stint's marker is the event, `stint_…` named like the user, whose comment starts with MARKER (both servers); on
 * MySQL the user also carries ATTRIBUTE {"stint": …}. MariaDB keeps no comment on users, and a bookkeeping table
 * on a customer's server is not Stint's to create: a `stint_…` user without a marker is never touched.
 */

/** The config schema, in the light module PUT /integrations checks with (no mysql2 there). */
export { MysqlConfig };

/** MySQL 8 user names are at most 32 characters (MariaDB: 80); the name fits both. */
export const USER_NAME_MAX = 32;
const UserName = z.string().regex(/^stint_[a-z0-9_]{1,26}$/);

/** What grant returns as state and revoke / extend / verify read back. */
export const MysqlState = z.object({
  user: UserName,
  /** MariaDB: the per-request role holding the permission's roles. */
  role: z.string().optional(),
  /** The database holding the expiry event. */
  eventDatabase: z.string(),
  flavor: z.enum(['mysql', 'mariadb']),
  /** Whether the server's event scheduler was ON at grant: the server itself drops the user at expiry. */
  serverExpiry: z.boolean(),
});
export type MysqlState = z.infer<typeof MysqlState>;

/** Starts the comment of every event Stint creates (events hold at most 64 characters of comment). */
export const MARKER = 'stint-managed';
export const CONNECTION_LIMIT = 10;
const CONNECT_TIMEOUT_MS = 10_000;
const QUERY_TIMEOUT_MS = 30_000;

/** Server error numbers that retrying cannot fix: configuration or target-side setup is wrong. */
const PERMANENT_ERRNOS = new Set([
  1044, // ER_DBACCESS_DENIED_ERROR
  1045, // ER_ACCESS_DENIED_ERROR (the admin login)
  1049, // ER_BAD_DB_ERROR (unknown database)
  1064, // ER_PARSE_ERROR
  1095, // ER_KILL_DENIED_ERROR (the admin may not kill the user's connections)
  1141, // ER_NONEXISTING_GRANT
  1142, // ER_TABLEACCESS_DENIED_ERROR
  1227, // ER_SPECIFIC_ACCESS_DENIED_ERROR (the admin lacks a privilege)
  1370, // ER_PROCACCESS_DENIED_ERROR
  1396, // ER_CANNOT_USER (CREATE USER / ROLE failed)
  1410, // ER_CANT_CREATE_USER_WITH_GRANT
  1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
  1959, // MariaDB ER_INVALID_ROLE (a role to grant does not exist)
  3523, // MySQL ER_UNKNOWN_AUTHID (a role to grant does not exist)
  3530, // MySQL ER_FAILED_ROLE_GRANT / role not granted
]);
const ER_NO_SUCH_THREAD = 1094;

/** The user of one access unit of one request: `stint_<26 base32>` (principals.ts). */
export function userNameFor(requestId: string, unit: AccessUnit): string {
  return principalNameFor(requestId, unit, USER_NAME_MAX);
}

/**
 * The mysql_native_password hash MariaDB stores (`*` + hex SHA1(SHA1(password))), computed here so the plain
 * password never travels in SQL text (the general log, the binary log and the processlist keep SQL text).
 */
export function nativePasswordHash(password: string): string {
  const stage1 = createHash('sha1').update(password, 'utf8').digest();
  return `*${createHash('sha1').update(stage1).digest('hex').toUpperCase()}`;
}

/** The event's comment: MARKER and, when it fits in 64 characters, the request id. */
function markerFor(requestId: string): string {
  const full = `${MARKER}; request ${requestId}`;
  return full.length <= 64 ? full : MARKER;
}
function requestIdOf(comment: string): string | undefined {
  return /^stint-managed; request (.+)$/.exec(comment)?.[1];
}

type Admin = Pick<DriverContext, 'integration' | 'admin'>;
type Flavor = MysqlState['flavor'];

function parseConfig(ctx: Admin): MysqlConfig {
  const parsed = MysqlConfig.safeParse(ctx.integration.config);
  if (!parsed.success)
    throw new GrantPermanentError(`integration ${ctx.integration.id}: invalid mysql config (${parsed.error.message})`);
  return parsed.data;
}

function sslOptions(cfg: MysqlConfig): mysql.ConnectionOptions['ssl'] {
  const mode = tlsModeOf(cfg.tls, config().local);
  if (mode === 'disable') return undefined;
  // verify-full: the server certificate must chain to a trusted CA (on Lambda, NODE_EXTRA_CA_CERTS = the RDS
  // bundle) and name the host.
  return { rejectUnauthorized: mode === 'verify-full' };
}

function connectionOptions(cfg: MysqlConfig, user: string, password: string): mysql.ConnectionOptions {
  return {
    host: cfg.host,
    port: cfg.port,
    user,
    password,
    ssl: sslOptions(cfg),
    connectTimeout: CONNECT_TIMEOUT_MS,
    multipleStatements: false,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
  };
}

/** One admin session, the flavor of its server and an error-safe query. */
type Session = {
  flavor: Flavor;
  scheduler: boolean;
  run(sql: string, values?: unknown[]): Promise<unknown>;
  rows<T extends z.ZodType>(row: T, sql: string, values?: unknown[]): Promise<z.infer<T>[]>;
};

const SqlError = z.object({ errno: z.number(), message: z.string() });

/**
 * An error as Stint passes it on: the server's message (with any secret cut out) and its number; never mysql2's
 * error itself, whose `sql` holds the statement text. Numbers retrying cannot fix become permanent.
 */
function mapError(ctx: Admin, error: unknown, secrets: string[]): Error {
  if (error instanceof GrantPermanentError) return error;
  const parsed = SqlError.safeParse(error);
  if (!parsed.success) return error instanceof Error ? error : new Error(String(error));
  let message = parsed.data.message;
  for (const secret of secrets) if (secret !== '') message = message.split(secret).join('***');
  const text = `integration ${ctx.integration.id}: ${message} (errno ${parsed.data.errno})`;
  return PERMANENT_ERRNOS.has(parsed.data.errno) ? new GrantPermanentError(text) : new Error(text);
}

/** One admin connection per operation, with timeouts; always closed. */
async function withAdmin<T>(ctx: Admin, work: (s: Session) => Promise<T>, secrets: string[] = []): Promise<T> {
  const cfg = parseConfig(ctx);
  const admin = parseAdminSecret(ctx.integration.id, ctx.admin.secret);
  let connection: mysql.Connection | undefined;
  try {
    connection = await mysql.createConnection(connectionOptions(cfg, admin.username, admin.password));
    // A dropped connection emits 'error'; without a listener it would crash the process.
    connection.on('error', () => undefined);
    const c = connection;
    const run = async (sql: string, values: unknown[] = []) =>
      (await c.query({ sql, values, timeout: QUERY_TIMEOUT_MS }))[0];
    // Event times are written in UTC.
    await run("SET time_zone = '+00:00'");
    const info = z
      .array(z.object({ version: z.string(), scheduler: z.string() }))
      .parse(await run('SELECT VERSION() AS version, @@GLOBAL.event_scheduler AS scheduler'))[0];
    const session: Session = {
      flavor: info?.version.includes('MariaDB') ? 'mariadb' : 'mysql',
      scheduler: info?.scheduler === 'ON',
      run,
      rows: async (row, sql, values) => z.array(row).parse(await run(sql, values)),
    };
    return await work(session);
  } catch (error) {
    throw mapError(ctx, error, [admin.password, ...secrets]);
  } finally {
    await connection?.end().catch(() => connection?.destroy());
  }
}

const quote = (value: string) => mysql.escape(value);
const ident = (value: string) => mysql.escapeId(value, true);
const account = (user: string) => `${quote(user)}@'%'`;
const roleOfUser = (user: string) => `${user}_r`;

/** What the server holds of one Stint user: the user, its role (MariaDB), its events and whether it is marked. */
type Found = {
  user: boolean;
  role: boolean;
  /** Databases holding an event of that name with Stint's marker. */
  events: string[];
  /** MySQL: the user carries Stint's attribute. */
  attribute: boolean;
};

async function inspect(s: Session, user: string): Promise<Found> {
  const rows = await s.rows(
    z.object({ host: z.string() }),
    "SELECT Host AS host FROM mysql.user WHERE User = ? AND Host IN ('%', '')",
    [user],
  );
  const roles = await s.rows(
    z.object({ n: z.coerce.number() }),
    "SELECT COUNT(*) AS n FROM mysql.user WHERE User = ? AND Host = ''",
    [roleOfUser(user)],
  );
  const events = await s.rows(
    z.object({ db: z.string(), comment: z.string() }),
    'SELECT EVENT_SCHEMA AS db, EVENT_COMMENT AS comment FROM information_schema.EVENTS WHERE EVENT_NAME = ?',
    [user],
  );
  let attribute = false;
  if (s.flavor === 'mysql') {
    const attrs = await s.rows(
      z.object({ attribute: z.string().nullable() }),
      "SELECT ATTRIBUTE AS attribute FROM information_schema.USER_ATTRIBUTES WHERE USER = ? AND HOST = '%'",
      [user],
    );
    attribute = attrs.some((a) => a.attribute?.includes(`"${MARKER}"`) === true);
  }
  return {
    user: rows.some((r) => r.host === '%'),
    role: s.flavor === 'mariadb' && (roles[0]?.n ?? 0) > 0,
    events: events.filter((e) => e.comment.startsWith(MARKER)).map((e) => e.db),
    attribute,
  };
}

const marked = (found: Found) => found.events.length > 0 || found.attribute;

function refuse(ctx: Admin, user: string): never {
  throw new GrantPermanentError(
    `integration ${ctx.integration.id}: user ${user} exists but carries no Stint marker; refusing to touch it`,
  );
}

/** Kills every connection of the user (KILL CONNECTION; a thread that ended meanwhile is fine); how many were left. */
async function killConnections(s: Session, user: string): Promise<number> {
  const threads = await s.rows(
    z.object({ id: z.coerce.string() }),
    'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()',
    [user],
  );
  for (const { id } of threads) {
    try {
      await s.run(`KILL CONNECTION ${Number.parseInt(id, 10)}`);
    } catch (error) {
      if (SqlError.safeParse(error).data?.errno !== ER_NO_SUCH_THREAD) throw error;
    }
  }
  return threads.length;
}

/** Removes everything of one Stint user: no new logins, user and role dropped, connections killed, events dropped. */
async function remove(ctx: Admin, s: Session, user: string, found: Found): Promise<void> {
  if (found.user) {
    await s.run(`ALTER USER IF EXISTS ${account(user)} ACCOUNT LOCK`);
    await killConnections(s, user);
    await s.run(`DROP USER IF EXISTS ${account(user)}`);
  }
  if (found.role) await s.run(`DROP ROLE IF EXISTS ${ident(roleOfUser(user))}`);
  for (const db of found.events) await s.run(`DROP EVENT IF EXISTS ${ident(db)}.${ident(user)}`);
  // In MySQL and MariaDB a session survives DROP USER: one that was authenticating while the user was locked.
  await killConnections(s, user);
  const left = await s.rows(
    z.object({ n: z.coerce.number() }),
    'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?',
    [user],
  );
  if ((left[0]?.n ?? 0) > 0)
    throw new Error(`integration ${ctx.integration.id}: a connection of ${user} did not end yet`);
}

/** `YYYY-MM-DD HH:MM:SS` in UTC (the session's time zone), cut to the second: never later than the expiry. */
function eventTime(at: Date): string {
  return at.toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * The expiry event's body, run by the event scheduler as the admin (its definer): lock and drop the user (and its
 * MariaDB role), then kill its connections, which DROP USER leaves open. Errors do not stop the body, so a thread
 * that ended meanwhile does not keep the user alive. Works on both servers (KILL takes an expression in both).
 */
function eventBody(user: string, role: string | undefined): string {
  return [
    'BEGIN',
    'DECLARE done INT DEFAULT 0;',
    'DECLARE tid BIGINT UNSIGNED;',
    `DECLARE threads CURSOR FOR SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ${quote(user)};`,
    'DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = 1;',
    'DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;',
    `ALTER USER IF EXISTS ${account(user)} ACCOUNT LOCK;`,
    `DROP USER IF EXISTS ${account(user)};`,
    role === undefined ? '' : `DROP ROLE IF EXISTS ${ident(role)};`,
    'OPEN threads;',
    'kill_loop: LOOP FETCH threads INTO tid; IF done = 1 THEN LEAVE kill_loop; END IF; KILL CONNECTION tid; END LOOP;',
    'CLOSE threads;',
    'END',
  ].join(' ');
}

async function grant(ctx: DriverContext): Promise<GrantOutcome> {
  const cfg = parseConfig(ctx);
  const user = userNameFor(ctx.requestId, ctx.unit);
  const database = ctx.unit.resource;
  const grants = [...new Set(ctx.permission.grants)];
  const password = generatePassword();
  const where = `integration ${ctx.integration.id}`;

  const state = await withAdmin(
    ctx,
    async (s) => {
      const db = await s.rows(
        z.object({ name: z.string() }),
        'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
        [database],
      );
      if (db.length === 0) throw new GrantPermanentError(`${where}: database ${database} does not exist`);

      // A retry after a crash: what the earlier attempt made goes, so the grant ends up the same, with a fresh password.
      const found = await inspect(s, user);
      if (found.user && !marked(found)) refuse(ctx, user);
      await remove(ctx, s, user, found);

      const role = s.flavor === 'mariadb' ? roleOfUser(user) : undefined;
      // The marker first: a user never exists without it, even if this Lambda dies half-way.
      await s.run(
        `CREATE EVENT ${ident(database)}.${ident(user)} ON SCHEDULE AT ${quote(eventTime(ctx.expiresAt))}
           ON COMPLETION NOT PRESERVE COMMENT ${quote(markerFor(ctx.requestId))} DO ${eventBody(user, role)}`,
      );
      try {
        if (s.flavor === 'mariadb') {
          await s.run(
            `CREATE USER ${account(user)} IDENTIFIED BY PASSWORD ${quote(nativePasswordHash(password))} WITH MAX_USER_CONNECTIONS ${CONNECTION_LIMIT}`,
          );
          await s.run(`CREATE ROLE ${ident(roleOfUser(user))}`);
          for (const g of grants) await s.run(`GRANT ${ident(g)} TO ${ident(roleOfUser(user))}`);
          await s.run(`GRANT ${ident(roleOfUser(user))} TO ${account(user)}`);
          // SET DEFAULT ROLE … FOR another user needs write access to the mysql schema; the user may set its own.
          await setOwnDefaultRole(cfg, user, password, roleOfUser(user));
        } else {
          // MySQL rewrites the password out of the general, slow and binary logs (unless --log-raw).
          await s.run(
            `CREATE USER ${account(user)} IDENTIFIED BY ${quote(password)} WITH MAX_USER_CONNECTIONS ${CONNECTION_LIMIT}
               ATTRIBUTE ${quote(JSON.stringify({ [MARKER]: { request: ctx.requestId } }))}`,
          );
          if (grants.length > 0) await s.run(`GRANT ${grants.map(ident).join(', ')} TO ${account(user)}`);
          await s.run(`SET DEFAULT ROLE ALL TO ${account(user)}`);
        }
      } catch (error) {
        // A role that does not exist, a missing privilege: nothing of the request is left behind.
        await remove(ctx, s, user, await inspect(s, user)).catch(() => undefined);
        throw error;
      }
      return {
        user,
        ...(role === undefined ? {} : { role }),
        eventDatabase: database,
        flavor: s.flavor,
        serverExpiry: s.scheduler,
      } satisfies MysqlState;
    },
    [password],
  );

  return {
    status: 'done',
    state,
    access: {
      kind: 'database',
      engine: 'mysql',
      host: cfg.publicHost ?? cfg.host,
      port: cfg.publicPort ?? cfg.port,
      database,
      username: user,
    },
    secret: password,
  };
}

async function setOwnDefaultRole(cfg: MysqlConfig, user: string, password: string, role: string): Promise<void> {
  const self = await mysql.createConnection(connectionOptions(cfg, user, password));
  self.on('error', () => undefined);
  try {
    await self.query({ sql: `SET DEFAULT ROLE ${ident(role)}`, timeout: QUERY_TIMEOUT_MS });
  } finally {
    await self.end().catch(() => self.destroy());
  }
}

/** The user to act on: the one grant recorded, else (grant crashed before recording) the one it would create. */
function userOf(ctx: DriverContext, state: DriverState): string {
  const parsed = MysqlState.safeParse(state);
  return parsed.success ? parsed.data.user : userNameFor(ctx.requestId, ctx.unit);
}

async function revoke(ctx: DriverContext, state: DriverState): Promise<RevokeOutcome> {
  const user = userOf(ctx, state);
  await withAdmin(ctx, async (s) => {
    const found = await inspect(s, user);
    if (found.user && !marked(found)) refuse(ctx, user);
    await remove(ctx, s, user, found);
  });
  return { status: 'done' };
}

async function extend(ctx: DriverContext, state: DriverState): Promise<void> {
  const user = userOf(ctx, state);
  const parsed = MysqlState.safeParse(state);
  await withAdmin(ctx, async (s) => {
    const found = await inspect(s, user);
    if (!found.user) throw new GrantPermanentError(`integration ${ctx.integration.id}: user ${user} no longer exists`);
    if (!marked(found)) refuse(ctx, user);
    const at = quote(eventTime(ctx.expiresAt));
    if (found.events.length > 0) {
      for (const db of found.events) await s.run(`ALTER EVENT ${ident(db)}.${ident(user)} ON SCHEDULE AT ${at}`);
      return;
    }
    // MySQL, the event gone (dropped by hand) while the user stays: put it back.
    const database = parsed.success ? parsed.data.eventDatabase : ctx.unit.resource;
    await s.run(
      `CREATE EVENT ${ident(database)}.${ident(user)} ON SCHEDULE AT ${at} ON COMPLETION NOT PRESERVE
         COMMENT ${quote(markerFor(ctx.requestId))} DO ${eventBody(user, undefined)}`,
    );
  });
}

async function verify(ctx: DriverContext, state: DriverState): Promise<{ present: boolean }> {
  const user = userOf(ctx, state);
  return await withAdmin(ctx, async (s) => {
    // MariaDB's mysql.user view has no account_locked (Stint locks a user only on its way to DROP USER).
    const sql =
      s.flavor === 'mariadb'
        ? "SELECT 'N' AS locked FROM mysql.user WHERE User = ? AND Host = '%'"
        : "SELECT account_locked AS locked FROM mysql.user WHERE User = ? AND Host = '%'";
    const rows = await s.rows(z.object({ locked: z.string() }), sql, [user]);
    return { present: rows.some((r) => r.locked !== 'Y') };
  });
}

const SYSTEM_DATABASES = new Set(['information_schema', 'mysql', 'performance_schema', 'sys']);

/**
 * The databases (SHOW DATABASES without the system ones) and the roles (MariaDB: is_role; MySQL 8: locked accounts
 * without a password, what CREATE ROLE makes) an admin could pick; every role is offered on every database, since
 * roles are server-wide. Stint's own per-request roles are left out.
 */
async function discover(ctx: Pick<DriverContext, 'integration' | 'admin' | 'now'>): Promise<Discovered> {
  return await withAdmin(ctx, async (s) => {
    const databases = (await s.rows(z.object({ Database: z.string() }), 'SHOW DATABASES'))
      .map((r) => r.Database)
      .filter((d) => !SYSTEM_DATABASES.has(d));
    const roleSql =
      s.flavor === 'mariadb'
        ? // is_role is computed in MariaDB's mysql.user view, in a collation other than the connection's.
          "SELECT User AS name FROM mysql.user WHERE CAST(is_role AS BINARY) = 'Y'"
        : "SELECT User AS name FROM mysql.user WHERE account_locked = 'Y' AND password_expired = 'Y' AND authentication_string = ''";
    const roles = (await s.rows(z.object({ name: z.string() }), roleSql))
      .map((r) => r.name)
      .filter((r) => !r.startsWith(PRINCIPAL_PREFIX))
      .sort();
    return {
      resources: databases.sort().map((id) => ({
        id,
        permissions: roles.map((role) => ({ id: slugOf(role, 'role'), description: `role ${role}`, grants: [role] })),
      })),
    };
  });
}

/** Every Stint user on the server: named `stint_…` with Stint's marker (its event; on MySQL also its attribute). */
async function listManaged(ctx: Pick<DriverContext, 'integration' | 'admin' | 'now'>): Promise<ManagedPrincipal[]> {
  return await withAdmin(ctx, async (s) => {
    const found = new Map<string, ManagedPrincipal>();
    const events = await s.rows(
      z.object({ name: z.string(), comment: z.string() }),
      `SELECT EVENT_NAME AS name, EVENT_COMMENT AS comment FROM information_schema.EVENTS
         WHERE EVENT_NAME LIKE 'stint\\_%' AND EVENT_COMMENT LIKE 'stint-managed%'`,
    );
    for (const e of events) {
      if (!UserName.safeParse(e.name).success) continue;
      const requestId = requestIdOf(e.comment);
      found.set(e.name, { name: e.name, ...(requestId === undefined ? {} : { requestId }) });
    }
    if (s.flavor === 'mysql') {
      const users = await s.rows(
        z.object({ name: z.string(), attribute: z.string().nullable() }),
        `SELECT USER AS name, ATTRIBUTE AS attribute FROM information_schema.USER_ATTRIBUTES
           WHERE USER LIKE 'stint\\_%' AND HOST = '%'`,
      );
      for (const u of users) {
        if (!UserName.safeParse(u.name).success || u.attribute === null) continue;
        const request = z
          .object({ [MARKER]: z.object({ request: z.string().optional() }) })
          .safeParse(JSON.parse(u.attribute));
        if (!request.success) continue;
        const requestId = request.data[MARKER]?.request;
        if (!found.has(u.name)) found.set(u.name, { name: u.name, ...(requestId === undefined ? {} : { requestId }) });
      }
    }
    return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
  });
}

/** Removes a Stint user no live request holds, as revoke does; refuses a user without Stint's marker. */
async function revokeManaged(
  ctx: Pick<DriverContext, 'integration' | 'admin' | 'now'>,
  principal: ManagedPrincipal,
): Promise<void> {
  const name = UserName.safeParse(principal.name);
  if (!name.success)
    throw new GrantPermanentError(`integration ${ctx.integration.id}: ${principal.name} is not a Stint user name`);
  await withAdmin(ctx, async (s) => {
    const found = await inspect(s, name.data);
    if (!marked(found)) {
      if (found.user || found.role) refuse(ctx, name.data);
      return; // already gone
    }
    await remove(ctx, s, name.data, found);
  });
}

/**
 * What MySQL / MariaDB can promise (lib/integrations/capabilities.ts). The server enforces expiry only where the
 * event scheduler is ON, so the shared entry says false; each grant's state says `serverExpiry`.
 */
export const MYSQL_CAPABILITIES: Capabilities = CAPABILITIES.mysql;

export const mysqlDriver: IntegrationDriver = {
  ...mysqlChecks,
  capabilities: MYSQL_CAPABILITIES,
  // Each request gets its own user: nothing is shared with other requests.
  leaseKeys: () => [],
  grant,
  revoke,
  extend,
  verify,
  discover,
  principalOf: userNameFor,
  listManaged,
  revokeManaged,
};

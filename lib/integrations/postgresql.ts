import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg, { escapeIdentifier, escapeLiteral } from 'pg';
import * as z from 'zod';
import { config } from '#lib/config.ts';
import type { AccessUnit } from '#lib/domain/bundle.ts';
import { CAPABILITIES } from './capabilities.ts';
import { PostgresConfig, postgresqlChecks } from './checks/postgresql.ts';
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
 * PostgreSQL: each request gets its own LOGIN role with a generated password, `VALID UNTIL` its expiry (so
 * access ends on time even if every Lambda is down), member of the permission's roles. Revoke disables it,
 * ends its sessions, drops what it owns and drops it.
 *
 * The admin user (from the integration's secret, JSON `{"username","password"}`) needs CREATEROLE, ADMIN OPTION
 * on the roles it grants (PostgreSQL 16+) and pg_signal_backend; PostgreSQL 14 or later (pg_terminate_backend
 * with a timeout). On RDS the master user has all of these.
 */

/** The config schema, in the light module PUT /integrations checks with (no pg there). */
export { PostgresConfig };

/** What grant returns as state and revoke/extend read back. */
const PostgresState = z.object({ role: z.string().regex(/^stint_[a-z0-9_]{1,57}$/) });

export const ROLE_PREFIX = PRINCIPAL_PREFIX;
export const CONNECTION_LIMIT = 10;
/** Marks roles Stint created: revoke and extend never touch a role without it. */
const MARKER = 'managed by stint';

const CONNECT_TIMEOUT_MS = 10_000;
const STATEMENT_TIMEOUT_MS = 30_000;
const LOCK_TIMEOUT_MS = 10_000;
const TERMINATE_WAIT_MS = 5_000;

/** SQLSTATEs that retrying cannot fix: configuration or target-side setup is wrong. */
const PERMANENT_SQLSTATES = new Set([
  '42704', // undefined_object (a role to grant does not exist)
  '42501', // insufficient_privilege (the admin user lacks a privilege)
  '0LP01', // invalid_grant_operation
  '3D000', // invalid_catalog_name (the admin database does not exist)
  '28000', // invalid_authorization_specification (no pg_hba entry, admin role missing)
]);

/** The role of one access unit of one request: `stint_<request id>_<8 hex>` (principals.ts). */
export function roleNameFor(requestId: string, unit: AccessUnit): string {
  return principalNameFor(requestId, unit, 63);
}

const pbkdf2Async = promisify(pbkdf2);

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802/7677), so the plain password never
 * travels in SQL text (where statement logging would keep it). For ASCII passwords (SASLprep is the identity).
 */
export async function scramVerifier(password: string, iterations = 4096): Promise<string> {
  const salt = randomBytes(16);
  const salted = await pbkdf2Async(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** What the admin connection needs: every call (grant … revoke, and the sweep's and discovery's calls). */
type AdminContext = Pick<DriverContext, 'integration' | 'admin'>;

function parseConfig(ctx: AdminContext): PostgresConfig {
  const parsed = PostgresConfig.safeParse(ctx.integration.config);
  if (!parsed.success)
    throw new GrantPermanentError(
      `integration ${ctx.integration.id}: invalid postgresql config (${parsed.error.message})`,
    );
  return parsed.data;
}

function sslOptions(cfg: PostgresConfig): pg.ClientConfig['ssl'] {
  const mode = tlsModeOf(cfg.sslmode, config().local);
  if (mode === 'disable') return false;
  // verify-full: the server certificate must chain to a trusted CA (on Lambda, set NODE_EXTRA_CA_CERTS to the
  // RDS bundle) and name the host.
  return { rejectUnauthorized: mode === 'verify-full' };
}

/** One client per operation, with timeouts; always closed. SQL errors that retrying cannot fix become permanent. */
async function withClient<T>(ctx: AdminContext, database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const cfg = parseConfig(ctx);
  const admin = parseAdminSecret(ctx.integration.id, ctx.admin.secret);
  const client = new pg.Client({
    host: cfg.host,
    port: cfg.port,
    database,
    user: admin.username,
    password: admin.password,
    ssl: sslOptions(cfg),
    application_name: 'stint',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    lock_timeout: LOCK_TIMEOUT_MS,
    query_timeout: STATEMENT_TIMEOUT_MS + 5_000,
  });
  // A dropped connection also rejects the pending query; without a listener the 'error' event would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await work(client);
  } catch (error) {
    if (error instanceof pg.DatabaseError && error.code !== undefined && PERMANENT_SQLSTATES.has(error.code))
      throw new GrantPermanentError(`integration ${ctx.integration.id}: ${error.message} (SQLSTATE ${error.code})`);
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Rows of a catalog query, parsed. */
async function select<T extends z.ZodType>(
  client: pg.Client,
  row: T,
  sql: string,
  values: unknown[],
): Promise<z.infer<T>[]> {
  const result = await client.query(sql, values);
  return z.array(row).parse(result.rows);
}

const RoleRow = z.object({ oid: z.string(), rolcanlogin: z.boolean(), comment: z.string().nullable() });
type RoleRow = z.infer<typeof RoleRow>;
const NameRow = z.object({ name: z.string() });

async function findRole(client: pg.Client, role: string): Promise<RoleRow | undefined> {
  const rows = await select(
    client,
    RoleRow,
    `SELECT oid::text AS oid, rolcanlogin, shobj_description(oid, 'pg_authid') AS comment
       FROM pg_roles WHERE rolname = $1`,
    [role],
  );
  return rows[0];
}

function assertManaged(ctx: AdminContext, role: string, row: RoleRow): void {
  if (!row.comment?.startsWith(MARKER))
    throw new GrantPermanentError(
      `integration ${ctx.integration.id}: role ${role} exists but was not created by Stint; refusing to touch it`,
    );
}

/** The role to act on: the one grant recorded, else (grant crashed before recording) the one it would create. */
function roleOf(ctx: DriverContext, state: DriverState): string {
  const parsed = PostgresState.safeParse(state);
  return parsed.success ? parsed.data.role : roleNameFor(ctx.requestId, ctx.unit);
}

async function grant(ctx: DriverContext): Promise<GrantOutcome> {
  const cfg = parseConfig(ctx);
  const role = roleNameFor(ctx.requestId, ctx.unit);
  const database = ctx.unit.resource;
  const grants = [...new Set(ctx.permission.grants)];
  const password = generatePassword();
  const verifier = await scramVerifier(password);
  const r = escapeIdentifier(role);

  await withClient(ctx, cfg.database, async (client) => {
    await client.query('BEGIN');
    try {
      const db = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (db.rowCount === 0)
        throw new GrantPermanentError(`integration ${ctx.integration.id}: database ${database} does not exist`);
      const present = await select(
        client,
        NameRow,
        'SELECT rolname AS name FROM pg_roles WHERE rolname = ANY($1::text[])',
        [grants],
      );
      const missing = grants.filter((g) => !present.some((row) => row.name === g));
      if (missing.length > 0)
        throw new GrantPermanentError(
          `integration ${ctx.integration.id}: role(s) to grant do not exist: ${missing.join(', ')}`,
        );

      const attributes = `LOGIN INHERIT CONNECTION LIMIT ${CONNECTION_LIMIT} PASSWORD ${escapeLiteral(verifier)} VALID UNTIL ${escapeLiteral(ctx.expiresAt.toISOString())}`;
      const existing = await findRole(client, role);
      if (existing === undefined) {
        await client.query(`CREATE ROLE ${r} WITH ${attributes}`);
      } else {
        // A retry after a crash: converge on the same role with a fresh password.
        assertManaged(ctx, role, existing);
        await client.query(`ALTER ROLE ${r} WITH ${attributes}`);
        const members = await select(
          client,
          NameRow,
          'SELECT g.rolname AS name FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = $1::oid',
          [existing.oid],
        );
        for (const { name } of members)
          if (!grants.includes(name)) await client.query(`REVOKE ${escapeIdentifier(name)} FROM ${r}`);
      }
      await client.query(`COMMENT ON ROLE ${r} IS ${escapeLiteral(`${MARKER}; request ${ctx.requestId}`)}`);
      for (const g of grants) await client.query(`GRANT ${escapeIdentifier(g)} TO ${r}`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });

  return {
    status: 'done',
    state: { role },
    access: {
      kind: 'database',
      engine: 'postgresql',
      host: cfg.publicHost ?? cfg.host,
      port: cfg.publicPort ?? cfg.port,
      database,
      username: role,
    },
    secret: password,
  };
}

async function revoke(ctx: DriverContext, state: DriverState): Promise<RevokeOutcome> {
  await dropRole(ctx, roleOf(ctx, state), ctx.unit.resource);
  return { status: 'done' };
}

/**
 * Disables the role, ends its sessions, drops what it owns (in `resource`, when known, and every database where it
 * holds something) and drops it; a role already gone is done, a role without Stint's marker is refused.
 */
async function dropRole(ctx: AdminContext, role: string, resource: string | undefined): Promise<void> {
  const cfg = parseConfig(ctx);
  const r = escapeIdentifier(role);

  const databases = await withClient(ctx, cfg.database, async (client) => {
    const existing = await findRole(client, role);
    if (existing === undefined) return undefined; // already gone
    assertManaged(ctx, role, existing);
    // No new sessions, then end the live ones.
    await client.query(`ALTER ROLE ${r} WITH NOLOGIN`);
    await terminateSessions(ctx, client, existing.oid);
    // REASSIGN OWNED needs the privileges of the role when the admin is not a superuser (PostgreSQL 16+).
    const su = await select(
      client,
      z.object({ rolsuper: z.boolean() }),
      'SELECT rolsuper FROM pg_roles WHERE rolname = current_user',
      [],
    );
    if (su[0]?.rolsuper !== true) await client.query(`GRANT ${r} TO CURRENT_USER`);
    // Where it owns objects or holds privileges: the resource database and any other recorded dependency.
    const deps = await select(
      client,
      NameRow,
      `SELECT d.datname AS name FROM pg_database d
         WHERE d.datallowconn AND (d.datname = $1 OR d.oid IN (
           SELECT s.dbid FROM pg_shdepend s WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = $2::oid))`,
      [resource ?? null, existing.oid],
    );
    return { oid: existing.oid, names: deps.map((row) => row.name) };
  });
  if (databases === undefined) return;

  for (const database of databases.names) {
    await withClient(ctx, database, async (client) => {
      await client.query(`REASSIGN OWNED BY ${r} TO CURRENT_USER`);
      await client.query(`DROP OWNED BY ${r}`);
    });
  }

  await withClient(ctx, cfg.database, async (client) => {
    await client.query(`DROP ROLE IF EXISTS ${r}`);
    // A session that was authenticating while LOGIN was being removed.
    await terminateSessions(ctx, client, databases.oid);
  });
}

async function terminateSessions(ctx: AdminContext, client: pg.Client, oid: string): Promise<void> {
  const result = await select(
    client,
    z.object({ ended: z.boolean() }),
    `SELECT pg_terminate_backend(pid, $2) AS ended FROM pg_stat_activity
       WHERE usesysid = $1::oid AND pid <> pg_backend_pid()`,
    [oid, TERMINATE_WAIT_MS],
  );
  if (result.some((row) => !row.ended))
    throw new Error(`integration ${ctx.integration.id}: a session of the granted role did not end in time`);
}

async function extend(ctx: DriverContext, state: DriverState): Promise<void> {
  const cfg = parseConfig(ctx);
  const role = roleOf(ctx, state);
  await withClient(ctx, cfg.database, async (client) => {
    const existing = await findRole(client, role);
    if (existing === undefined)
      throw new GrantPermanentError(`integration ${ctx.integration.id}: role ${role} no longer exists`);
    assertManaged(ctx, role, existing);
    await client.query(
      `ALTER ROLE ${escapeIdentifier(role)} WITH VALID UNTIL ${escapeLiteral(ctx.expiresAt.toISOString())}`,
    );
  });
}

async function verify(ctx: DriverContext, state: DriverState): Promise<{ present: boolean }> {
  const cfg = parseConfig(ctx);
  const role = roleOf(ctx, state);
  return await withClient(ctx, cfg.database, async (client) => {
    const existing = await findRole(client, role);
    return { present: existing?.rolcanlogin === true };
  });
}

/** Roles that are PostgreSQL's, RDS's or Aurora's own: never offered as something to grant. */
const SYSTEM_ROLE = /^(pg_|rds|aurora_)/;

/**
 * What the target offers (`GET /integrations/{id}/discover`): every database the admin user may connect to, each
 * offering the roles that could back a permission — roles that cannot log in (group roles), except PostgreSQL's,
 * RDS's and Stint's own. One permission per role (its grants: that role), for the admin to rename or combine.
 */
async function discover(ctx: Pick<DriverContext, 'integration' | 'admin' | 'now'>): Promise<Discovered> {
  const cfg = parseConfig(ctx);
  return await withClient(ctx, cfg.database, async (client) => {
    const databases = await select(
      client,
      NameRow,
      `SELECT datname AS name FROM pg_database
         WHERE datallowconn AND NOT datistemplate AND has_database_privilege(datname, 'CONNECT')
         ORDER BY datname`,
      [],
    );
    const roles = await select(
      client,
      z.object({ name: z.string(), comment: z.string().nullable() }),
      `SELECT rolname AS name, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles
         WHERE NOT rolcanlogin AND NOT rolsuper ORDER BY rolname`,
      [],
    );
    const offered = roles.filter(
      (role) => !SYSTEM_ROLE.test(role.name) && !role.name.startsWith(ROLE_PREFIX) && !role.comment?.startsWith(MARKER),
    );
    const permissions = offered.map((role) => ({
      id: role.name,
      ...(role.comment === null ? {} : { description: role.comment.slice(0, 500) }),
      grants: [role.name],
    }));
    return { resources: databases.map((db) => ({ id: db.name, permissions })) };
  });
}

/** The sweep's view of a role comment: `managed by stint; request <id>`. */
const MANAGED_COMMENT = /^managed by stint(?:; request (\S{1,64}))?/;

/**
 * Every role Stint created: named with the prefix AND carrying the marker. A role with the prefix but not the
 * marker was made by someone else (or by hand) and is never listed, so the sweep can never remove it.
 */
async function listManaged(ctx: Pick<DriverContext, 'integration' | 'admin' | 'now'>): Promise<ManagedPrincipal[]> {
  const cfg = parseConfig(ctx);
  const rows = await withClient(ctx, cfg.database, (client) =>
    select(
      client,
      z.object({ name: z.string(), comment: z.string().nullable() }),
      // LIKE's `_` is a wildcard: the prefix is compared as a plain string.
      `SELECT rolname AS name, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles
         WHERE left(rolname, $1) = $2 ORDER BY rolname`,
      [ROLE_PREFIX.length, ROLE_PREFIX],
    ),
  );
  return rows.flatMap((row) => {
    const marker = row.comment === null ? null : MANAGED_COMMENT.exec(row.comment);
    if (marker === null) return [];
    return [{ name: row.name, ...(marker[1] === undefined ? {} : { requestId: marker[1] }) }];
  });
}

/** Removes a role Stint created that no live request holds, as revoke does; refuses one without the marker. */
async function revokeManaged(
  ctx: Pick<DriverContext, 'integration' | 'admin' | 'now'>,
  principal: ManagedPrincipal,
): Promise<void> {
  if (!PostgresState.safeParse({ role: principal.name }).success)
    throw new GrantPermanentError(
      `integration ${ctx.integration.id}: ${JSON.stringify(principal.name.slice(0, 80))} is not a Stint role name; refusing to touch it`,
    );
  await dropRole(ctx, principal.name, undefined);
}

/** What PostgreSQL can promise (lib/integrations/capabilities.ts). */
export const POSTGRESQL_CAPABILITIES: Capabilities = CAPABILITIES.postgresql;

export const postgresqlDriver: IntegrationDriver = {
  ...postgresqlChecks,
  capabilities: POSTGRESQL_CAPABILITIES,
  // Each request gets its own role: nothing is shared with other requests.
  leaseKeys: () => [],
  grant,
  revoke,
  extend,
  verify,
  discover,
  principalOf: roleNameFor,
  listManaged,
  revokeManaged,
};

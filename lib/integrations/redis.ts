import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import * as z from 'zod';
import { config } from '#lib/config.ts';
import type { AccessUnit } from '#lib/domain/bundle.ts';
import { CAPABILITIES } from './capabilities.ts';
import { aclRuleProblem, RedisConfig, redisChecks } from './checks/redis.ts';
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
 * Redis 6+ / Valkey ACLs: each request gets its own ACL user, `reset on #<sha256 of a generated password>`, plus the
 * permission's rules (`grants`: `~cache:*`, `+@read`, `-@dangerous`…). Revoke kills its connections and deletes it.
 * Redis ACLs have no expiry: the workflow's expiry wait and the reconciler's nudge revoke on time (see
 * docs/integrations/redis.md).
 *
 * The admin user (from the integration's secret, JSON `{"username","password"}`) needs `+acl +client|kill` and
 * nothing else; whoever can run ACL SETUSER can create any user, so treat it as a superuser.
 */

/** The config schema and ACL rule checks, in the light module PUT /integrations checks with (no ioredis there). */
export { aclRuleProblem, RedisConfig };

/** What grant returns as state and revoke/extend/verify read back. */
const RedisState = z.object({ user: z.string().regex(/^stint_[a-z0-9_]{1,57}$/) });

/**
 * Marks users Stint created (Redis 7+ / Valkey 7.2+): a selector `(%R~__stint__:<request id>)`. A selector grants a
 * command only if it allows the command itself, and a new selector allows none (`-@all`), so the marker grants
 * nothing; it shows in ACL GETUSER / ACL LIST and survives ACL SAVE / LOAD. Revoke, extend and the sweep never touch
 * a `stint_` user without it. Redis 6 has no selectors: there, the prefix alone marks Stint's users.
 */
export const MARKER_KEY = '__stint__';
const MARKER_PATTERN = /^%R~__stint__(?::([A-Za-z0-9_-]{1,64}))?$/;

const CONNECT_TIMEOUT_MS = 10_000;
const COMMAND_TIMEOUT_MS = 15_000;

/** The ACL user of one access unit of one request: `stint_<request id>_<8 hex>` (principals.ts). */
export function userNameFor(requestId: string, unit: AccessUnit): string {
  return principalNameFor(requestId, unit, 63);
}

function markerFor(requestId: string): string {
  // Request ids are ULIDs; anything else (glob characters) is left out of the pattern rather than escaped.
  return /^[A-Za-z0-9_-]{1,64}$/.test(requestId) ? `(%R~${MARKER_KEY}:${requestId})` : `(%R~${MARKER_KEY})`;
}

// ---- the admin connection ----

function parseConfig(ctx: Pick<DriverContext, 'integration'>): RedisConfig {
  const parsed = RedisConfig.safeParse(ctx.integration.config);
  if (!parsed.success)
    throw new GrantPermanentError(`integration ${ctx.integration.id}: invalid redis config (${parsed.error.message})`);
  return parsed.data;
}

function tlsOptions(cfg: RedisConfig): RedisOptions['tls'] {
  const mode = tlsModeOf(cfg.tls, config().local);
  if (mode === 'disable') return undefined;
  // verify-full: the server certificate must chain to a trusted CA (NODE_EXTRA_CA_CERTS) and name the host.
  return { servername: cfg.host, rejectUnauthorized: mode === 'verify-full' };
}

/**
 * Replies that retrying cannot fix: a bad rule, the admin's login or privileges. Connection errors (refused, reset,
 * timeouts) stay retryable.
 */
const PERMANENT_REPLY =
  /^(ERR Error in ACL SETUSER|WRONGPASS|NOAUTH|NOPERM|ERR unknown command|ERR unknown subcommand)/;

type Admin = { redis: Redis; username: string; selectors: boolean };

/** One connection per operation, with timeouts, no retries and no offline queue; always closed. */
async function withAdmin<T>(
  ctx: Pick<DriverContext, 'integration' | 'admin'>,
  work: (admin: Admin) => Promise<T>,
): Promise<T> {
  const cfg = parseConfig(ctx);
  const secret = parseAdminSecret(ctx.integration.id, ctx.admin.secret);
  const tls = tlsOptions(cfg);
  const redis = new Redis({
    host: cfg.host,
    port: cfg.port,
    ...(tls === undefined ? {} : { tls }),
    connectionName: 'stint',
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    lazyConnect: true,
    // The admin needs +acl +client|kill only: no INFO ready check, no CLIENT SETINFO / SETNAME.
    enableReadyCheck: false,
    disableClientInfo: true,
    enableOfflineQueue: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    autoResendUnfulfilledCommands: false,
  });
  // Without a listener a dropped connection's 'error' event would crash the process; the pending command rejects.
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    // AUTH as a command of its own, not ioredis's connect-time login: that one turns WRONGPASS into "Connection is
    // closed", and a wrong admin password is permanent.
    await redis.call('AUTH', secret.username, secret.password);
    const self = await getUser(redis, secret.username);
    // ACL GETUSER answers `selectors` on Redis 7+ / Valkey 7.2+ only.
    return await work({ redis, username: secret.username, selectors: self?.selectors !== undefined });
  } catch (error) {
    throw scrubbed(ctx.integration.id, error);
  } finally {
    redis.disconnect();
  }
}

/**
 * The error to pass on: Redis's reply text only (ioredis attaches the command and its arguments to errors, and
 * ACL SETUSER's carry the password hash), permanent where retrying cannot help.
 */
function scrubbed(integrationId: string, error: unknown): Error {
  if (error instanceof GrantPermanentError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error && error.name === 'ReplyError') {
    const text = `integration ${integrationId}: redis refused: ${message}`;
    return PERMANENT_REPLY.test(message) ? new GrantPermanentError(text) : new Error(text);
  }
  return new Error(`integration ${integrationId}: redis: ${message}`);
}

const Reply = z.union([z.string(), z.number(), z.null(), z.array(z.unknown())]);

/** A flat [field, value, …] reply (RESP2 maps) as a record. */
function fields(reply: unknown): Record<string, unknown> {
  const list = z.array(z.unknown()).parse(reply);
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = list[i + 1];
  return out;
}

type AclUser = {
  flags: string[];
  /** Key patterns of each selector; undefined on servers without selectors (Redis 6). */
  selectors?: string[][];
};

async function getUser(redis: Redis, name: string): Promise<AclUser | undefined> {
  const reply = Reply.parse(await redis.call('ACL', 'GETUSER', name));
  if (reply === null) return undefined;
  const user = fields(reply);
  const flags = z.array(z.string()).parse(user.flags ?? []);
  if (user.selectors === undefined) return { flags };
  const selectors = z
    .array(z.unknown())
    .parse(user.selectors)
    .map((selector) => {
      const keys = fields(selector).keys;
      return typeof keys === 'string' ? keys.split(' ').filter((k) => k !== '') : [];
    });
  return { flags, selectors };
}

/** The request id in Stint's marker, '' for a marker without one, undefined when the user carries no marker. */
function markerOf(user: AclUser): string | undefined {
  for (const keys of user.selectors ?? []) {
    if (keys.length !== 1) continue;
    const match = MARKER_PATTERN.exec(keys[0] ?? '');
    if (match !== null) return match[1] ?? '';
  }
  return undefined;
}

function isManaged(admin: Admin, name: string, user: AclUser): boolean {
  if (!name.startsWith(PRINCIPAL_PREFIX)) return false;
  return admin.selectors ? markerOf(user) !== undefined : true;
}

function assertManaged(integrationId: string, admin: Admin, name: string, user: AclUser): void {
  if (!isManaged(admin, name, user))
    throw new GrantPermanentError(
      `integration ${integrationId}: ACL user ${name} exists but was not created by Stint; refusing to touch it`,
    );
}

/**
 * Persists the ACL change when the server keeps its users in an ACL file (`aclfile`): without it a restart would
 * bring back a deleted user or lose a granted one. A server without one answers that it has none; nothing to do.
 * (Asking CONFIG GET aclfile first would need +config|get, an @admin @dangerous command, for the same answer.)
 */
async function saveAcl(redis: Redis): Promise<void> {
  try {
    await redis.call('ACL', 'SAVE');
  } catch (error) {
    if (error instanceof Error && /not configured to use an ACL file/i.test(error.message)) return;
    throw error;
  }
}

/** Ends the user's connections and deletes it (ACL DELUSER also disconnects it; the kill says so explicitly). */
async function removeUser(admin: Admin, name: string): Promise<void> {
  try {
    await admin.redis.call('CLIENT', 'KILL', 'USER', name);
  } catch (error) {
    // Deleted between GETUSER and here (a concurrent revoke): nothing of it is left.
    if (error instanceof Error && /no such user/i.test(error.message)) return;
    throw error;
  }
  await admin.redis.call('ACL', 'DELUSER', name);
  await saveAcl(admin.redis);
}

/** The user to act on: the one grant recorded, else (grant crashed before recording) the one it would create. */
function userOf(ctx: DriverContext, state: DriverState): string {
  const parsed = RedisState.safeParse(state);
  return parsed.success ? parsed.data.user : userNameFor(ctx.requestId, ctx.unit);
}

// ---- the driver ----

async function grant(ctx: DriverContext): Promise<GrantOutcome> {
  const cfg = parseConfig(ctx);
  const user = userNameFor(ctx.requestId, ctx.unit);
  const rules = [...ctx.permission.grants];
  // The integration was checked at PUT; a stored one from before the check still may not set a password or a flag.
  const refused = rules.map(aclRuleProblem).find((problem) => problem !== undefined);
  if (refused !== undefined) throw new GrantPermanentError(`integration ${ctx.integration.id}: ${refused}`);
  const password = generatePassword();
  // `#<sha256>` stores the hash Redis would store for `>password`: the plain password is never in a command.
  const hash = createHash('sha256').update(password).digest('hex');

  await withAdmin(ctx, async (admin) => {
    const existing = await getUser(admin.redis, user);
    if (existing !== undefined) assertManaged(ctx.integration.id, admin, user, existing);
    // `reset` first: a repeated grant converges on exactly these rules and a fresh password. ACL SETUSER is atomic:
    // a rule Redis refuses leaves the user as it was (absent on a first grant).
    const marker = admin.selectors ? [markerFor(ctx.requestId)] : [];
    await admin.redis.call('ACL', 'SETUSER', user, 'reset', 'on', `#${hash}`, ...marker, ...rules);
    // A retry after a crash: connections opened with the previous password, which nobody was given, end.
    if (existing !== undefined) await admin.redis.call('CLIENT', 'KILL', 'USER', user);
    await saveAcl(admin.redis);
  });

  return {
    status: 'done',
    state: { user },
    access: {
      kind: 'database',
      engine: 'redis',
      host: cfg.publicHost ?? cfg.host,
      port: cfg.publicPort ?? cfg.port,
      username: user,
    },
    secret: password,
  };
}

async function revoke(ctx: DriverContext, state: DriverState): Promise<RevokeOutcome> {
  const user = userOf(ctx, state);
  await withAdmin(ctx, async (admin) => {
    const existing = await getUser(admin.redis, user);
    if (existing === undefined) return; // already gone, and its connections with it
    assertManaged(ctx.integration.id, admin, user, existing);
    await removeUser(admin, user);
  });
  return { status: 'done' };
}

/** Redis ACLs have no expiry to move: the user is checked to still be there (access kept, nothing changed). */
async function extend(ctx: DriverContext, state: DriverState): Promise<void> {
  const user = userOf(ctx, state);
  await withAdmin(ctx, async (admin) => {
    const existing = await getUser(admin.redis, user);
    if (existing === undefined)
      throw new GrantPermanentError(`integration ${ctx.integration.id}: ACL user ${user} no longer exists`);
    assertManaged(ctx.integration.id, admin, user, existing);
  });
}

async function verify(ctx: DriverContext, state: DriverState): Promise<{ present: boolean }> {
  const user = userOf(ctx, state);
  return await withAdmin(ctx, async (admin) => {
    const existing = await getUser(admin.redis, user);
    return { present: existing?.flags.includes('on') === true };
  });
}

/** Example permissions discover offers (admins adapt the key patterns). */
const EXAMPLE_PERMISSIONS = [
  {
    id: 'readonly',
    description: 'Read any key; connection commands (PING, SELECT…) but nothing dangerous',
    grants: ['~*', '+@read', '+@connection', '-@admin', '-@dangerous'],
  },
  {
    id: 'readwrite',
    description: 'Read and write any key; nothing dangerous',
    grants: ['~*', '+@read', '+@write', '+@connection', '-@admin', '-@dangerous'],
  },
];

async function discover(ctx: Pick<DriverContext, 'integration' | 'admin' | 'now'>): Promise<Discovered> {
  const categories = await withAdmin(ctx, async (admin) =>
    z.array(z.string()).parse(await admin.redis.call('ACL', 'CAT')),
  );
  return {
    resources: [
      {
        id: 'keyspace',
        description: `Redis ACL rules; categories for +@<category> / -@<category>: ${categories.join(', ')}`,
        permissions: EXAMPLE_PERMISSIONS,
      },
    ],
  };
}

async function listManaged(ctx: Pick<DriverContext, 'integration' | 'admin' | 'now'>): Promise<ManagedPrincipal[]> {
  return await withAdmin(ctx, async (admin) => {
    const names = z.array(z.string()).parse(await admin.redis.call('ACL', 'USERS'));
    const found: ManagedPrincipal[] = [];
    for (const name of names.filter((n) => n.startsWith(PRINCIPAL_PREFIX))) {
      const user = await getUser(admin.redis, name);
      if (user === undefined || !isManaged(admin, name, user)) continue;
      const requestId = markerOf(user);
      found.push(requestId === undefined || requestId === '' ? { name } : { name, requestId });
    }
    return found;
  });
}

async function revokeManaged(
  ctx: Pick<DriverContext, 'integration' | 'admin' | 'now'>,
  principal: ManagedPrincipal,
): Promise<void> {
  await withAdmin(ctx, async (admin) => {
    const existing = await getUser(admin.redis, principal.name);
    if (existing === undefined) return;
    assertManaged(ctx.integration.id, admin, principal.name, existing);
    await removeUser(admin, principal.name);
  });
}

/** What Redis can promise (lib/integrations/capabilities.ts). */
export const REDIS_CAPABILITIES: Capabilities = CAPABILITIES.redis;

export const redisDriver: IntegrationDriver = {
  ...redisChecks,
  capabilities: REDIS_CAPABILITIES,
  // Each request gets its own ACL user: nothing is shared with other requests.
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

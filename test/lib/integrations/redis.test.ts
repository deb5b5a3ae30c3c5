import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/domain/errors.ts';
import type { IntegrationInput, Permission, Resource } from '#lib/domain/integration.ts';
import { aclRuleProblem, MARKER_KEY, REDIS_CAPABILITIES, redisDriver, userNameFor } from '#lib/integrations/redis.ts';
import {
  AccessView,
  type DriverContext,
  type DriverState,
  type GrantDone,
  GrantPermanentError,
} from '#lib/integrations/types.ts';
import { freePort } from '#lib/local/embedded-postgres.ts';
import { driverContext, testIntegration } from '../../support/driver-context.ts';
import { until } from '../../support/http.ts';
import {
  aclUsers,
  asDefault,
  canAuth,
  createRedisAdmin,
  loginAs,
  outcome,
  REDIS_HOST,
  REDIS_PORT,
  runSuffix,
} from '../../support/redis.ts';

/**
 * The Redis driver against the machine's Redis 7 (shared with other tests: an admin ACL user with exactly the
 * documented privileges, keys under a per-run prefix, request ids per test; all removed afterwards).
 */
const run = runSuffix();
const PREFIX = `stinttest:${run}`;
const readonly: Permission = { id: 'readonly', grants: [`%R~${PREFIX}:*`, '+get', '+set'] };
const readwrite: Permission = { id: 'readwrite', grants: [`~${PREFIX}:*`, '+get', '+set'] };
const resources: Resource[] = [{ id: 'cache', owners: [], permissions: [readonly, readwrite] }];

let admin: Awaited<ReturnType<typeof createRedisAdmin>>;
const open: Redis[] = [];
const made: string[] = [];

beforeAll(async () => {
  admin = await createRedisAdmin();
  await asDefault((r) => r.set(`${PREFIX}:greeting`, 'hello'));
});

afterAll(async () => {
  for (const r of open) r.disconnect();
  await asDefault(async (r) => {
    for (const name of made) await r.call('ACL', 'DELUSER', name);
    await r.del(`${PREFIX}:greeting`, `${PREFIX}:new`);
  });
  await admin?.drop();
});

let sequence = 0;
/** A fresh request id (ULID-shaped) per call, unique per run, so tests never share users. */
function nextRequestId(): string {
  sequence += 1;
  return `01JRED${run.toUpperCase()}${String(sequence).padStart(8, '0')}`;
}

function integration(config: Record<string, string | number | boolean> = {}) {
  return testIntegration('redis', { host: REDIS_HOST, port: REDIS_PORT, tls: false, ...config }, resources, {
    secretRef: 'env:STINT_TEST_REDIS_ADMIN',
  });
}

function context(
  options: { permission?: string; secret?: string; config?: Record<string, string | number | boolean> } = {},
): DriverContext {
  const requestId = nextRequestId();
  const ctx = driverContext(integration(options.config), {
    requestId,
    permission: options.permission ?? 'readonly',
    secret: options.secret ?? admin.secret,
  });
  made.push(userNameFor(requestId, ctx.unit));
  return ctx;
}

async function granted(ctx: DriverContext): Promise<GrantDone & { password: string; username: string }> {
  const outcomeOf = await redisDriver.grant(ctx);
  if (outcomeOf.status !== 'done') throw new Error(`grant answered ${outcomeOf.status}`);
  const access = AccessView.parse(outcomeOf.access);
  if (access.kind !== 'database' || outcomeOf.secret === undefined) throw new Error('no database access or password');
  return { ...outcomeOf, password: outcomeOf.secret, username: access.username };
}

async function revoked(ctx: DriverContext, state: DriverState): Promise<void> {
  expect(await redisDriver.revoke(ctx, state)).toEqual({ status: 'done' });
}

async function login(username: string, password: string): Promise<Redis> {
  const r = await loginAs(username, password);
  open.push(r);
  return r;
}

async function userExists(name: string): Promise<boolean> {
  return (await aclUsers()).includes(name);
}

/** Waits until the server has closed `r` (CLIENT KILL), with a deadline; ioredis never reconnects here. */
async function closed(r: Redis): Promise<boolean> {
  await until(
    async () => r.status,
    (status) => status === 'end',
    10_000,
    50,
  );
  return r.status === 'end';
}

describe('redis driver contract', () => {
  it('promises what the tests below prove: revoke ends live connections, the server enforces no expiry', () => {
    expect(redisDriver.capabilities).toEqual({
      endsLiveSessions: true,
      residualSessionSeconds: 0,
      targetEnforcesExpiry: false,
      issuesCredentials: false,
    });
    expect(REDIS_CAPABILITIES).toBe(redisDriver.capabilities);
    expect(redisDriver.needsSecret).toBe(true);
    expect(redisDriver.issueCredentials).toBeUndefined();
  });

  it('names the same user as grant, per request and unit, with no lease keys', () => {
    const { admin: _a, ...ctx } = context();
    expect(redisDriver.leaseKeys(ctx)).toEqual([]);
    expect(redisDriver.principalOf?.(ctx.requestId, ctx.unit)).toBe(userNameFor(ctx.requestId, ctx.unit));
    expect(userNameFor(ctx.requestId, ctx.unit)).toMatch(/^stint_01jred[a-z0-9]+_[0-9a-f]{8}$/);
    expect(userNameFor(ctx.requestId, { ...ctx.unit, permission: 'readwrite' })).not.toBe(
      userNameFor(ctx.requestId, ctx.unit),
    );
  });
});

describe('redis grant', () => {
  it('creates a user that authenticates with its password only, runs what its rules allow and nothing else', async () => {
    const ctx = context();
    const result = await granted(ctx);

    expect(result.state).toEqual({ user: result.username });
    expect(result.access).toEqual({
      kind: 'database',
      engine: 'redis',
      host: REDIS_HOST,
      port: REDIS_PORT,
      username: userNameFor(ctx.requestId, ctx.unit),
    });
    expect(await canAuth(result.username, 'not-the-password')).toBe(false);
    const grantee = await login(result.username, result.password);
    expect(await grantee.get(`${PREFIX}:greeting`)).toBe('hello');
    // A read-only key pattern refuses SET although +set is allowed; a key outside the pattern is refused outright.
    expect(await outcome(() => grantee.set(`${PREFIX}:greeting`, 'changed'))).toMatch(/^NOPERM/);
    expect(await outcome(() => grantee.get(`other:${run}`))).toMatch(/^NOPERM/);
    expect(await outcome(() => grantee.call('ACL', 'USERS'))).toMatch(/^NOPERM/);
    expect(await asDefault((r) => r.get(`${PREFIX}:greeting`))).toBe('hello');
  });

  it('keeps the plain password out of the server: it stores the SHA-256 only, and carries the marker', async () => {
    const ctx = context();
    const result = await granted(ctx);

    const rules = String(await asDefault((r) => r.call('ACL', 'LIST')));
    const line = rules.split(',').find((l) => l.startsWith(`user ${result.username} `)) ?? '';
    expect(line).toContain(`(%R~${MARKER_KEY}:${ctx.requestId}`);
    expect(line).not.toContain(result.password);
    expect(line).toMatch(/#[0-9a-f]{64}/);
    // The marker selector allows no command: a key named like it is refused.
    const grantee = await login(result.username, result.password);
    expect(await outcome(() => grantee.get(`${MARKER_KEY}:${ctx.requestId}`))).toMatch(/^NOPERM/);
  });

  it('lets a read-write permission write under its prefix', async () => {
    const ctx = context({ permission: 'readwrite' });
    const result = await granted(ctx);
    const grantee = await login(result.username, result.password);

    expect(await grantee.set(`${PREFIX}:new`, 'v')).toBe('OK');
    expect(await asDefault((r) => r.get(`${PREFIX}:new`))).toBe('v');
  });

  it('converges when repeated: one user, a fresh password, the old one and its connections gone', async () => {
    const ctx = context();
    const first = await granted(ctx);
    const before = await login(first.username, first.password);

    const second = await granted(ctx);

    expect(second.username).toBe(first.username);
    expect(second.password).not.toBe(first.password);
    expect(await canAuth(first.username, first.password)).toBe(false);
    expect(await canAuth(second.username, second.password)).toBe(true);
    expect(await closed(before)).toBe(true);
    expect((await aclUsers()).filter((u) => u === first.username)).toHaveLength(1);
  });

  it('fails permanently with Redis’s reason on a rule Redis refuses, and leaves nothing', async () => {
    const ctx = context();
    const bad = { ...ctx, permission: { id: 'readonly', grants: [`~${PREFIX}:*`, '+nosuchcommand'] } };

    const error = await redisDriver.grant(bad).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect((error as Error).message).toMatch(/'\+nosuchcommand'.*Unknown command/);
    expect(await userExists(userNameFor(ctx.requestId, ctx.unit))).toBe(false);
  });

  it('refuses a stored rule that would set a password, before reaching Redis', async () => {
    const ctx = context();
    const bad = { ...ctx, permission: { id: 'readonly', grants: ['~*', 'nopass'] } };

    await expect(redisDriver.grant(bad)).rejects.toThrow(GrantPermanentError);
    expect(await userExists(userNameFor(ctx.requestId, ctx.unit))).toBe(false);
  });

  it('fails permanently on a wrong admin password, without quoting it', async () => {
    const ctx = context({ secret: JSON.stringify({ username: admin.username, password: 'wrong-admin-pw' }) });

    const error = await redisDriver.grant(ctx).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect((error as Error).message).toMatch(/WRONGPASS/);
    expect((error as Error).message).not.toContain('wrong-admin-pw');
  });

  it('retries (a plain error) when the server cannot be reached', async () => {
    const ctx = context({ config: { port: await freePort() } });

    const error = await redisDriver.grant(ctx).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(GrantPermanentError);
  });
});

describe('redis revoke', () => {
  it('deletes the user and ends its open connection; a second revoke is done too', async () => {
    const ctx = context();
    const result = await granted(ctx);
    const session = await login(result.username, result.password);
    expect(await session.get(`${PREFIX}:greeting`)).toBe('hello');

    await revoked(ctx, result.state);

    expect(await canAuth(result.username, result.password)).toBe(false);
    expect(await closed(session)).toBe(true);
    expect(await userExists(result.username)).toBe(false);
    await revoked(ctx, result.state);
  });

  it('finds the user from the request when grant crashed before recording its state', async () => {
    const ctx = context();
    const result = await granted(ctx);

    await revoked(ctx, {});

    expect(await userExists(result.username)).toBe(false);
  });
});

describe('redis extend and verify', () => {
  it('keeps access on extend (Redis has no expiry to move): the open connection and the password still work', async () => {
    const ctx = context();
    const result = await granted(ctx);
    const session = await login(result.username, result.password);

    await redisDriver.extend({ ...ctx, expiresAt: new Date(ctx.expiresAt.getTime() + 3600_000) }, result.state);

    expect(await session.get(`${PREFIX}:greeting`)).toBe('hello');
    expect(await canAuth(result.username, result.password)).toBe(true);
  });

  it('fails extend permanently when the user is gone', async () => {
    const ctx = context();
    const result = await granted(ctx);
    await revoked(ctx, result.state);

    await expect(redisDriver.extend(ctx, result.state)).rejects.toThrow(GrantPermanentError);
  });

  it('reports presence until revoke', async () => {
    const ctx = context();
    const result = await granted(ctx);

    expect(await redisDriver.verify?.(ctx, result.state)).toEqual({ present: true });
    await revoked(ctx, result.state);
    expect(await redisDriver.verify?.(ctx, result.state)).toEqual({ present: false });
  });
});

describe('redis orphan sweep', () => {
  it('lists Stint’s users with their request, never a hand-made stint_ user without the marker', async () => {
    const ctx = context();
    const result = await granted(ctx);
    const handMade = `stint_handmade_${run}`;
    made.push(handMade);
    await asDefault((r) => r.call('ACL', 'SETUSER', handMade, 'on', 'nopass', '+get', `~${PREFIX}:*`));

    const managed = (await redisDriver.listManaged?.(ctx)) ?? [];

    expect(managed).toContainEqual({ name: result.username, requestId: ctx.requestId });
    expect(managed.map((m) => m.name)).not.toContain(handMade);
    expect(managed.map((m) => m.name)).not.toContain(admin.username);
    expect(managed.every((m) => m.name.startsWith('stint_'))).toBe(true);
  });

  it('removes an orphan as revoke does, and refuses a user without the marker', async () => {
    const ctx = context();
    const result = await granted(ctx);
    const session = await login(result.username, result.password);
    const handMade = `stint_handmade2_${run}`;
    made.push(handMade);
    await asDefault((r) => r.call('ACL', 'SETUSER', handMade, 'on', 'nopass', '+get'));

    await redisDriver.revokeManaged?.(ctx, { name: result.username });
    const refused = await redisDriver.revokeManaged?.(ctx, { name: handMade }).catch((e: unknown) => e);

    expect(await userExists(result.username)).toBe(false);
    expect(await closed(session)).toBe(true);
    expect(refused).toBeInstanceOf(GrantPermanentError);
    expect(await userExists(handMade)).toBe(true);
    await expect(redisDriver.revoke(ctx, { user: handMade })).rejects.toThrow(/not created by Stint/);
    expect(await userExists(handMade)).toBe(true);
  });
});

describe('redis discover', () => {
  it('offers the server’s ACL categories and example permissions that pass the rule check', async () => {
    const answer = await redisDriver.discover?.(context());

    const resource = answer?.resources[0];
    expect(resource?.description).toMatch(/read, write/);
    expect(resource?.permissions.map((p) => p.id)).toEqual(['readonly', 'readwrite']);
    for (const rule of resource?.permissions.flatMap((p) => p.grants) ?? [])
      expect(aclRuleProblem(rule)).toBeUndefined();
  });
});

describe('redis ACL rule check (PUT /integrations)', () => {
  it.each([
    '~cache:*',
    '%R~k:*',
    '%RW~k:*',
    '+@read',
    '-@dangerous',
    '&chan:*',
    '+get',
    '+config|get',
    'allkeys',
    'resetkeys',
    'allchannels',
    'nocommands',
    '(~k:* +get)',
  ])('accepts %s', (rule) => {
    expect(aclRuleProblem(rule)).toBeUndefined();
  });

  it.each([
    ['on', /user flag/],
    ['OFF', /user flag/],
    ['nopass', /user flag/],
    ['reset', /user flag/],
    ['resetpass', /user flag/],
    ['clearselectors', /user flag/],
    ['>secret', /password/],
    ['<secret', /password/],
    ['#abc', /password/],
    ['!abc', /password/],
    ['~a:* +get', /one ACL rule per grant/],
    ['(~k:* nopass)', /in the selector/],
    ['(~k:* >pw)', /in the selector/],
    ['()', /selector/],
    ['banana', /not an ACL/],
  ])('refuses %s', (rule, reason) => {
    expect(aclRuleProblem(rule)).toMatch(reason);
  });

  it('names the field of the first refused rule, and lists every one', async () => {
    const input: IntegrationInput = {
      name: 'Redis',
      type: 'redis',
      config: { host: 'cache.internal' },
      secretRef: 'env:STINT_TEST_REDIS_ADMIN',
      resources: [
        {
          id: 'cache',
          owners: [],
          permissions: [
            { id: 'ok', grants: ['~k:*', '+get'] },
            { id: 'bad', grants: ['~k:*', '+get', 'nopass', '>pw'] },
          ],
        },
      ],
    };

    const error = await redisDriver.checkIntegration?.(input).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe('resources.0.permissions.1.grants.2');
    expect((error as ValidationError).issues.map((i) => i.path)).toEqual([
      'resources.0.permissions.1.grants.2',
      'resources.0.permissions.1.grants.3',
    ]);
    await expect(
      redisDriver.checkIntegration?.({ ...input, resources: [{ ...resources[0], id: 'c' } as Resource] }),
    ).resolves.toBeUndefined();
  });
});

describe('redis with an ACL file', () => {
  let server: ChildProcess | undefined;
  let dir = '';
  let port = 0;

  beforeAll(async () => {
    // A private server of this test's own (aclfile is fixed at start-up), so the shared one is left as it is.
    dir = await mkdtemp(join(tmpdir(), 'stint-redis-acl-'));
    port = await freePort();
    await writeFile(join(dir, 'users.acl'), 'user default on nopass ~* &* +@all\n');
    server = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--aclfile',
        join(dir, 'users.acl'),
      ],
      { stdio: 'ignore' },
    );
    await until(
      () => asDefault((r) => r.ping(), port).catch(() => 'down'),
      (answer) => answer === 'PONG',
      15_000,
      100,
    );
  });

  afterAll(async () => {
    server?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('saves the ACL file after grant and after revoke, so a restart brings back neither', async () => {
    const privateAdmin = await createRedisAdmin(port);
    const ctx = driverContext(integration({ port }), {
      requestId: nextRequestId(),
      permission: 'readonly',
      secret: privateAdmin.secret,
    });

    const result = await redisDriver.grant(ctx);
    const state = result.status === 'done' ? result.state : {};
    const afterGrant = await readFile(join(dir, 'users.acl'), 'utf8');
    await redisDriver.revoke(ctx, state);
    const afterRevoke = await readFile(join(dir, 'users.acl'), 'utf8');

    const user = userNameFor(ctx.requestId, ctx.unit);
    expect(afterGrant).toMatch(new RegExp(`^user ${user} on .*#[0-9a-f]{64}`, 'm'));
    expect(afterRevoke).not.toContain(user);
  });
});

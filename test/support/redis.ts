import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/**
 * The machine's Redis (127.0.0.1:6379, `default` user nopass) for driver and end-to-end tests. Other tests use it at
 * the same time: everything made here has a per-run random name, and is removed afterwards.
 */
export const REDIS_HOST = process.env.STINT_TEST_REDIS_HOST ?? '127.0.0.1';
export const REDIS_PORT = Number(process.env.STINT_TEST_REDIS_PORT ?? 6379);

/** A random lowercase suffix for names made by one test run. */
export function runSuffix(): string {
  return randomBytes(6).toString('hex');
}

/**
 * A connection that fails instead of retrying and sends nothing the user's rules might refuse (no INFO, no SETINFO);
 * log in with `AUTH` (ioredis's own login reports a refused password as "Connection is closed").
 */
export function connect(options: { port?: number } = {}): Redis {
  const redis = new Redis({
    host: REDIS_HOST,
    port: options.port ?? REDIS_PORT,
    lazyConnect: true,
    enableReadyCheck: false,
    disableClientInfo: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 5_000,
  });
  redis.on('error', () => undefined);
  return redis;
}

/** A command as the server's `default` user (nopass), on a fresh connection. */
export async function asDefault<T>(work: (redis: Redis) => Promise<T>, port = REDIS_PORT): Promise<T> {
  const redis = connect({ port });
  try {
    await redis.connect();
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

/** The privileges docs/integrations/redis.md names for Stint's admin ACL user. */
export const ADMIN_RULES = ['+acl', '+client|kill'];

/** An admin ACL user with exactly the documented privileges; `secret` is what the integration's secretRef holds. */
export async function createRedisAdmin(port = REDIS_PORT): Promise<{
  username: string;
  password: string;
  secret: string;
  drop(): Promise<void>;
}> {
  const username = `stint-test-admin-${runSuffix()}`;
  const password = randomBytes(24).toString('base64url');
  await asDefault((r) => r.call('ACL', 'SETUSER', username, 'reset', 'on', `>${password}`, ...ADMIN_RULES), port);
  return {
    username,
    password,
    secret: JSON.stringify({ username, password }),
    drop: async () => {
      await asDefault((r) => r.call('ACL', 'DELUSER', username), port);
    },
  };
}

/** A connection logged in as `username` (AUTH), for commands as the grantee; the caller disconnects it. */
export async function loginAs(username: string, password: string, port = REDIS_PORT): Promise<Redis> {
  const redis = connect({ port });
  await redis.connect();
  await redis.call('AUTH', username, password);
  return redis;
}

/** Whether `username` / `password` authenticate (a fresh connection, AUTH then closed). */
export async function canAuth(username: string, password: string, port = REDIS_PORT): Promise<boolean> {
  const redis = connect({ port });
  try {
    await redis.connect();
    await redis.call('AUTH', username, password);
    return true;
  } catch (error) {
    if (error instanceof Error && /WRONGPASS|NOAUTH/.test(error.message)) return false;
    throw error;
  } finally {
    redis.disconnect();
  }
}

/** The reply to a command, or the error text Redis answered with (`NOPERM …`). */
export async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return await run();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The ACL user names on the server. */
export async function aclUsers(port = REDIS_PORT): Promise<string[]> {
  return (await asDefault((r) => r.call('ACL', 'USERS'), port)) as string[];
}

import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { redisSuite, redisTestAdmin } from './data-stores/redis.ts';

/**
 * Temporary: runs the Redis suite on a local runtime of its own until the lead folds it into the shared data-stores
 * file (which starts one runtime with STINT_TEST_REDIS_ADMIN in its env, as here).
 */
let stint: Stint;

beforeAll(async () => {
  stint = await startStint({
    pgDataDir: join(await clusterParentDir('stint-e2e-redis'), 'pg'),
    pgPort: await freePort(),
    port: 0,
    scheduleEveryMs: 1000,
    env: { STINT_TEST_REDIS_ADMIN: await redisTestAdmin() },
  });
}, 180_000);

afterAll(async () => {
  await stint?.stop();
});

redisSuite(() => ({
  stint,
  tokenFor: (sub, groups = []) => stint.token({ sub, email: `${sub}@example.com`, groups }),
}));

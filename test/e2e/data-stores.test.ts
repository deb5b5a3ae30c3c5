import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { MYSQL_ADMIN_ENV, mysqlSuite, mysqlTestAdmin } from './data-stores/mysql.ts';
import { redisSuite, redisTestAdmin } from './data-stores/redis.ts';
import { sweepSuite } from './data-stores/sweep.ts';

/**
 * The data stores end to end on one local runtime: MySQL / MariaDB (the machine's MariaDB on 127.0.0.1:3306) and
 * Redis (127.0.0.1:6379) integrations added with PUT /integrations and `env:` admin secrets, and the orphan sweep on
 * the demo PostgreSQL. Each suite creates and removes its own uniquely named things on the shared servers.
 */
let stint: Stint | undefined;

beforeAll(async () => {
  stint = await startStint({
    pgDataDir: join(await clusterParentDir('stint-e2e-data-stores'), 'pg'),
    pgPort: await freePort(),
    port: 0,
    scheduleEveryMs: 1000,
    env: { [MYSQL_ADMIN_ENV]: await mysqlTestAdmin(), STINT_TEST_REDIS_ADMIN: await redisTestAdmin() },
  });
}, 180_000);

afterAll(async () => {
  await stint?.stop();
});

const context = () => {
  if (stint === undefined) throw new Error('Stint is not started');
  const started = stint;
  return {
    stint: started,
    tokenFor: (sub: string, groups: string[] = []) => started.token({ sub, email: `${sub}@example.com`, groups }),
  };
};

mysqlSuite(context);
redisSuite(context);
sweepSuite(context);

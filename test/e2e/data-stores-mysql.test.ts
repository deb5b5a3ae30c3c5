import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { MYSQL_ADMIN_ENV, mysqlSuite, mysqlTestAdmin } from './data-stores/mysql.ts';

/** Temporary: runs the mysql suite on its own local runtime until the lead folds it into the shared data-stores file. */
let stint: Stint;

beforeAll(async () => {
  stint = await startStint({
    pgDataDir: join(await clusterParentDir('stint-e2e-mysql'), 'pg'),
    pgPort: await freePort(),
    port: 0,
    scheduleEveryMs: 1000,
    env: { [MYSQL_ADMIN_ENV]: await mysqlTestAdmin() },
  });
}, 180_000);

afterAll(async () => {
  await stint?.stop();
});

mysqlSuite(() => ({
  stint,
  tokenFor: (sub, groups = []) => stint.token({ sub, email: `${sub}@example.com`, groups }),
}));

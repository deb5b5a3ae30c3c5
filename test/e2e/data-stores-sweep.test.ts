import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { sweepSuite } from './data-stores/sweep.ts';

/** Temporary: runs the sweep suite on its own until the lead folds it into the shared data-stores file. */
let stint: Stint | undefined;
beforeAll(async () => {
  stint = await startStint({
    pgDataDir: join(await clusterParentDir('stint-e2e-sweep'), 'pg'),
    pgPort: await freePort(),
    port: 0,
    scheduleEveryMs: 60_000,
  });
}, 180_000);
afterAll(async () => {
  await stint?.stop();
});

sweepSuite(() => {
  if (stint === undefined) throw new Error('Stint is not started');
  const started = stint;
  return {
    stint: started,
    tokenFor: (sub, groups = []) => started.token({ sub, email: `${sub}@example.com`, groups }),
  };
});

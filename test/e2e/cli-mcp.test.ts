import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { cliReady, configDirFor, runCli } from '../support/cli.ts';
import { mcpSuite } from './cli/mcp.ts';

/**
 * Temporary (the lead folds mcpSuite into test/e2e/cli.test.ts, which owns the one local runtime, and removes this
 * file): starts Stint as that file does and runs the `stint mcp` cases against it.
 */
let stint: Stint;
const dirs: Record<string, string> = {};

beforeAll(async () => {
  await cliReady();
  stint = await startStint({
    pgDataDir: join(await clusterParentDir('stint-e2e-mcp'), 'pg'),
    pgPort: await freePort(),
  });
});

afterAll(async () => {
  await stint?.stop();
});

async function signIn(who: string, groups: string[] = []): Promise<string> {
  dirs[who] ??= configDirFor(who);
  const res = await runCli(
    ['login', '--local', '--url', stint.url, '--user', who, ...groups.flatMap((g) => ['--group', g])],
    { configDir: dirs[who] },
  );
  expect(res, res.stderr).toMatchObject({ code: 0 });
  return dirs[who];
}

mcpSuite(() => ({ url: stint.url, signIn }));

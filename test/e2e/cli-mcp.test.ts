import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { CLI_BIN, ensureCliBuilt } from '../../cli/build.ts';
import { mcpSuite } from './cli/mcp.ts';

/**
 * Temporary (the lead folds mcpSuite into the CLI's end-to-end file, which owns the one local runtime, and removes
 * this file): starts Stint as test/e2e/lifecycle.test.ts does and runs the `stint mcp` cases against it.
 */
const run = promisify(execFile);
let stint: Stint;

beforeAll(async () => {
  await ensureCliBuilt();
  stint = await startStint({
    pgDataDir: join(await clusterParentDir('stint-e2e-mcp'), 'pg'),
    pgPort: await freePort(),
    port: 0,
    scheduleEveryMs: 1000,
  });
}, 180_000);

afterAll(async () => {
  await stint?.stop();
});

async function signIn(sub: string, groups: string[] = []): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `stint-mcp-${sub}-`));
  await run(
    process.execPath,
    [CLI_BIN, 'login', '--local', '--user', sub, ...groups.flatMap((g) => ['--group', g]), '--url', stint.url],
    { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), STINT_CONFIG_DIR: dir } },
  );
  return dir;
}

mcpSuite(() => ({ url: stint.url, signIn }));

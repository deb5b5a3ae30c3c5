import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_BIN, ensureCliBuilt } from '../../cli/build.ts';

export type CliResult = { code: number | null; stdout: string; stderr: string };

/** Builds the CLI bundle if its sources changed since the last build (`npm ci` built it already, normally). */
export const cliReady = () => ensureCliBuilt();

/** A fresh config folder: one person's `stint` sessions, as their own home would hold them. */
export function configDirFor(name: string): string {
  return mkdtempSync(join(tmpdir(), `stint-cli-${name}-`));
}

/**
 * Runs the real `stint` binary (cli/bin/stint.js) as a child process, stdin not a terminal (like a script or CI):
 * the exit code and both streams.
 */
export function runCli(
  args: string[],
  options: { configDir: string; env?: Record<string, string>; input?: string; timeoutMs?: number },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, ...options.env };
    if (options.env?.STINT_URL === undefined) delete env.STINT_URL;
    const child = spawn(process.execPath, [CLI_BIN, ...args], {
      env: { ...env, STINT_CONFIG_DIR: options.configDir, NO_COLOR: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 120_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

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

/**
 * Runs `stint` on a terminal (a pseudo-terminal from util-linux `script`), answering its prompts: each step waits
 * until `expect` appears on the screen, then types `keys`. Answers the exit code and everything shown.
 */
export function runCliOnTerminal(
  args: string[],
  options: { configDir: string; steps: { expect: string; keys: string }[]; timeoutMs?: number },
): Promise<{ code: number | null; screen: string }> {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const command = [process.execPath, CLI_BIN, ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    // A pseudo-terminal without a size has zero columns: the prompts would wrap after every character.
    const child = spawn('script', ['-qec', `stty cols 120 rows 40; ${command}`, '/dev/null'], {
      env: { ...process.env, STINT_CONFIG_DIR: options.configDir, TERM: 'xterm', CI: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    let screen = '';
    const steps = [...options.steps];
    let seen = 0;
    child.stdout.on('data', (d: Buffer) => {
      screen += d.toString();
      const step = steps[0];
      if (step !== undefined && screen.indexOf(step.expect, seen) >= 0) {
        seen = screen.length;
        steps.shift();
        child.stdin.write(step.keys);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, screen }));
  });
}

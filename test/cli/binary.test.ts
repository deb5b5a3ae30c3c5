import { describe, expect, it } from 'vitest';
import { configDirFor, runCli } from '../support/cli.ts';

/** The binary without an API: help, version, usage errors and shell completion (@bomb.sh/tab). */
describe('the stint binary', () => {
  const configDir = configDirFor('binary');

  it('answers --help with every command and the exit codes', async () => {
    const res = await runCli(['--help'], { configDir });
    expect(res.code).toBe(0);
    for (const command of ['login', 'request', 'approve', 'connect', 'exec', 'mcp', 'completion']) {
      expect(res.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
    expect(res.stdout).toContain('Exit codes: 0 done, 1 refused or failed, 2 usage, 3 not signed in.');
  });

  it('exits 2 with the usage for a bad flag, a missing argument or a bad value', async () => {
    for (const args of [
      ['ls', '--nope'],
      ['show'],
      ['extend', 'x', '--minutes', 'ten'],
      ['request', 'f', '-t', 'nocolon'],
    ]) {
      const res = await runCli(args, { configDir });
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stderr).toMatch(/^error: /);
      expect(res.stderr).toContain('--help');
    }
  });

  it('prints completion scripts for bash, zsh and fish, and completes commands and flags', async () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const res = await runCli(['completion', shell], { configDir });
      expect(res.code, shell).toBe(0);
      expect(res.stdout).toContain('stint');
    }
    const commands = await runCli(['complete', '--', 're'], { configDir });
    expect(commands.stdout.split('\n').map((l) => l.split('\t')[0])).toEqual(
      expect.arrayContaining(['request', 'reject', 'revoke']),
    );
    const flags = await runCli(['complete', '--', 'request', '--'], { configDir });
    expect(flags.stdout).toMatch(/^--reason\t/m);
    expect(flags.stdout).toMatch(/^--wait\t/m);
  });
});

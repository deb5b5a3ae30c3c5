import { spawn } from 'node:child_process';
import { CliError } from './errors.ts';

/**
 * Runs a command with extra environment, stdio handed over (a client is interactive), and answers its exit code:
 * `stint exec` and `stint connect` exit with the code of what they ran. Signals reach the child through the
 * terminal's process group; a child killed by a signal exits 128 + its number, as shells report it.
 */
export function runChild(command: string, args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, ...env } });
    const ignore = () => undefined; // Ctrl-C goes to the child; stint waits for it to end.
    process.on('SIGINT', ignore);
    child.on('error', (error: NodeJS.ErrnoException) => {
      process.off('SIGINT', ignore);
      reject(
        error.code === 'ENOENT'
          ? new CliError(`${command}: command not found (install it, or choose another with --client)`)
          : error,
      );
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      resolve(code ?? 128 + (signal === null ? 0 : signalNumber(signal)));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 1;
}

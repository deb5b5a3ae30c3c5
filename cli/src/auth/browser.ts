import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * How to open a URL in the user's browser: `$BROWSER` first (the convention of xdg-open, git and gh: a command, `%s`
 * standing for the URL, several tried in order separated by `:`), else the platform's opener (`open` on macOS,
 * `start` on Windows, `xdg-open` elsewhere). Undefined when there is none on this machine (a server, a container).
 */
export function opener(env: NodeJS.ProcessEnv = process.env): ((url: string) => void) | undefined {
  const browser = env.BROWSER?.split(':').find((entry) => entry.trim() !== '');
  if (browser !== undefined) {
    const [command, ...args] = browser.trim().split(/\s+/);
    if (command !== undefined && onPath(command, env)) {
      return (url) =>
        launch(command, args.some((a) => a.includes('%s')) ? args.map((a) => a.replaceAll('%s', url)) : [...args, url]);
    }
  }
  if (process.platform === 'darwin') return (url) => launch('open', [url]);
  // `start` is a cmd built-in; its first quoted argument is the window title.
  if (process.platform === 'win32') return (url) => launch('cmd', ['/c', 'start', '""', url.replaceAll('&', '^&')]);
  return onPath('xdg-open', env) ? (url) => launch('xdg-open', [url]) : undefined;
}

function launch(command: string, args: string[]): void {
  // Detached and ignored: a browser that prints or stays open must not hold the CLI; a failure shows as no tab, and
  // the URL is printed anyway.
  const child = spawn(command, args, { detached: true, stdio: 'ignore' });
  child.on('error', () => undefined);
  child.unref();
}

function onPath(command: string, env: NodeJS.ProcessEnv): boolean {
  if (command.includes('/') || command.includes('\\')) return executable(command);
  return (env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && executable(join(dir, command)));
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * What decides whether a build is still current: the portal's and the CLI's builds (portal/build.ts, cli/build.ts)
 * and the local runtime's template cache (lib/local/synth.ts) each keep a hash of their inputs' contents (a
 * checkout's file times say nothing, contents do).
 */

/** Every file at or below `path`, in a stable order; none when it does not exist. */
export function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => filesUnder(join(path, name)));
}

/** A sha256 of the files' paths (relative to `root`) and contents, after `seed`; a missing file hashes as such. */
export function hashFiles(root: string, files: readonly string[], seed = ''): string {
  const hash = createHash('sha256').update(seed).update('\0');
  for (const file of files) {
    hash.update(relative(root, file)).update('\0');
    hash.update(existsSync(file) ? readFileSync(file) : 'missing').update('\0');
  }
  return hash.digest('hex');
}

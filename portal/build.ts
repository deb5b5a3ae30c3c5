import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Where the built portal is: index.html, assets/ and public files, served as they are. */
export const PORTAL_DIR = import.meta.dirname;
export const PORTAL_DIST = join(PORTAL_DIR, 'dist');
const STAMP = join(PORTAL_DIST, '.source-hash');
const INPUTS = ['src', 'public', 'index.html', 'vite.config.ts', 'package.json'];

function files(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => files(join(path, name)));
}

/** A hash of everything the build reads: a checkout's file times say nothing, contents do. */
export function sourceHash(): string {
  const hash = createHash('sha256');
  for (const file of INPUTS.flatMap((p) => files(join(PORTAL_DIR, p)))) {
    hash.update(relative(PORTAL_DIR, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

/**
 * Builds the portal unless portal/dist already holds a build of the current sources; returns the dist folder.
 * `npm ci` (prepare), `npm start` and `cdk synth` all call it, so no one runs a build step by hand.
 */
export async function ensurePortalBuilt(log: (line: string) => void = () => undefined): Promise<string> {
  const hash = sourceHash();
  if (existsSync(STAMP) && readFileSync(STAMP, 'utf8') === hash && existsSync(join(PORTAL_DIST, 'index.html'))) {
    return PORTAL_DIST;
  }
  log('building the portal (vite)…');
  const { build } = await import('vite');
  // Vite takes NODE_ENV from the process (vitest sets it to `test`): a build is always the production build.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ configFile: join(PORTAL_DIR, 'vite.config.ts'), mode: 'production', logLevel: 'warn' });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  writeFileSync(STAMP, hash);
  return PORTAL_DIST;
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const started = Date.now();
  await ensurePortalBuilt((line) => process.stderr.write(`[portal] ${line}\n`));
  process.stderr.write(`[portal] ready in portal/dist (${Date.now() - started} ms)\n`);
}

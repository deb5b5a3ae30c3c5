import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { filesUnder, hashFiles } from '../lib/local/source-hash.ts';

/** Where the built portal is: index.html, assets/ and public files, served as they are. */
export const PORTAL_DIR = import.meta.dirname;
export const PORTAL_DIST = join(PORTAL_DIR, 'dist');
const STAMP = join(PORTAL_DIST, '.source-hash');
const INPUTS = ['src', 'public', 'index.html', 'vite.config.ts', 'package.json'];

/** A hash of everything the build reads. */
export function sourceHash(): string {
  return hashFiles(
    PORTAL_DIR,
    INPUTS.flatMap((p) => filesUnder(join(PORTAL_DIR, p))),
  );
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

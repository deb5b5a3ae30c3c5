import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { filesUnder, hashFiles } from '../lib/local/source-hash.ts';

/** Where the bundled CLI is: `main.js` and its lazily loaded chunks (one per command that needs more than commander). */
export const CLI_DIR = import.meta.dirname;
export const CLI_DIST = join(CLI_DIR, 'dist');
export const CLI_BIN = join(CLI_DIR, 'bin', 'stint.js');
const REPO = resolve(CLI_DIR, '..');
const STAMP = join(CLI_DIST, '.source-hash');

/** What the bundle is built from: the CLI's sources and the repo modules it imports (listed by the last build). */
function inputsOf(previous: string[]): string[] {
  return [...new Set([...filesUnder(join(CLI_DIR, 'src')), join(CLI_DIR, 'build.ts'), ...previous])].sort();
}

const hashOf = (inputs: string[]) => hashFiles(REPO, inputs);

/**
 * Bundles cli/src into cli/dist unless it already holds a bundle of the current sources. Only Stint's own code is
 * bundled (packages stay in node_modules and load from there), split so `stint --help` loads commander and nothing
 * else. `npm ci` (prepare) and the test setup call it; `npm run cli:build` runs it by hand.
 */
export async function ensureCliBuilt(log: (line: string) => void = () => undefined): Promise<string> {
  const stamp = existsSync(STAMP)
    ? (JSON.parse(readFileSync(STAMP, 'utf8')) as { hash: string; inputs: string[] })
    : undefined;
  if (stamp !== undefined && existsSync(join(CLI_DIST, 'main.js'))) {
    const inputs = inputsOf(stamp.inputs.map((f) => join(REPO, f)));
    if (hashOf(inputs) === stamp.hash) return CLI_DIST;
  }
  log('bundling the CLI (esbuild)…');
  const { build } = await import('esbuild');
  rmSync(CLI_DIST, { recursive: true, force: true });
  const result = await build({
    entryPoints: [join(CLI_DIR, 'src', 'main.ts')],
    outdir: CLI_DIST,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Packages load from node_modules, except commander, which every run needs (one file to read instead of six).
    external: Object.keys(packageJson().dependencies).filter((name) => name !== 'commander'),
    // commander is CommonJS: its require() of node builtins needs a require in the ES module bundle.
    banner: {
      js: "import { createRequire as __stintRequire } from 'node:module'; const require = __stintRequire(import.meta.url);",
    },
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    chunkNames: 'chunks/[name]-[hash]',
    define: { STINT_VERSION: JSON.stringify(version()) },
  });
  const own = Object.keys(result.metafile.inputs)
    .filter((f) => !f.includes('node_modules'))
    .map((f) => resolve(REPO, f));
  const inputs = inputsOf(own);
  writeFileSync(STAMP, JSON.stringify({ hash: hashOf(inputs), inputs: inputs.map((f) => relative(REPO, f)) }));
  return CLI_DIST;
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const started = Date.now();
  await ensureCliBuilt((line) => process.stderr.write(`[cli] ${line}\n`));
  process.stderr.write(`[cli] ready in cli/dist (${Date.now() - started} ms)\n`);
}

function packageJson(): { version: string; dependencies: Record<string, string> } {
  return JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
}

function version(): string {
  return packageJson().version;
}

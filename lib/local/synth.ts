import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import type { StintConfigInput } from '#infra/config.ts';
import { filesUnder, hashFiles } from './source-hash.ts';

const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

/**
 * Everything the synthesized template is made from: the CDK app and the code it reads (route tables, config
 * schemas, event schemas), the locked package versions (aws-cdk-lib), and the portal build the portal construct
 * reads. A template cached under a hash of these is the template a fresh synth would give.
 */
const INPUTS = ['infra', 'lib', 'functions', 'events', 'package-lock.json', 'portal/dist/.source-hash'];
const CACHE_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'stint-synth');
const KEEP = 40;

/** The cache key of a synth: the inputs' contents and the config overrides. */
export function synthKey(overrides: Partial<StintConfigInput>, root = REPO_ROOT): string {
  const inputs = INPUTS.flatMap((p) => filesUnder(join(root, p)));
  return hashFiles(root, inputs, JSON.stringify(overrides)).slice(0, 32);
}

/**
 * Synthesizes the same stack `cdk deploy` would (infra/stint.config.ts), in process, and returns its
 * CloudFormation template. Bundling is skipped: locally the functions run from their TypeScript sources
 * (the `stint:entry` metadata), so esbuild has nothing to do. cdk-nag runs in `cdk synth` and the tests.
 * `overrides` replace top-level fields of infra/stint.config.ts (tests add SIEM/ITSM targets this way).
 *
 * A synth costs seconds of CPU (loading aws-cdk-lib, then building the tree), and every `npm start` and end-to-end
 * test file made the same one: the template is kept in node_modules/.cache/stint-synth under a hash of everything
 * it is made from (synthKey), so an unchanged tree is synthesized once. STINT_SYNTH_CACHE=off always synthesizes.
 */
export async function synthTemplate(overrides: Partial<StintConfigInput> = {}): Promise<Record<string, unknown>> {
  const useCache = process.env.STINT_SYNTH_CACHE !== 'off';
  const key = useCache ? synthKey(overrides) : undefined;
  const file = key === undefined ? undefined : join(CACHE_DIR, `${key}.json`);
  if (file !== undefined && existsSync(file)) {
    try {
      return z.record(z.string(), z.unknown()).parse(JSON.parse(readFileSync(file, 'utf8')));
    } catch {
      // A damaged entry: synthesized again and replaced below.
    }
  }
  const template = await synthFresh(overrides);
  if (file !== undefined) {
    mkdirSync(CACHE_DIR, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(template));
    renameSync(tmp, file); // atomic: parallel test files may write the same entry
    prune();
  }
  return template;
}

async function synthFresh(overrides: Partial<StintConfigInput>): Promise<Record<string, unknown>> {
  // Loaded only for a synth: aws-cdk-lib and the stack's constructs are most of what a synth costs.
  const [{ App }, { parseStintConfig }, { default: rawConfig }, { StintStack }] = await Promise.all([
    import('aws-cdk-lib'),
    import('#infra/config.ts'),
    import('#infra/stint.config.ts'),
    import('#infra/stint-stack.ts'),
  ]);
  const outdir = mkdtempSync(join(tmpdir(), 'stint-synth-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const config = parseStintConfig({ ...rawConfig, ...overrides }, 'stint.config.ts', { mode: 'local' });
    const stack = new StintStack(app, config.stackName, { config });
    return z.record(z.string(), z.unknown()).parse(app.synth().getStackByName(stack.stackName).template);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The newest KEEP entries stay; older trees' templates go. */
function prune(): void {
  try {
    const entries = readdirSync(CACHE_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ f, at: statSync(join(CACHE_DIR, f)).mtimeMs }))
      .sort((a, b) => b.at - a.at);
    for (const { f } of entries.slice(KEEP)) rmSync(join(CACHE_DIR, f), { force: true });
  } catch {
    // Another process pruned at the same time.
  }
}

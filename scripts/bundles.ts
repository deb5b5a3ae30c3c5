/**
 * Every Lambda entry bundled as `cdk deploy` bundles it (infra/constructs/stint-function.ts), in one esbuild build,
 * with the metafile's bytes per input: shared by the bench (sizes, cold import) and test/infra/bundles.test.ts
 * (budgets and forbidden inputs).
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { type BuildOptions, build } from 'esbuild';
import * as z from 'zod';
import { routes } from '#functions/api/routes.ts';
import { jiraWebhookRoutes, slackWebhookRoutes, teamsWebhookRoutes } from '#functions/callbacks/routes.ts';
import { scimEntries } from '#functions/scim/routes.ts';
// A namespace import: the bench copies this file into a baseline checkout, whose construct may predate BUNDLE_ALIASES.
import * as stintFunction from '#infra/constructs/stint-function.ts';
import { TargetKind } from '#lib/targets/config.ts';
import { DRIVER_TYPES, STEP_FUNCTIONS } from '#lib/workflow/contract.ts';

/** Every Lambda entry of the stack, repo-relative, from the same lists the infra constructs read. */
export function functionEntries(): string[] {
  return [
    ...new Set([
      ...routes.map((r) => `functions/api/${r.entry}.ts`),
      ...scimEntries.map((e) => `functions/scim/${e}.ts`),
      ...STEP_FUNCTIONS.map((s) => `functions/workflow/${s}.ts`),
      ...DRIVER_TYPES.map((t) => `functions/workflow/driver-${t}.ts`),
      'functions/workflow/reconciler.ts',
      'functions/events/publisher.ts',
      ...TargetKind.options.map((kind) => `functions/delivery/${kind}.ts`),
      ...[...slackWebhookRoutes, ...teamsWebhookRoutes, ...jiraWebhookRoutes].map(
        (r) => `functions/callbacks/${r.entry}.ts`,
      ),
      'functions/notify/slack.ts',
      'functions/notify/teams.ts',
    ]),
  ];
}

/** The esbuild options NodejsFunction derives from StintFunction's `bundling` (source maps aside; BUNDLE_ALIASES below). */
export const bundleOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  banner: { js: stintFunction.ESM_REQUIRE_BANNER },
  minify: true,
  external: ['pg-native'],
  logLevel: 'error',
} as const satisfies BuildOptions;

export type BundleResult = {
  /** Repo-relative entry, as given. */
  entry: string;
  /** Size of the bundle. */
  bytes: number;
  /** Where the bundle was written (only with `outdir`). */
  outfile?: string;
  /** Bytes in the output by input path (relative to the repo root, e.g. `node_modules/pg/lib/client.js`). */
  inputs: Record<string, number>;
};

/**
 * Bundles `entries` (repo-relative) in one build. `repoRoot` (default: this checkout) lets the bench bundle another
 * checkout; `outdir` writes the bundles there (for a cold import), otherwise they stay in memory.
 */
export async function bundleFunctions(
  entries: readonly string[],
  options: { repoRoot?: string; outdir?: string } = {},
): Promise<BundleResult[]> {
  const repoRoot = resolve(options.repoRoot ?? stintFunction.REPO_ROOT);
  const outdir = options.outdir ?? join(repoRoot, '.stint-bundles');
  // A baseline checkout may predate an alias's module: alias only what the checkout holds.
  const alias = Object.fromEntries(
    Object.entries(
      z.record(z.string(), z.string()).optional().parse(Reflect.get(stintFunction, 'BUNDLE_ALIASES')) ?? {},
    ).filter(([, to]) => existsSync(join(repoRoot, to))),
  );
  const result = await build({
    ...bundleOptions,
    alias,
    absWorkingDir: repoRoot,
    // One output per entry, named after its whole path (two entries may share a file name).
    entryPoints: entries.map((entry) => ({ in: join(repoRoot, entry), out: entry.replace(/\.ts$/, '') })),
    outdir,
    outExtension: { '.js': '.mjs' },
    metafile: true,
    write: options.outdir !== undefined,
  });
  const outputs = Object.entries(result.metafile.outputs);
  return entries.map((entry) => {
    const input = relative(repoRoot, join(repoRoot, entry));
    const found = outputs.find(([, output]) => output.entryPoint !== undefined && sameFile(output.entryPoint, input));
    if (found === undefined) throw new Error(`bundleFunctions: no output for ${entry}`);
    const [outPath, output] = found;
    const outfile = isAbsolute(outPath) ? outPath : join(repoRoot, outPath);
    const inputs: Record<string, number> = {};
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) inputs[path] = bytesInOutput;
    return { entry, bytes: output.bytes, ...(options.outdir === undefined ? {} : { outfile }), inputs };
  });
}

function sameFile(a: string, b: string): boolean {
  return a.replaceAll('\\', '/') === b.replaceAll('\\', '/');
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { z } from 'zod';
import { parseStintConfig, type StintConfigInput } from '#infra/config.ts';
import rawConfig from '#infra/stint.config.ts';
import { StintStack } from '#infra/stint-stack.ts';

/**
 * Synthesizes the same stack `cdk deploy` would (infra/stint.config.ts), in process, and returns its
 * CloudFormation template. Bundling is skipped: locally the functions run from their TypeScript sources
 * (the `stint:entry` metadata), so esbuild has nothing to do. cdk-nag runs in `cdk synth` and the tests.
 */
/** `overrides` replace top-level fields of infra/stint.config.ts (tests add SIEM/ITSM targets this way). */
export function synthTemplate(overrides: Partial<StintConfigInput> = {}): Record<string, unknown> {
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

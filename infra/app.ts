import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseStintConfig, StintConfigError } from '#infra/config.ts';
import rawConfig from '#infra/stint.config.ts';
import { StintStack } from '#infra/stint-stack.ts';
import { ensurePortalBuilt } from '../portal/build.ts';

/**
 * `cdk synth` / `cdk deploy` entry (cdk.json). Config errors end synth with the field named, no stack trace.
 * The web portal is built first unless portal/dist holds a build of its current sources (its files are part of the
 * stack's assets).
 */
async function main(): Promise<void> {
  let config: ReturnType<typeof parseStintConfig>;
  try {
    config = parseStintConfig(rawConfig);
  } catch (error) {
    if (error instanceof StintConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const portalDistPath = await ensurePortalBuilt((line) => process.stderr.write(`[portal] ${line}\n`));
  const app = new App();
  // cdk-nag AwsSolutions: an unacknowledged finding fails synth.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  new StintStack(app, config.stackName, {
    config,
    portalDistPath,
    ...(config.env === undefined ? {} : { env: config.env }),
    description: 'Stint: self-hosted just-in-time access broker',
  });
  app.synth();
}

await main();

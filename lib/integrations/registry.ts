import { ValidationError } from '#lib/domain/errors.ts';
import type { IntegrationInput, IntegrationType } from '#lib/domain/integration.ts';
import { awsIamRoleDriver } from './aws-iam-role.ts';
import { awsIdentityCenterDriver } from './aws-identity-center.ts';
import { lambdaDriver } from './lambda.ts';
import { mysqlDriver } from './mysql.ts';
import { postgresqlDriver } from './postgresql.ts';
import { redisDriver } from './redis.ts';
import type { IntegrationDriver } from './types.ts';

const drivers: Partial<Record<IntegrationType, IntegrationDriver>> = {
  postgresql: postgresqlDriver,
  mysql: mysqlDriver,
  'aws-identity-center': awsIdentityCenterDriver,
  'aws-iam-role': awsIamRoleDriver,
  lambda: lambdaDriver,
  redis: redisDriver,
};

/** The driver of an integration type; a type without one is a ValidationError on `type`. */
export function driverFor(type: IntegrationType): IntegrationDriver {
  const driver = drivers[type];
  if (driver === undefined) throw new ValidationError(`integration type "${type}" is not supported yet`, 'type');
  return driver;
}

/**
 * Checks an integration's type-specific config and that it names an admin secret when its driver needs one; the
 * error names `config.<field>` or `secretRef`. Only the admin API imports this registry (every driver with it):
 * the workflow's driver functions import their own driver only.
 */
export function validateIntegrationConfig(input: IntegrationInput): void {
  const driver = driverFor(input.type);
  if (driver.needsSecret && input.secretRef === undefined) {
    throw new ValidationError(`a ${input.type} integration needs secretRef (its admin credential)`, 'secretRef');
  }
  const parsed = driver.configSchema.safeParse(input.config);
  if (parsed.success) return;
  const issues = parsed.error.issues.map((issue) => {
    // An unknown key is reported on the object itself: name the key instead.
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : issue.path;
    return { path: ['config', ...path.map(String)].join('.'), message: issue.message };
  });
  const first = issues[0] ?? { path: 'config', message: 'invalid' };
  throw new ValidationError(`invalid ${input.type} config: ${first.path}: ${first.message}`, first.path, issues);
}

/** The driver's own checks of an integration (checkIntegration), after validateIntegrationConfig passed. */
export async function checkIntegration(input: IntegrationInput): Promise<void> {
  await driverFor(input.type).checkIntegration?.(input);
}

/** What `AdminService.putIntegration` runs (only the put-integration function imports this registry). */
export const integrationChecks = { validate: validateIntegrationConfig, check: checkIntegration };

import { ValidationError } from '#lib/domain/errors.ts';
import type { IntegrationInput, IntegrationType } from '#lib/domain/integration.ts';
import type { DriverChecks } from '#lib/integrations/types.ts';
import { awsIamRoleChecks } from './aws-iam-role.ts';
import { awsIdentityCenterChecks } from './aws-identity-center.ts';
import { lambdaChecks } from './lambda.ts';
import { mysqlChecks } from './mysql.ts';
import { postgresqlChecks } from './postgresql.ts';
import { redisChecks } from './redis.ts';

/**
 * What `PUT /integrations` checks, by type, without the drivers' client libraries (pg, mysql2, ioredis, the SSO Admin,
 * Identity Store, Organizations, IAM and STS clients): each full driver spreads its type's checks into itself, and
 * lib/integrations/registry.ts (`driverFor`) holds the full drivers for whoever calls them.
 */
const checks: Partial<Record<IntegrationType, DriverChecks>> = {
  postgresql: postgresqlChecks,
  mysql: mysqlChecks,
  'aws-identity-center': awsIdentityCenterChecks,
  'aws-iam-role': awsIamRoleChecks,
  lambda: lambdaChecks,
  redis: redisChecks,
};

/** A type without a driver: a ValidationError on `type` (the same from `checksFor` and `driverFor`). */
export function unsupportedType(type: IntegrationType): ValidationError {
  return new ValidationError(`integration type "${type}" is not supported yet`, 'type');
}

/** The checks of an integration type; a type without a driver is a ValidationError on `type`. */
export function checksFor(type: IntegrationType): DriverChecks {
  const found = checks[type];
  if (found === undefined) throw unsupportedType(type);
  return found;
}

/**
 * Checks an integration's type-specific config and that it names an admin secret when its driver needs one; the
 * error names `config.<field>` or `secretRef`.
 */
export function validateIntegrationConfig(input: IntegrationInput): void {
  const driver = checksFor(input.type);
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
  await checksFor(input.type).checkIntegration?.(input);
}

/** What `AdminService.putIntegration` runs (the put-integration function imports this module, no full driver). */
export const integrationChecks = { validate: validateIntegrationConfig, check: checkIntegration };

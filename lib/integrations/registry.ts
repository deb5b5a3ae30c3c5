import type { IntegrationType } from '#lib/domain/integration.ts';
import { awsIamRoleDriver } from './aws-iam-role.ts';
import { awsIdentityCenterDriver } from './aws-identity-center.ts';
import { unsupportedType } from './checks/registry.ts';
import { lambdaDriver } from './lambda.ts';
import { mysqlDriver } from './mysql.ts';
import { postgresqlDriver } from './postgresql.ts';
import { redisDriver } from './redis.ts';
import type { IntegrationDriver } from './types.ts';

/**
 * Every full driver, with its client library. PUT /integrations checks through lib/integrations/checks/registry.ts
 * instead (the drivers' schemas and checks without their clients).
 */
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
  if (driver === undefined) throw unsupportedType(type);
  return driver;
}

import type { DriverType } from '#lib/workflow/contract.ts';
import { awsIamRoleSpec } from './aws-iam-role.ts';
import { awsIdentityCenterSpec } from './aws-identity-center.ts';
import { lambdaSpec } from './lambda.ts';
import { mysqlSpec } from './mysql.ts';
import { postgresqlSpec } from './postgresql.ts';
import { redisSpec } from './redis.ts';
import type { DriverSpec } from './spec.ts';

/** The infrastructure of every driver type the state machine routes to (lib/workflow/contract.ts DRIVER_TYPES). */
export const DRIVER_SPECS: Record<DriverType, DriverSpec> = {
  postgresql: postgresqlSpec,
  mysql: mysqlSpec,
  'aws-identity-center': awsIdentityCenterSpec,
  'aws-iam-role': awsIamRoleSpec,
  lambda: lambdaSpec,
  redis: redisSpec,
};

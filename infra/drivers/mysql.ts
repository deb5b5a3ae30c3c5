import { Duration } from 'aws-cdk-lib';
import type { DriverSpec } from './spec.ts';

/** MySQL / MariaDB: reaches databases (in the VPC) with the integration's admin secret; no AWS API calls of its own. */
export const mysqlSpec: DriverSpec = {
  type: 'mysql',
  description: 'Grants, extends and revokes MySQL / MariaDB users',
  memorySize: 512,
  timeout: Duration.seconds(60),
  inVpc: true,
  readsSecrets: true,
  statements: () => [],
};

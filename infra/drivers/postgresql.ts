import { Duration } from 'aws-cdk-lib';
import type { DriverSpec } from './spec.ts';

/** PostgreSQL: reaches databases (in the VPC) with the integration's admin secret; no AWS API calls of its own. */
export const postgresqlSpec: DriverSpec = {
  type: 'postgresql',
  description: 'Grants, extends and revokes PostgreSQL roles',
  memorySize: 512,
  timeout: Duration.seconds(60),
  inVpc: true,
  readsSecrets: true,
  statements: () => [],
};

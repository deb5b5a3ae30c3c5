import { Duration } from 'aws-cdk-lib';
import type { DriverSpec } from './spec.ts';

/** Redis / Valkey: reaches servers (in the VPC) with the integration's admin secret; no AWS API calls of its own. */
export const redisSpec: DriverSpec = {
  type: 'redis',
  description: 'Grants, extends and revokes Redis / Valkey ACL users',
  memorySize: 256,
  timeout: Duration.seconds(60),
  inVpc: true,
  readsSecrets: true,
  statements: () => [],
};

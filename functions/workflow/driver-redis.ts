import { redisDriver } from '#lib/integrations/redis.ts';
import { driverStep } from '#lib/services/driver-step.ts';

/** Redis / Valkey ACL grants, extensions and revokes (in the VPC, with the integration's admin secret). */
export const handler = driverStep(redisDriver);

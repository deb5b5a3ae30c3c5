import { postgresqlDriver } from '#lib/integrations/postgresql.ts';
import { driverStep } from '#lib/services/driver-step.ts';

/** PostgreSQL grants, extensions and revokes (in the VPC, with the integration's admin secret). */
export const handler = driverStep(postgresqlDriver);

import { mysqlDriver } from '#lib/integrations/mysql.ts';
import { driverStep } from '#lib/services/driver-step.ts';

/** MySQL / MariaDB grants, extensions and revokes (in the VPC, with the integration's admin secret). */
export const handler = driverStep(mysqlDriver);

import * as z from 'zod';
import { endpointFields, TlsMode } from '#lib/integrations/principals.ts';
import type { DriverChecks } from '#lib/integrations/types.ts';

/** MySQL's config and checks (the driver, with mysql2, is lib/integrations/mysql.ts). */
export const MysqlConfig = z.strictObject({
  ...endpointFields(3306),
  /** Default: verify-full, or disable in the local runtime. */
  tls: TlsMode.optional(),
});
export type MysqlConfig = z.infer<typeof MysqlConfig>;

export const mysqlChecks: DriverChecks = { type: 'mysql', configSchema: MysqlConfig, needsSecret: true };

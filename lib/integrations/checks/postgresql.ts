import * as z from 'zod';
import { endpointFields, TlsMode } from '#lib/integrations/principals.ts';
import type { DriverChecks } from '#lib/integrations/types.ts';

/** PostgreSQL's config and checks (the driver, with pg, is lib/integrations/postgresql.ts). */
export const PostgresConfig = z.strictObject({
  ...endpointFields(5432),
  /** The database the admin connection opens (the grantee's database is the resource). */
  database: z.string().min(1).max(63),
  /** Default: verify-full, or disable in the local runtime. */
  sslmode: TlsMode.optional(),
});
export type PostgresConfig = z.infer<typeof PostgresConfig>;

export const postgresqlChecks: DriverChecks = { type: 'postgresql', configSchema: PostgresConfig, needsSecret: true };

import { z } from 'zod';

/**
 * The deployment's configuration: one typed file, infra/stint.config.ts, validated here at synth.
 * A wrong value fails `cdk synth` with a message naming the field, e.g.
 * `stint.config.ts: auth.issuer: must be an https URL`.
 */

/** Retention periods CloudWatch Logs accepts (days). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const httpsUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'https:' && url.hash === '' && url.search === '';
    } catch {
      return false;
    }
  },
  { error: 'must be an https URL' },
);

const idList = (prefix: string, what: string) =>
  z
    .array(
      z.string().regex(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), { error: `must be a ${what} id (${prefix}-…)` }),
      { error: `must be a list of ${what} ids` },
    )
    .min(1, { error: `must list at least one ${what} id` });

export const StintConfigSchema = z.strictObject({
  /** CloudFormation stack name. */
  stackName: z.string({ error: 'is required (a CloudFormation stack name)' }).regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, {
    error: 'must start with a letter and hold only letters, digits and hyphens (max 128)',
  }),
  /** Account and region to deploy to; omitted → the CLI's current credentials decide. */
  env: z
    .strictObject({
      account: z
        .string()
        .regex(/^\d{12}$/, { error: 'must be a 12-digit AWS account id' })
        .optional(),
      region: z
        .string()
        .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: 'must be an AWS region such as eu-west-1' })
        .optional(),
    })
    .optional(),
  /**
   * The OpenID Connect issuer whose JWTs the API accepts. Omitted → a Cognito user pool and app client are
   * created and used as issuer and audience.
   */
  auth: z
    .strictObject({
      issuer: httpsUrl,
      audience: z
        .array(z.string().min(1, { error: 'must not be empty' }), { error: 'must be a list of audiences' })
        .min(1, { error: 'must list at least one audience' }),
    })
    .optional(),
  /** Members administer flows, integrations and bundles (the JWT `groups` claim). */
  adminGroup: z.string().min(1, { error: 'must not be empty' }).default('stint-admins'),
  /** Members may read every request. */
  auditorGroup: z.string().min(1, { error: 'must not be empty' }).default('stint-auditors'),
  /**
   * Integration admin secrets live in Secrets Manager under this name prefix; the grant and revoke functions
   * may read only those.
   */
  secretsPrefix: z
    .string()
    .regex(/^[A-Za-z0-9/_+=.@-]{1,256}$/, {
      error: 'must be a Secrets Manager name prefix (letters, digits and /_+=.@-)',
    })
    .refine((p) => p.endsWith('/') || p.endsWith('-') || p.endsWith('_'), {
      error: 'must end with "/", "-" or "_" so it cannot match unrelated secrets',
    })
    .default('stint/'),
  /** Subnets and security groups for the functions that reach databases (grant, revoke and their kin). */
  vpc: z
    .strictObject({
      vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, { error: 'must be a VPC id (vpc-…)' }),
      subnetIds: idList('subnet', 'subnet'),
      securityGroupIds: idList('sg', 'security group'),
    })
    .optional(),
  /** Alarms (revoke failures, failed executions, dead letters) are emailed here when set. */
  alarmEmail: z.email({ error: 'must be an email address' }).optional(),
  /** How often the reconciler runs. */
  reconcilerRateMinutes: z
    .number({ error: 'must be a number of minutes' })
    .int({ error: 'must be a whole number of minutes' })
    .min(1, { error: 'must be at least 1' })
    .max(1440, { error: 'must be at most 1440 (one day)' })
    .default(5),
  /** Retention of every log group. */
  logRetentionDays: z
    .number({ error: 'must be a number of days' })
    .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
      error: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
    })
    .default(365),
  /**
   * What happens to stateful resources (table, log groups, secrets, queue) when the stack is deleted.
   * `retain` also turns on the table's deletion protection.
   */
  removalPolicy: z.enum(['retain', 'destroy'], { error: 'must be "retain" or "destroy"' }).default('retain'),
  events: z
    .strictObject({
      /** Name of the EventBridge bus audit events are put on. */
      busName: z
        .string()
        .regex(/^[A-Za-z0-9._-]{1,256}$/, { error: 'must be an event bus name (letters, digits and ._-)' })
        .refine((n) => n !== 'default', { error: 'must not be "default"' })
        .default('stint'),
      /** Days the archive keeps events; 0 keeps them forever. */
      archiveRetentionDays: z
        .number({ error: 'must be a number of days' })
        .int({ error: 'must be a whole number of days' })
        .min(0, { error: 'must be 0 (forever) or more' })
        .default(365),
    })
    .prefault({}),
  api: z
    .strictObject({
      /** Steady-state requests per second across the API. */
      throttleRateLimit: z.number().int().min(1, { error: 'must be at least 1' }).default(50),
      /** Burst of requests across the API. */
      throttleBurstLimit: z.number().int().min(1, { error: 'must be at least 1' }).default(100),
    })
    .prefault({}),
});

/** What infra/stint.config.ts exports (defaults may be omitted). */
export type StintConfigInput = z.input<typeof StintConfigSchema>;
/** The validated configuration the stack is built from. */
export type StintConfig = z.output<typeof StintConfigSchema>;

export class StintConfigError extends Error {
  override readonly name = 'StintConfigError';
}

/** Gives the config file's type to an object literal: `export default defineConfig({ ... })`. */
export function defineConfig(config: StintConfigInput): StintConfigInput {
  return config;
}

/** Validates a configuration; throws a StintConfigError naming every wrong field. */
export function parseStintConfig(raw: unknown, source = 'stint.config.ts'): StintConfig {
  const parsed = StintConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const field = issue.path.map(String).join('.');
    return field === '' ? `${source}: ${issue.message}` : `${source}: ${field}: ${issue.message}`;
  });
  throw new StintConfigError(lines.join('\n'));
}

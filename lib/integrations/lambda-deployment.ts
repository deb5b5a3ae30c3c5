import * as z from 'zod';
import type { Config } from '#lib/config.ts';

/**
 * What a deployment lets custom integrations call, in a module of its own: the admin API (lib/config.ts) and the
 * stack read it without the driver and its Lambda client.
 */

/** A function ARN, optionally qualified (pattern of Invoke's FunctionName, https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html). */
export const FUNCTION_ARN =
  /^arn:(aws[a-zA-Z-]*):lambda:([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):(\d{12}):function:([a-zA-Z0-9_-]{1,64})(?::(\$LATEST|[a-zA-Z0-9_-]{1,128}))?$/;

/**
 * The deployment's allowed functions (`drivers.lambda` of stint.config.ts): the ARNs listed (a listed
 * unqualified ARN also allows its versions and aliases), and with `allowTagged` any function of the deployment's
 * account tagged `stint-integration: "true"`.
 */
export const LambdaDeploymentConfig = z.strictObject({
  functions: z
    .array(z.string().regex(FUNCTION_ARN, { error: 'must be a Lambda function ARN' }), {
      error: 'must be a list of Lambda function ARNs',
    })
    .max(100, { error: 'must list at most 100 functions (use allowTagged for more)' })
    .default([]),
  allowTagged: z.boolean({ error: 'must be true or false' }).default(false),
});
export type LambdaDeploymentConfig = z.output<typeof LambdaDeploymentConfig>;

/** STINT_LAMBDA_INTEGRATIONS (Config.lambdaIntegrationsJson) parsed, or a configuration error. */
export function lambdaIntegrationsOf(config: Pick<Config, 'lambdaIntegrationsJson'>): LambdaDeploymentConfig {
  const parsed = LambdaDeploymentConfig.safeParse(JSON.parse(config.lambdaIntegrationsJson));
  if (!parsed.success)
    throw new Error(`Configuration error: STINT_LAMBDA_INTEGRATIONS: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import * as z from 'zod';
import { config } from '#lib/config.ts';
import { ValidationError } from '#lib/domain/errors.ts';
import {
  FUNCTION_ARN,
  type LambdaDeploymentConfig,
  lambdaIntegrationsOf,
} from '#lib/integrations/lambda-deployment.ts';
import {
  listFunctionTags,
  type ParsedArn,
  parseFunctionArn,
  unqualifiedArn,
} from '#lib/integrations/lambda-invoker.ts';
import type { DriverChecks } from '#lib/integrations/types.ts';

/**
 * Custom integrations' config and checks: only functions the deployment allows (drivers.lambda), or locally a file:
 * module. In tag mode the check reads the function's tags (ListTags, the Lambda client); the driver, which invokes
 * the function, is ../lambda.ts.
 */

/** The tag that lets a deployment in tag mode invoke a function (infra/drivers/lambda.ts). */
export const INTEGRATION_TAG = { key: 'stint-integration', value: 'true' } as const;

/**
 * Integration.config: `function` plus any non-secret settings of the customer's own (they reach the function in
 * `integration.config`, e.g. the example's `ledger`).
 */
export const LambdaConfig = z.looseObject({
  function: z
    .string()
    .max(2048)
    .refine((fn) => FUNCTION_ARN.test(fn) || /^file:\/./.test(fn), {
      error:
        'must be a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>) or, locally, file:/path',
    }),
});
export type LambdaConfig = z.infer<typeof LambdaConfig>;

export type FunctionPolicy = {
  /** The local runtime: `file:` functions are allowed. */
  local: boolean;
  /** The deployment's `drivers.lambda`. */
  allowed: LambdaDeploymentConfig;
  /** A function's tags; default: ListTags through the Lambda API. */
  listTags?: (arn: ParsedArn) => Promise<Record<string, string>>;
};

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/**
 * Why an integration may not call `fn`, in one line, or undefined when it may: a `file:` module only locally
 * (absolute, .mjs or .js, existing); an ARN only when the deployment lists it (or its unqualified form), or in tag
 * mode when ListTags shows `stint-integration: "true"`.
 */
export async function lambdaFunctionProblem(fn: string, options: FunctionPolicy): Promise<string | undefined> {
  if (fn.startsWith('file:')) {
    if (!options.local) return 'file: functions run only in the local runtime; use a Lambda function ARN';
    const path = fn.slice('file:'.length);
    if (!isAbsolute(path)) return `${fn}: the path must be absolute (file:/…)`;
    if (!/\.(mjs|js)$/.test(path)) return `${fn}: the module must be a .mjs or .js file`;
    const found = await stat(path).catch(() => undefined);
    if (found === undefined || !found.isFile()) return `${fn}: no such file`;
    return undefined;
  }
  const arn = parseFunctionArn(fn);
  if (arn === undefined)
    return `${fn.slice(0, 200)} is not a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)`;
  const listed = options.allowed.functions;
  if (listed.includes(fn) || listed.includes(unqualifiedArn(arn))) return undefined;
  if (!options.allowed.allowTagged)
    return `function ${fn} is not in the deployment's allowed functions (drivers.lambda.functions)`;
  let tags: Record<string, string>;
  try {
    tags = await (options.listTags ?? listFunctionTags)(arn);
  } catch (error) {
    const name = errorName(error);
    if (name === 'ResourceNotFoundException') return `function ${fn} does not exist (or not in its region)`;
    if (name === 'AccessDeniedException')
      return `function ${fn} is not in drivers.lambda.functions and Stint may not read its tags`;
    throw error;
  }
  if (tags[INTEGRATION_TAG.key] === INTEGRATION_TAG.value) return undefined;
  return `function ${fn} is neither in drivers.lambda.functions nor tagged ${INTEGRATION_TAG.key}=${INTEGRATION_TAG.value}`;
}

export const lambdaChecks: DriverChecks = {
  type: 'lambda',
  configSchema: LambdaConfig,
  needsSecret: false,
  // Only functions the deployment allows (drivers.lambda), or locally a file: module.
  async checkIntegration(input) {
    const fn = LambdaConfig.parse(input.config).function;
    const problem = await lambdaFunctionProblem(fn, {
      local: config().local,
      allowed: lambdaIntegrationsOf(config()),
    });
    if (problem !== undefined) throw new ValidationError(problem, 'config.function');
  },
};

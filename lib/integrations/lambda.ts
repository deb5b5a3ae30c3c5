import type { LambdaClient } from '@aws-sdk/client-lambda';
import * as z from 'zod';
import { config } from '#lib/config.ts';
import { CAPABILITIES } from './capabilities.ts';
import {
  type FunctionPolicy,
  INTEGRATION_TAG,
  LambdaConfig,
  lambdaChecks,
  lambdaFunctionProblem,
} from './checks/lambda.ts';
import { LambdaDeploymentConfig } from './lambda-deployment.ts';

export { LambdaDeploymentConfig };

import { Permission, Resource } from '#lib/domain/integration.ts';
import { DEFAULT_INVOKE_TIMEOUT_MS, invokeFunction } from './lambda-invoker.ts';
import {
  type Capabilities,
  type DriverContext,
  type DriverState,
  type GrantOutcome,
  GrantPermanentError,
  type IntegrationDriver,
  type RevokeOutcome,
} from './types.ts';

/**
 * Custom integrations: Stint calls the customer's own function with a fixed, versioned JSON contract
 * (docs/integrations/lambda.md), so anything a customer can script becomes grantable. The function is a Lambda
 * function (by ARN) or, in the local runtime only, a module on disk (`file:/absolute/path.mjs`).
 *
 * The function decides everything about the target: what a grant creates, whether requests share it, how long a
 * session outlives a revoke. Stint records what grant answers (`state`) and hands it back on revoke and extend.
 */

export const CONTRACT_VERSION = 1;

/** The config schema and the allowed-function check, in the light module PUT /integrations checks with. */
export { type FunctionPolicy, INTEGRATION_TAG, LambdaConfig, lambdaFunctionProblem };

// ---- The contract: events ----

const JsonObject = z.record(z.string(), z.json());

const EventIntegration = z.strictObject({ id: z.string(), config: JsonObject });

/** grant, revoke and extend: one access unit of one request. */
export const AccessEvent = z.strictObject({
  version: z.literal(CONTRACT_VERSION),
  action: z.enum(['grant', 'revoke', 'extend']),
  integration: EventIntegration,
  request: z.strictObject({
    id: z.string(),
    /** When the access must end (ISO 8601, UTC); after an extension, the new end. */
    expiresAt: z.iso.datetime(),
    /** The requester's justification, when the request has one. */
    justification: z.string().optional(),
  }),
  grantee: z.strictObject({ id: z.string(), email: z.email() }),
  /** The resource id and permission id, as the integration's resources name them. */
  resource: z.string(),
  permission: z.string(),
  /** The permission's grants (what the function should give). */
  grants: z.array(z.string()),
  /** What grant answered (revoke and extend only). */
  state: JsonObject.optional(),
});
export type AccessEvent = z.infer<typeof AccessEvent>;

/** What the function offers, for admins writing the integration's resources. */
export const ListResourcesEvent = z.strictObject({
  version: z.literal(CONTRACT_VERSION),
  action: z.literal('list-resources'),
  integration: EventIntegration,
});
export type ListResourcesEvent = z.infer<typeof ListResourcesEvent>;

export const LambdaEvent = z.discriminatedUnion('action', [AccessEvent, ListResourcesEvent]);
export type LambdaEvent = z.infer<typeof LambdaEvent>;

// ---- The contract: answers ----

const MAX_STATE_BYTES = 8192;

/** grant: what to record (state), what the grantee is shown (access) and a secret for the grantee only. */
export const GrantAnswer = z.strictObject({
  state: JsonObject.refine((state) => Buffer.byteLength(JSON.stringify(state)) <= MAX_STATE_BYTES, {
    error: `must be at most ${MAX_STATE_BYTES} bytes as JSON`,
  }).optional(),
  access: z
    .record(
      z
        .string()
        .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, { error: 'names must be 1–64 letters, digits, "_", "." or "-"' }),
      z.union([z.string().max(2048), z.number()]),
    )
    .refine((access) => Object.keys(access).length <= 32, { error: 'must have at most 32 fields' })
    .optional(),
  secret: z.string().min(1).max(4096).optional(),
});
export type GrantAnswer = z.infer<typeof GrantAnswer>;

/** revoke and extend: nothing to say. */
export const EmptyAnswer = z.strictObject({});

export const ListResourcesAnswer = z.strictObject({
  resources: z
    .array(
      z.strictObject({
        id: Resource.shape.id,
        description: Resource.shape.description,
        permissions: z
          .array(
            z.strictObject({
              id: Permission.shape.id,
              description: Permission.shape.description,
              grants: Permission.shape.grants,
            }),
          )
          .min(1)
          .max(50),
      }),
    )
    .max(500)
    .refine((resources) => new Set(resources.map((r) => r.id)).size === resources.length, {
      error: 'resource ids must be unique',
    }),
});
export type ListResourcesAnswer = z.infer<typeof ListResourcesAnswer>;

/** Any action: it failed. `retryable: false` → the workflow stops retrying (a permanent failure). */
export const ErrorAnswer = z.strictObject({
  error: z.string().min(1).max(1000),
  retryable: z.boolean().optional(),
});
export type ErrorAnswer = z.infer<typeof ErrorAnswer>;

// ---- The driver ----

export type LambdaDriverOptions = {
  /** Whether this is the local runtime (file: functions allowed); default `config().local`. */
  local?: () => boolean;
  /** Longest call to the function; default 60 s. */
  timeoutMs?: number;
  /** The Lambda client of a region; default: one shared client per region. */
  client?: (region: string) => LambdaClient;
};

type Action = AccessEvent['action'] | 'list-resources';

/** The first issues of a failed parse as `path: message` (never the value: it may be a secret). */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => {
      const path = issue.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : issue.path;
      const name = path.length === 0 ? '(answer)' : path.map(String).join('.');
      const message = issue.code === 'unrecognized_keys' ? 'is not part of the contract' : issue.message;
      return `${name}: ${message}`;
    })
    .join('; ');
}

function parseConfig(integration: DriverContext['integration']): LambdaConfig {
  const parsed = LambdaConfig.safeParse(integration.config);
  if (!parsed.success)
    throw new GrantPermanentError(
      `integration ${integration.id}: invalid lambda config (${describeIssues(parsed.error)})`,
    );
  return parsed.data;
}

/** The event of grant, revoke or extend for one unit. */
export function accessEvent(action: AccessEvent['action'], ctx: DriverContext, state?: DriverState): AccessEvent {
  const justification = ctx.justification;
  const recorded = state === undefined ? undefined : JsonObject.safeParse(state);
  if (recorded?.success === false)
    throw new GrantPermanentError(`integration ${ctx.integration.id}: the recorded state is not JSON`);
  return {
    version: CONTRACT_VERSION,
    action,
    integration: { id: ctx.integration.id, config: ctx.integration.config },
    request: {
      id: ctx.requestId,
      expiresAt: ctx.expiresAt.toISOString(),
      ...(justification === undefined ? {} : { justification }),
    },
    grantee: { id: ctx.grantee.sub, email: ctx.grantee.email },
    resource: ctx.resource.id,
    permission: ctx.permission.id,
    grants: [...ctx.permission.grants],
    ...(recorded === undefined ? {} : { state: recorded.data }),
  };
}

export function createLambdaDriver(options: LambdaDriverOptions = {}): IntegrationDriver {
  const local = options.local ?? (() => config().local);
  const timeoutMs = options.timeoutMs ?? DEFAULT_INVOKE_TIMEOUT_MS;

  /** Calls the function and parses its answer: an error answer throws, a malformed one is permanent. */
  async function call<T extends z.ZodType>(
    integration: DriverContext['integration'],
    action: Action,
    event: LambdaEvent,
    schema: T,
  ): Promise<z.output<T>> {
    const cfg = parseConfig(integration);
    const where = `integration ${integration.id}: function ${cfg.function}`;
    const answer = await invokeFunction(cfg.function, event, {
      local: local(),
      timeoutMs,
      integrationId: integration.id,
      ...(options.client === undefined ? {} : { client: options.client }),
    });
    if (typeof answer === 'object' && answer !== null && 'error' in answer) {
      const failed = ErrorAnswer.safeParse(answer);
      if (!failed.success)
        throw new GrantPermanentError(`${where}: malformed ${action} error answer: ${describeIssues(failed.error)}`);
      const problem = `${where}: ${action} failed: ${failed.data.error}`;
      if (failed.data.retryable === false) throw new GrantPermanentError(problem);
      throw new Error(problem);
    }
    const parsed = schema.safeParse(answer);
    if (!parsed.success)
      throw new GrantPermanentError(`${where}: malformed ${action} answer: ${describeIssues(parsed.error)}`);
    return parsed.data;
  }

  const capabilities: Capabilities = CAPABILITIES.lambda;

  return {
    ...lambdaChecks,
    capabilities,
    // The customer's function decides what requests share; Stint keeps no lease for it.
    leaseKeys: () => [],

    async grant(ctx): Promise<GrantOutcome> {
      const answer = await call(ctx.integration, 'grant', accessEvent('grant', ctx), GrantAnswer);
      return {
        status: 'done',
        state: answer.state ?? {},
        ...(answer.access === undefined ? {} : { access: { kind: 'custom', fields: answer.access } }),
        ...(answer.secret === undefined ? {} : { secret: answer.secret }),
      };
    },

    async revoke(ctx, state): Promise<RevokeOutcome> {
      await call(ctx.integration, 'revoke', accessEvent('revoke', ctx, state), EmptyAnswer);
      return { status: 'done' };
    },

    async extend(ctx, state): Promise<void> {
      await call(ctx.integration, 'extend', accessEvent('extend', ctx, state), EmptyAnswer);
    },

    async discover(ctx) {
      const event: ListResourcesEvent = {
        version: CONTRACT_VERSION,
        action: 'list-resources',
        integration: { id: ctx.integration.id, config: ctx.integration.config },
      };
      const answer = await call(ctx.integration, 'list-resources', event, ListResourcesAnswer);
      return {
        resources: answer.resources.map((r) => ({
          id: r.id,
          ...(r.description === undefined ? {} : { description: r.description }),
          permissions: r.permissions.map((p) => ({
            id: p.id,
            ...(p.description === undefined ? {} : { description: p.description }),
            grants: p.grants,
          })),
        })),
      };
    },
  };
}

export const lambdaDriver: IntegrationDriver = createLambdaDriver();

import * as z from 'zod';

import { IntegrationType } from '#lib/domain/integration.ts';

/**
 * The contract between the state machine (infra/constructs/workflow.ts), the workflow Lambdas
 * (functions/workflow/*.ts) and the local runtime. Every Lambda takes the request id and reads the rest
 * from DynamoDB (the state machine is a function of the data: docs/architecture.md), so any execution can be restarted and continues where the
 * data says.
 *
 * `$.load` (LoadOutput) is the route: Load computes it from the table; a caller that has just written the request
 * computes the same pure function (lib/workflow/route.ts) of what it wrote and hands it over instead: the API in the
 * StartExecution input and in SendTaskSuccess's output, a driver step as its result. Every step re-reads the request
 * and acts on what the data says, so a stale route costs a step, never a wrong action.
 *
 * State machine (JSONPath), starting at Route:
 *   Route (Choice on $.load.branch: the next step, and for a driver step `<action>:<type>`)
 *     no $.load.branch → Load (an execution started with only {requestId, attempt}, a wait woken with `{}`) → Route
 *     await-approval  → AwaitApproval  (lambda:invoke.waitForTaskToken register-token kind=approval,
 *                                        TimeoutSecondsPath $.load.waitSeconds; result → $.load; Catch States.Timeout
 *                                        → TimeOut; Catch States.ALL → Load) → Route
 *     grant:<type>    → Grant<Type> (the type's driver function, action grant; result → $.load;
 *                                        Retry except GrantPermanentError; Catch → GrantFailed) → Route
 *     apply-extension:<type> → ApplyExtension<Type> (result → $.load; Retry; Catch → Load) → Route
 *     await-expiry    → AwaitExpiry    (waitForTaskToken register-token kind=active, TimeoutSecondsPath
 *                                        $.load.waitSeconds, chunked ≤ MAX_WAIT_SECONDS; result → $.load;
 *                                        Catch → Load) → Route
 *     revoke:<type>   → Revoke<Type> (result → $.load; Retry for hours; Catch → RevokeFailed) → Route
 *     poll            → Poll (Wait SecondsPath $.load.waitSeconds: a driver answered "pending") → Load
 *     cleanup:<type>  → Cleanup<Type> (result → $.load; Retry; Catch → Done: the reconciler restarts due cleanups)
 *                                        → Route
 *     done            → Done (Succeed)
 *     anything else   → Reload (Choice: a route Load returned → Unroutable (Fail); a caller's → Load)
 *   TimeOut, GrantFailed, RevokeFailed → Load
 * GrantFailed records why and hands the request to the revoke path (REVOKING, endReason failed), which undoes
 * every unit through its driver function and ends FAILED.
 */
export const STEP_FUNCTIONS = ['load', 'register-token', 'grant-failed', 'time-out', 'revoke-failed'] as const;
export type StepFunction = (typeof STEP_FUNCTIONS)[number];

/** Integration types with a driver function (functions/workflow/driver-<type>.ts). */
export const DRIVER_TYPES = [
  'postgresql',
  'mysql',
  'aws-identity-center',
  'aws-iam-role',
  'lambda',
  'redis',
] as const satisfies readonly IntegrationType[];
export type DriverType = (typeof DRIVER_TYPES)[number];
export function isDriverType(type: string): type is DriverType {
  return (DRIVER_TYPES as readonly string[]).includes(type);
}

/** Execution input, and the input of every step Lambda. Execution name = executionName(id, attempt). */
export const ExecutionInput = z.object({
  requestId: z.string().min(1).max(64),
  attempt: z.number().int().min(0).default(0),
});
export type ExecutionInput = z.infer<typeof ExecutionInput>;

export function executionName(requestId: string, attempt: number): string {
  return attempt === 0 ? requestId : `${requestId}-${attempt}`;
}

export const Next = z.enum([
  'await-approval',
  'grant',
  'apply-extension',
  'await-expiry',
  'revoke',
  'poll',
  'cleanup',
  'done',
]);
export type Next = z.infer<typeof Next>;

/** Waits longer than this are chunked: the local Step Functions stand-in runs waits on Node timers, which fire at
 * once past 2^31 ms (~24.8 days); AWS would wait, and a chunk re-loads the request either way. */
export const MAX_WAIT_SECONDS = 20 * 24 * 3600;

/** $.load: what Load answers, and what a caller that has just written the request hands over instead. */
export const LoadOutput = z.object({
  next: Next,
  /** Seconds the next wait may last (≥ 1); 1 when the next state does not wait. */
  waitSeconds: z.number().int().min(1).max(MAX_WAIT_SECONDS),
  /** The request version Load saw (0: no such request): a wait registered against a newer version re-loads at once. */
  version: z.number().int().min(0),
  /** The integration type whose driver function does the next step (grant, apply-extension, revoke, cleanup). */
  driver: IntegrationType,
  /** What Route chooses on (branchOf): `next`, or `<action>:<type>` for a driver step (one Choice, not two). */
  branch: z.string(),
  /**
   * A hint for a driver step: the integrations its units name, which it reads with the request in one BatchGetItem
   * (empty when the next step is no driver step). The request stays the truth: an integration its units name and the
   * hint lacks is read on its own. Every step answers it (the state machine's ResultSelector picks it).
   */
  integrationIds: z.array(z.string().min(1).max(64)).max(100),
});
export type LoadOutput = z.infer<typeof LoadOutput>;

/** Route's branch: a driver step names its type (`grant:aws-identity-center`), any other step just `next`. */
export function branchOf(next: Next, driver: string): string {
  return DriverAction.safeParse(next).success ? `${next}:${driver}` : next;
}

/** What the state machine asks of a driver function. */
export const DriverAction = z.enum(['grant', 'apply-extension', 'revoke', 'cleanup']);
export type DriverAction = z.infer<typeof DriverAction>;
export const DriverStepInput = ExecutionInput.extend({
  action: DriverAction,
  /**
   * The route the state machine took to this step ($.load), for its hint: only integrationIds is read, and either may
   * be missing (an older definition, a caller's route from before the hint). A hint that does not parse is dropped,
   * never a reason to fail the step: the step then reads what the request names.
   */
  route: LoadOutput.pick({ integrationIds: true }).partial().optional().catch(undefined),
});
export type DriverStepInput = z.infer<typeof DriverStepInput>;

/**
 * Driver types whose driver takes part in the orphan sweep (principalOf, listManaged, revokeManaged): the reconciler
 * asks only their functions and may invoke only those (infra/constructs/reconciler.ts). A test holds it equal to the
 * drivers that implement the three.
 */
export const SWEPT_TYPES = ['postgresql', 'mysql', 'redis'] as const satisfies readonly DriverType[];
export type SweptType = (typeof SWEPT_TYPES)[number];
export function isSweptType(type: string): type is SweptType {
  return (SWEPT_TYPES as readonly string[]).includes(type);
}

const Unit = z.object({ integrationId: z.string(), resource: z.string(), permission: z.string() });
/** A principal Stint created, as the driver's listManaged finds it (lib/integrations/types.ts ManagedPrincipal). */
export const ManagedPrincipalSchema = z.strictObject({
  name: z.string().min(1).max(128),
  requestId: z.string().min(1).max(64).optional(),
});
/** An access unit of a live request: the sweep asks the driver which principal it has on the target. */
export const Holder = z.strictObject({ requestId: z.string().min(1).max(64), unit: Unit });
export type Holder = z.infer<typeof Holder>;

/**
 * What API functions ask of a driver function directly (Lambda Invoke, RequestResponse): credentials issued on
 * `GET /requests/{id}/access` (drivers with capabilities.issuesCredentials) and what the target offers
 * (`GET /integrations/{id}/discover`). The driver function checks again who asks (defence in depth).
 * The reconciler's orphan sweep (lib/services/sweep.ts) asks the same way: `list-managed` (what Stint created on the
 * target, and the principal of each unit live requests hold) and `revoke-managed` (remove one orphan).
 */
export const DriverCall = z.discriminatedUnion('call', [
  z.strictObject({ call: z.literal('issue-credentials'), requestId: z.string().min(1).max(64), caller: z.string() }),
  z.strictObject({ call: z.literal('discover'), integrationId: z.string().min(1).max(64) }),
  z.strictObject({
    call: z.literal('list-managed'),
    integrationId: z.string().min(1).max(64),
    holders: z.array(Holder).max(20_000),
  }),
  z.strictObject({
    call: z.literal('revoke-managed'),
    integrationId: z.string().min(1).max(64),
    principal: ManagedPrincipalSchema,
  }),
]);
export type DriverCall = z.infer<typeof DriverCall>;

/** list-managed: the managed principals on the target, and the principal of each holder (same order). */
export const ListManagedAnswer = z.object({
  managed: z.array(ManagedPrincipalSchema),
  principals: z.array(z.string()),
});
export type ListManagedAnswer = z.infer<typeof ListManagedAnswer>;
export const RevokeManagedAnswer = z.object({ revoked: z.literal(true) });
export type RevokeManagedAnswer = z.infer<typeof RevokeManagedAnswer>;

/** One unit's credentials, as issue-credentials answers them. */
export const IssuedUnit = z.object({
  unit: z.object({ integrationId: z.string(), resource: z.string(), permission: z.string() }),
  fields: z.record(z.string(), z.union([z.string(), z.number()])),
  expiresAt: z.string(),
});
export const IssueCredentialsAnswer = z.object({ units: z.array(IssuedUnit) });
export type IssueCredentialsAnswer = z.infer<typeof IssueCredentialsAnswer>;

export const DiscoverAnswer = z.object({
  resources: z.array(
    z.object({
      id: z.string(),
      description: z.string().optional(),
      permissions: z.array(
        z.object({ id: z.string(), description: z.string().optional(), grants: z.array(z.string()) }),
      ),
    }),
  ),
});
export type DiscoverAnswer = z.infer<typeof DiscoverAnswer>;

export const RegisterTokenInput = ExecutionInput.extend({
  kind: z.enum(['approval', 'active']),
  taskToken: z.string().min(1),
  /**
   * $.load.version: the token is stored only while the request is at this version (one conditional UpdateItem, no
   * read); when it changed since the route was computed, the wait ends at once and Load runs.
   */
  version: z.number().int().min(0).optional(),
});
export type RegisterTokenInput = z.infer<typeof RegisterTokenInput>;

/** What a Catch puts at ResultPath $.error (Step Functions error output). */
export const StepError = z.object({ Error: z.string(), Cause: z.string().optional() });

export const FailedStepInput = ExecutionInput.extend({ error: StepError });
export type FailedStepInput = z.infer<typeof FailedStepInput>;

/** Thrown by a driver's Grant for errors retrying cannot fix (bad config, missing role): no Retry, straight to Catch. */
export const GRANT_PERMANENT_ERROR = 'GrantPermanentError';

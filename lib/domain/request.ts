import * as z from 'zod';
import { AccessUnit } from './bundle.ts';
import { ChangeRecord, Channel, IsoDateTime, Slug, Subject } from './common.ts';
import { AccessFlow } from './flow.ts';
import { Identity } from './identity.ts';
import { IntegrationType } from './integration.ts';

export const RequestStatus = z.enum([
  'PENDING',
  'APPROVED',
  'REJECTED',
  'CANCELLED',
  'TIMED_OUT',
  'GRANTING',
  'ACTIVE',
  'FAILED',
  'REVOKING',
  'REVOKED',
  'EXPIRED',
  'REVOKE_FAILED',
]);
export type RequestStatus = z.infer<typeof RequestStatus>;

export const TERMINAL_STATUSES: readonly RequestStatus[] = [
  'REJECTED',
  'CANCELLED',
  'TIMED_OUT',
  'FAILED',
  'REVOKED',
  'EXPIRED',
];

/**
 * The on-call shift a vote or a request relied on: which provider said so, for which schedule or escalation policy
 * (and level), and the shift's start and end (ISO 8601; `null`: PagerDuty's permanent on-call).
 */
export const OnCallReliance = z.object({
  provider: z.string(),
  schedule: z.string().optional(),
  escalationPolicy: z.string().optional(),
  level: z.number().int().optional(),
  start: IsoDateTime.nullable(),
  end: IsoDateTime.nullable(),
});
export type OnCallReliance = z.infer<typeof OnCallReliance>;

export const Vote = z.object({
  by: Subject,
  email: z.email(),
  vote: z.enum(['approve', 'reject']),
  reason: z.string().max(2000).optional(),
  channel: Channel,
  at: IsoDateTime,
  /** Indices (into the pinned flow's approval sets) of the sets the voter belonged to when voting. */
  sets: z.array(z.number().int().min(0)).default([]),
  /**
   * Indices (into the request's `units`) of the units the voter owns (`unitOwners`), when an approver set with
   * `owners: true` is among `sets`: the part of the request their vote as an owner approves.
   */
  ownerOf: z.array(z.number().int().min(0)).optional(),
  /** For each on-call approver set among `sets` (`set`: its index), the shift that made the voter eligible. */
  oncall: z.array(OnCallReliance.extend({ set: z.number().int().min(0) })).optional(),
});
export type Vote = z.infer<typeof Vote>;

export const Extension = z.object({
  by: Subject,
  minutes: z.number().int().positive(),
  channel: Channel,
  reason: z.string().max(2000).optional(),
  at: IsoDateTime,
});
export type Extension = z.infer<typeof Extension>;

/** Target work a driver reported as still running ("pending, poll after N s"): the workflow waits, then asks again. */
export const PendingWork = z.object({
  action: z.enum(['grant', 'revoke']),
  /** What the target is doing (e.g. "assignment IN_PROGRESS"), shown to people watching. */
  reason: z.string().max(500),
  /** Calls answered `pending` so far: bounded (lib/services/workflow.ts MAX_POLLS). */
  polls: z.number().int().min(1),
  since: IsoDateTime,
  /** When to call the driver again. */
  nextAt: IsoDateTime,
  /** Set while waiting for another request's revoke of a shared thing (the driver was not called yet). */
  waitingFor: z.literal('lease').optional(),
});
export type PendingWork = z.infer<typeof PendingWork>;

/**
 * One unit on its target, as the drivers reported it (lib/integrations/types.ts): enough to revoke it later.
 * Secrets are sealed.
 */
export const UnitGrant = z.object({
  unit: AccessUnit,
  /** Driver state, non-secret (e.g. the PostgreSQL role name; while pending, the driver's progress). */
  state: z.record(z.string(), z.unknown()),
  /**
   * What the grantee is shown, tagged by kind (AccessView in lib/integrations/types.ts); requests granted before
   * kinds existed hold the flat PostgreSQL shape (host, port, database, username).
   */
  access: z.record(z.string(), z.unknown()).optional(),
  /** The generated password or custom secret, encrypted (compact JWE); erased at revoke. */
  sealedSecret: z.string().optional(),
  /** Target work in progress (absent: the unit is granted, or revoked when `revoked` is set). */
  pending: PendingWork.optional(),
  /** The target no longer holds this unit for the request (or never did: another request's lease holds it on). */
  revoked: z.boolean().optional(),
  /** The expiry the target enforces for this unit (drivers that enforce it: PostgreSQL VALID UNTIL). */
  enforcedExpiresAt: IsoDateTime.optional(),
  /** Work a revoke asked for later (RevokeDone.cleanup): done by the execution after the request ended. */
  cleanup: z.object({ dueAt: IsoDateTime, state: z.record(z.string(), z.unknown()) }).optional(),
});
export type UnitGrant = z.infer<typeof UnitGrant>;

export const AccessRequest = z.object({
  id: z.string().min(1).max(64),
  requester: Identity,
  grantee: Identity,
  flowId: Slug,
  flowVersion: z.number().int().positive(),
  /** The flow as it was when the request was made: policy and limits never change under a request. */
  flow: AccessFlow,
  bundle: Slug.optional(),
  units: z.array(AccessUnit).min(1),
  /**
   * The integration type of each unit (same order), recorded at creation so the workflow picks each unit's driver
   * function without reading the integration; absent on requests made before it was recorded.
   */
  unitTypes: z.array(IntegrationType).optional(),
  /**
   * Who owns each unit (same order as `units`), fixed when the request was made, for approver sets with
   * `owners: true`: the resource's owners, or the integration's when the resource has none (`source` says which).
   * Editing the integration later does not change who may approve this request. Absent when no set of the pinned
   * flow names the owners.
   */
  unitOwners: z
    .array(z.strictObject({ owners: z.array(Subject).max(50), source: z.enum(['resource', 'integration']) }))
    .optional(),
  /**
   * A request made as whoever is on call (flow `requestors.oncall`): the shift it relied on, and the duration asked
   * for when it was capped at the shift's end (`durationMinutes` is then the capped one). Absent otherwise.
   */
  onCall: OnCallReliance.extend({ askedMinutes: z.number().int().positive().optional() }).optional(),
  justification: z.string().max(2000).optional(),
  durationMinutes: z.number().int().positive(),
  status: RequestStatus,
  votes: z.array(Vote).default([]),
  decision: z
    .object({
      outcome: z.enum(['approved', 'rejected', 'auto']),
      by: Subject,
      channel: Channel,
      at: IsoDateTime,
      reason: z.string().optional(),
    })
    .optional(),
  createdAt: IsoDateTime,
  /** PENDING requests time out at this instant. */
  approvalDeadline: IsoDateTime.optional(),
  grantedAt: IsoDateTime.optional(),
  expiresAt: IsoDateTime.optional(),
  /** The expiry the targets enforce by themselves (PostgreSQL VALID UNTIL); behind expiresAt after an extend until applied. */
  enforcedExpiresAt: IsoDateTime.optional(),
  revokedAt: IsoDateTime.optional(),
  /**
   * Why the grant ended or is ending: time up, revoked early by someone, or `failed`: a grant that never completed
   * is being undone on the revoke path (it ends FAILED once the target is clean; `failureReason` says why).
   */
  endReason: z.enum(['expired', 'revoked', 'failed']).optional(),
  extensions: z.array(Extension).default([]),
  grants: z.array(UnitGrant).default([]),
  failureReason: z.string().max(2000).optional(),
  /** ITSM tickets that track this request, by target name (e.g. `{ "jira-ops": "OPS-123" }`). */
  tickets: z.record(z.string(), z.string()).default({}),
  /** Step Functions task tokens of the waits in progress; never leave the store or the workflow. */
  approvalToken: z.string().optional(),
  activeToken: z.string().optional(),
  /** The escalation tier reached (1 = the flow's first escalation tier) and when the reconciler recorded it. */
  escalation: z.strictObject({ tier: z.number().int().min(1), notifiedAt: IsoDateTime }).optional(),
  /**
   * Who was asked to approve as on call while PENDING (set index, lower-cased email, their shift's end, when): the
   * reconciler adds whoever has come on call since (lib/domain/approvals.ts onCallChange), so a shift change before a
   * decision notifies the new person once (`request.oncall_changed`). Absent: nobody recorded yet.
   */
  onCallNotified: z
    .array(
      z.strictObject({
        set: z.number().int().min(0),
        provider: z.string(),
        email: z.email(),
        end: IsoDateTime.nullable(),
        at: IsoDateTime,
      }),
    )
    .max(200)
    .optional(),
  /** When the requester was reminded that the grant ends soon (the reconciler; see lib/domain/escalation.ts). */
  remindedAt: IsoDateTime.optional(),
  /** Execution attempt (execution name = `${id}` or `${id}-${attempt}`). */
  attempt: z.number().int().min(0).default(0),
  /**
   * Executions the reconciler restarted since the status last changed (absent: none; every status change removes
   * it): after MAX_RESTARTS (lib/services/reconciler.ts) the reconciler stops restarting and moves the request on.
   */
  restarts: z.number().int().min(1).optional(),
  /** Who made the request, through which channel and when (absent on requests made before it was recorded). */
  created: ChangeRecord.optional(),
  /**
   * The change that ended the request or started ending it: the first into REVOKING or a terminal status (who
   * revoked, cancelled or rejected, through which channel, why). Later changes, such as the workflow confirming the
   * revoke, leave it as it is; `lastChange` is always the latest.
   */
  ending: ChangeRecord.optional(),
  lastChange: ChangeRecord,
  version: z.number().int().positive(),
});
export type AccessRequest = z.infer<typeof AccessRequest>;

/**
 * A lease reference-counts overlapping requests that share one target-side thing, named by the driver's lease key
 * (e.g. an Identity Center assignment: instance, account, permission set, user).
 * See docs/architecture.md, "Overlapping grants". When the last holder leaves, the same update marks it `revoking`:
 * new holders are refused (retryable) until that revoke ends, so a revoke never deletes access a newer grant relies
 * on.
 */
export const Lease = z.object({
  key: z.string().min(1).max(1024),
  requestIds: z.array(z.string()).default([]),
  /** The request whose revoke is taking the thing away (set when the holder set emptied). */
  revoking: z.string().optional(),
  /** Whether Stint created the thing (false: it was there before, e.g. someone's standing access; never removed). */
  owned: z.boolean().optional(),
  version: z.number().int().min(0),
  lastChange: ChangeRecord,
});
export type Lease = z.infer<typeof Lease>;

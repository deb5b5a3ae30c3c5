import { z } from 'zod';
import { AccessUnit } from './bundle.ts';
import { ChangeRecord, Channel, IsoDateTime, Slug, Subject } from './common.ts';
import { AccessFlow } from './flow.ts';
import { Identity } from './identity.ts';

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

export const Vote = z.object({
  by: Subject,
  email: z.email(),
  vote: z.enum(['approve', 'reject']),
  reason: z.string().max(2000).optional(),
  channel: Channel,
  at: IsoDateTime,
  /** Indices (into the pinned flow's approval sets) of the sets the voter belonged to when voting. */
  sets: z.array(z.number().int().min(0)).default([]),
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

/** What an integration returned for one unit: enough to revoke it later. Secrets are sealed. */
export const UnitGrant = z.object({
  unit: AccessUnit,
  /** Integration-specific, non-secret state (e.g. the PostgreSQL role name). */
  state: z.record(z.string(), z.unknown()),
  /** Connection details shown to the grantee (no secret here). */
  access: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
  /** The generated password, encrypted (compact JWE); erased at revoke. */
  sealedSecret: z.string().optional(),
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
  /** When the requester was reminded that the grant ends soon (the reconciler; see lib/domain/escalation.ts). */
  remindedAt: IsoDateTime.optional(),
  /** Execution attempt (execution name = `${id}` or `${id}-${attempt}`). */
  attempt: z.number().int().min(0).default(0),
  /**
   * Executions the reconciler restarted since the status last changed (absent: none; every status change removes
   * it): after MAX_RESTARTS (lib/services/reconciler.ts) the reconciler stops restarting and moves the request on.
   */
  restarts: z.number().int().min(1).optional(),
  lastChange: ChangeRecord,
  version: z.number().int().positive(),
});
export type AccessRequest = z.infer<typeof AccessRequest>;

/** A lease reference-counts overlapping grants of one unit to one grantee (docs/architecture.md, "Overlapping grants"). */
export const Lease = z.object({
  grantee: Subject,
  unit: AccessUnit,
  requestIds: z.array(z.string()).default([]),
  version: z.number().int().positive(),
  lastChange: ChangeRecord,
});
export type Lease = z.infer<typeof Lease>;

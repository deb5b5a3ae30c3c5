/**
 * Every audit event Stint publishes: the single source of truth. JSON Schema and samples in events/schema and
 * events/samples are generated from this file (`npm run events:generate`), never edited by hand.
 *
 * On the bus an event is `{ source: 'stint', 'detail-type': <type>, detail: <StintEvent> }`.
 *
 * The types follow the request lifecycle (docs/events.md), including `grant.started` (APPROVED → GRANTING) and
 * `grant.revoking` (ACTIVE, REVOKE_FAILED or GRANTING → REVOKING): with those two, every status change of a request yields exactly one
 * event, so a consumer can follow a request through its whole life from the events alone.
 *
 * What an event never holds: Step Functions task tokens (`approvalToken`, `activeToken`), sealed credentials
 * (`grants[].sealedSecret`) or anything else of `grants`, and the table's key attributes. The schemas are strict
 * (`additionalProperties: false`), so a leak fails validation before it is published.
 */
import * as z from 'zod';
import { ChatAccount, DirectoryGroup, DirectoryUser } from '#lib/directory/types.ts';
import { AccessUnit, Bundle } from '#lib/domain/bundle.ts';
import { Channel, IsoDateTime, Slug, Subject } from '#lib/domain/common.ts';
import { AccessFlow } from '#lib/domain/flow.ts';
import { Integration, IntegrationType } from '#lib/domain/integration.ts';
import { AccessRequest, Extension, OnCallReliance, RequestStatus, Vote } from '#lib/domain/request.ts';

export const EVENT_SOURCE = 'stint';
export const SCHEMA_VERSION = 1;

export const Severity = z.enum(['info', 'warning', 'high']);
export type Severity = z.infer<typeof Severity>;

/** Who made the change, through which channel and why (from the item's `lastChange`). */
export const Actor = z
  .strictObject({
    sub: Subject,
    channel: Channel,
    reason: z.string().max(2000).optional(),
  })
  .meta({ description: 'Who made the change (subject, or stint:system), through which channel, and why' });
export type Actor = z.infer<typeof Actor>;

/** A request as consumers see it: no task tokens, no grants (they hold sealed credentials), no keys. */
export const RequestView = z
  .strictObject({
    id: AccessRequest.shape.id,
    version: AccessRequest.shape.version,
    status: RequestStatus,
    requester: AccessRequest.shape.requester,
    grantee: AccessRequest.shape.grantee,
    flowId: Slug,
    flowVersion: AccessRequest.shape.flowVersion,
    /** The flow's labels (as pinned by the request), for routing events to SIEM/ITSM targets. */
    labels: z.record(z.string(), z.string()),
    breakGlass: z.boolean(),
    bundle: Slug.optional(),
    units: z.array(AccessUnit),
    justification: z.string().optional(),
    durationMinutes: AccessRequest.shape.durationMinutes,
    /** A request made as whoever is on call: the shift it relied on (and the duration asked for, when capped). */
    onCall: AccessRequest.shape.onCall,
    votes: z.array(Vote),
    decision: AccessRequest.shape.decision,
    createdAt: IsoDateTime,
    approvalDeadline: IsoDateTime.optional(),
    grantedAt: IsoDateTime.optional(),
    expiresAt: IsoDateTime.optional(),
    revokedAt: IsoDateTime.optional(),
    endReason: AccessRequest.shape.endReason,
    extensions: z.array(Extension),
    failureReason: z.string().optional(),
  })
  .meta({ description: 'The access request after the change (sanitized: no task tokens, credentials or keys)' });
export type RequestView = z.infer<typeof RequestView>;

function envelope<T extends string>(type: T) {
  return {
    /** `<kind>:<entity id>:<item version>`: the same stream record always yields the same id. */
    id: z.string().min(1).max(200).meta({
      description:
        'Deterministic `<kind>:<entity id>:<version>`; a re-published record keeps its id (de-duplicate on it)',
    }),
    type: z.literal(type),
    schemaVersion: z.literal(SCHEMA_VERSION),
    time: IsoDateTime.meta({ description: 'When the change was made (the item’s lastChange.at)' }),
    severity: Severity,
    actor: Actor,
  };
}

const requestPayload = {
  request: RequestView,
  /** Absent on request.created. */
  previousStatus: RequestStatus.optional(),
};

function requestEvent<T extends string>(type: T, description: string) {
  return z.strictObject({ ...envelope(type), ...requestPayload }).meta({ title: type, description });
}

function adminEvents<K extends string, S extends z.ZodType>(kind: K, item: S, noun: string) {
  return {
    created: z
      .strictObject({ ...envelope(`${kind}.created` as const), after: item })
      .meta({ title: `${kind}.created`, description: `An admin created ${noun} (or re-created a deleted one)` }),
    updated: z
      .strictObject({ ...envelope(`${kind}.updated` as const), before: item, after: item })
      .meta({ title: `${kind}.updated`, description: `An admin changed ${noun}` }),
    deleted: z.strictObject({ ...envelope(`${kind}.deleted` as const), before: item, after: item }).meta({
      title: `${kind}.deleted`,
      description: `An admin deleted ${noun} (soft delete: \`after.deleted\` is true)`,
    }),
  };
}

const flowEvents = adminEvents('flow', AccessFlow, 'an access flow');
/** `secretRef` appears in integration events: it is a reference (ARN, env:NAME, file:/path), never a secret. */
const integrationEvents = adminEvents('integration', Integration, 'an integration');
const bundleEvents = adminEvents('bundle', Bundle, 'a bundle');

export const RequestCreated = requestEvent(
  'request.created',
  'A request was made (its status says APPROVED when the flow auto-approves)',
);
/** One approver set of the pinned flow that a vote relied on (`vote.sets`), and how the voter belongs to it. */
export const VotedSet = z
  .strictObject({
    /** Index into the flow's approver sets, then its escalation tiers (as `vote.sets` records it). */
    index: z.number().int().min(0),
    /** 0: one of the policy's own sets; k: escalation tier k. */
    tier: z.number().int().min(0),
    name: z.string().optional(),
    /**
     * How the voter belongs to the set: `user` (named in it), `manager` (the requester's manager), `owner` (owns
     * `ownerOf`), `oncall` (on call in the set's schedule or escalation policy: `oncall`), `group` (none of those:
     * through one of their groups).
     */
    as: z.array(z.enum(['user', 'group', 'manager', 'owner', 'oncall'])).min(1),
    /** As `owner`: the units the voter owns, whose approval this vote gives. */
    ownerOf: z.array(AccessUnit).optional(),
    /** As `oncall`: the provider, the schedule or escalation policy (and level) and the shift the vote relied on. */
    oncall: OnCallReliance.optional(),
  })
  .meta({ description: 'An approver set the vote relied on, and how the voter belongs to it' });
export type VotedSet = z.infer<typeof VotedSet>;

export const RequestApprovalRecorded = z
  .strictObject({
    ...envelope('request.approval_recorded'),
    ...requestPayload,
    vote: Vote,
    /** The approver sets the vote relied on (one per index in `vote.sets`). */
    approverSets: z.array(VotedSet),
  })
  .meta({ title: 'request.approval_recorded', description: 'An approver voted; the quorum is not reached yet' });
export const RequestEscalated = z
  .strictObject({
    ...envelope('request.escalated'),
    ...requestPayload,
    /** The escalation tier now reached (1 = the flow's first tier); its members are notified and may decide. */
    tier: z.number().int().min(1),
    /** The tier reached before (0 = only the policy's own approver sets). */
    previousTier: z.number().int().min(0),
  })
  .meta({
    title: 'request.escalated',
    description: 'Nobody decided in time: the next approver tier of the flow was reached and is notified',
  });
export const RequestOnCallChanged = z
  .strictObject({
    ...envelope('request.oncall_changed'),
    ...requestPayload,
    /**
     * Who has come on call since the request was made (or since the last change) in an on-call approver set of a
     * tier reached: each is asked to approve once (the request's `onCallNotified` keeps everyone asked).
     */
    newlyOnCall: z.array(
      z.strictObject({
        /** Index into the flow's approver sets, then its escalation tiers (as `vote.sets` records it). */
        set: z.number().int().min(0),
        provider: z.string(),
        email: z.string(),
        /** Their shift's end (null: PagerDuty's permanent on-call). */
        end: IsoDateTime.nullable(),
      }),
    ),
  })
  .meta({
    title: 'request.oncall_changed',
    description: 'A shift changed before a decision: someone new is on call in an approver set and is asked',
  });
export const RequestApproved = requestEvent('request.approved', 'The request was approved (PENDING → APPROVED)');
export const RequestRejected = requestEvent('request.rejected', 'An approver rejected the request');
export const RequestCancelled = requestEvent('request.cancelled', 'The requester cancelled the request');
export const RequestTimedOut = requestEvent('request.timed_out', 'Nobody decided before the approval deadline');
export const GrantStarted = requestEvent('grant.started', 'Granting began (APPROVED → GRANTING)');
export const GrantActive = requestEvent('grant.active', 'Access is granted until `request.expiresAt`');
export const GrantFailed = requestEvent(
  'grant.failed',
  'Granting failed and nothing it created is left on the target (from GRANTING, or from REVOKING once a failed grant was undone); see `request.failureReason`',
);
export const GrantExpiring = requestEvent(
  'grant.expiring',
  'The grant ends in 10 minutes (`request.expiresAt`); the requester was reminded',
);
export const GrantExtended = z
  .strictObject({
    ...envelope('grant.extended'),
    ...requestPayload,
    previousExpiresAt: IsoDateTime.optional(),
    extension: Extension.optional(),
  })
  .meta({ title: 'grant.extended', description: 'An active grant was extended to a later `request.expiresAt`' });
export const GrantRevoking = requestEvent(
  'grant.revoking',
  'Revocation began (ACTIVE → REVOKING, a retry from REVOKE_FAILED, or GRANTING → REVOKING to undo a grant that failed); `request.endReason` says why',
);
export const GrantRevoked = requestEvent('grant.revoked', 'Access was revoked before its expiry');
export const GrantExpired = requestEvent('grant.expired', 'Access ended at its expiry');
export const GrantRevokeFailed = requestEvent(
  'grant.revoke_failed',
  'Revocation failed after its retries; the reconciler keeps trying (alarm)',
);

/** The integration the orphan sweep looked at (lib/services/sweep.ts). */
const SweptIntegration = z
  .strictObject({ id: Slug, type: IntegrationType })
  .meta({ description: 'The integration whose target the orphan sweep read' });

/**
 * The orphan sweep's findings: not a request's state change, so they are not read from the stream but published by
 * the sweep itself (PutEvents, same envelope; docs/operations.md says why). Their id is
 * `sweep:<integration>:<principal>:<sweep time>` (orphan) or `drift:<request>:<principal>:<sweep time>` (drift).
 */
export const GrantOrphanRevoked = z
  .strictObject({
    ...envelope('grant.orphan_revoked'),
    integration: SweptIntegration,
    /** The user / role / ACL user the sweep removed (Stint's prefix and marker). */
    principal: z.string().min(1).max(128),
    /** The request it was made for, when the target recorded it. */
    requestId: AccessRequest.shape.id.optional(),
    /** That request's status when the sweep ran (absent: no such request). */
    requestStatus: RequestStatus.optional(),
  })
  .meta({
    title: 'grant.orphan_revoked',
    description:
      'The orphan sweep found a principal Stint created that no live request holds (a lost revoke, a restored backup) and removed it',
  });
export const GrantDriftDetected = z
  .strictObject({
    ...envelope('grant.drift_detected'),
    request: RequestView,
    /** The unit whose principal the target lacks. */
    unit: AccessUnit,
    integration: SweptIntegration,
    principal: z.string().min(1).max(128),
  })
  .meta({
    title: 'grant.drift_detected',
    description:
      'The orphan sweep found an ACTIVE request whose principal the target lacks (removed behind Stint’s back); reported only, never re-granted',
  });

/** A directory user as consumers see it (the item's fields; no keys). */
export const DirectoryUserView = z
  .strictObject({
    id: DirectoryUser.shape.id,
    userName: DirectoryUser.shape.userName,
    emails: z.array(z.string()),
    displayName: z.string().optional(),
    manager: Subject.optional(),
    active: z.boolean(),
    externalId: z.string().optional(),
    accounts: z.array(ChatAccount),
    version: z.number().int().positive(),
    deleted: z.boolean().optional(),
  })
  .meta({ description: 'A directory user (soft-deleted when `deleted` is true)' });
export type DirectoryUserView = z.infer<typeof DirectoryUserView>;

export const DirectoryGroupView = z
  .strictObject({
    id: DirectoryGroup.shape.id,
    displayName: DirectoryGroup.shape.displayName,
    externalId: z.string().optional(),
    version: z.number().int().positive(),
    deleted: z.boolean().optional(),
  })
  .meta({ description: 'A directory group, without its members (see `members` for what changed)' });
export type DirectoryGroupView = z.infer<typeof DirectoryGroupView>;

/** created: new or re-created after a delete; deleted: soft delete (`after.deleted`); updated: anything else. */
export const DirectoryChange = z.enum(['created', 'updated', 'deleted']);

const directoryPayload = {
  change: DirectoryChange,
  /** What the writer did, from the item's lastChange (`create`, `replace`, `patch`, `link-accounts`, `delete`…). */
  action: z.string().min(1).max(64),
};

export const DirectoryUserChanged = z
  .strictObject({
    ...envelope('directory.user.changed'),
    ...directoryPayload,
    /** Absent when the user was created. */
    before: DirectoryUserView.optional(),
    after: DirectoryUserView,
  })
  .meta({
    title: 'directory.user.changed',
    description:
      'A directory user was created, changed (linked accounts included) or deleted, by SCIM or an admin route (`actor.channel`)',
  });

export const DirectoryGroupChanged = z
  .strictObject({
    ...envelope('directory.group.changed'),
    ...directoryPayload,
    before: DirectoryGroupView.optional(),
    after: DirectoryGroupView,
    /** Subjects that joined and left with this change (lists capped at 100; the counts are complete). */
    members: z.strictObject({
      added: z.array(Subject),
      removed: z.array(Subject),
      addedCount: z.number().int().min(0),
      removedCount: z.number().int().min(0),
    }),
  })
  .meta({
    title: 'directory.group.changed',
    description: 'A directory group was created, renamed, had members added or removed, or was deleted',
  });

export const FlowCreated = flowEvents.created;
export const FlowUpdated = flowEvents.updated;
export const FlowDeleted = flowEvents.deleted;
export const IntegrationCreated = integrationEvents.created;
export const IntegrationUpdated = integrationEvents.updated;
export const IntegrationDeleted = integrationEvents.deleted;
export const BundleCreated = bundleEvents.created;
export const BundleUpdated = bundleEvents.updated;
export const BundleDeleted = bundleEvents.deleted;

/** Every event schema by type (the EventBridge `detail-type`). */
export const EVENT_SCHEMAS = {
  'request.created': RequestCreated,
  'request.approval_recorded': RequestApprovalRecorded,
  'request.escalated': RequestEscalated,
  'request.oncall_changed': RequestOnCallChanged,
  'request.approved': RequestApproved,
  'request.rejected': RequestRejected,
  'request.cancelled': RequestCancelled,
  'request.timed_out': RequestTimedOut,
  'grant.started': GrantStarted,
  'grant.active': GrantActive,
  'grant.failed': GrantFailed,
  'grant.expiring': GrantExpiring,
  'grant.extended': GrantExtended,
  'grant.revoking': GrantRevoking,
  'grant.revoked': GrantRevoked,
  'grant.expired': GrantExpired,
  'grant.revoke_failed': GrantRevokeFailed,
  'grant.orphan_revoked': GrantOrphanRevoked,
  'grant.drift_detected': GrantDriftDetected,
  'flow.created': FlowCreated,
  'flow.updated': FlowUpdated,
  'flow.deleted': FlowDeleted,
  'integration.created': IntegrationCreated,
  'integration.updated': IntegrationUpdated,
  'integration.deleted': IntegrationDeleted,
  'bundle.created': BundleCreated,
  'bundle.updated': BundleUpdated,
  'bundle.deleted': BundleDeleted,
  'directory.user.changed': DirectoryUserChanged,
  'directory.group.changed': DirectoryGroupChanged,
} as const;

export type EventType = keyof typeof EVENT_SCHEMAS;
export const EVENT_TYPES = Object.keys(EVENT_SCHEMAS) as EventType[];
export const EventType = z.enum(EVENT_TYPES as [EventType, ...EventType[]]);

export const StintEvent = z.discriminatedUnion('type', [
  RequestCreated,
  RequestApprovalRecorded,
  RequestEscalated,
  RequestOnCallChanged,
  RequestApproved,
  RequestRejected,
  RequestCancelled,
  RequestTimedOut,
  GrantStarted,
  GrantActive,
  GrantFailed,
  GrantExpiring,
  GrantExtended,
  GrantRevoking,
  GrantRevoked,
  GrantExpired,
  GrantRevokeFailed,
  GrantOrphanRevoked,
  GrantDriftDetected,
  FlowCreated,
  FlowUpdated,
  FlowDeleted,
  IntegrationCreated,
  IntegrationUpdated,
  IntegrationDeleted,
  BundleCreated,
  BundleUpdated,
  BundleDeleted,
  DirectoryUserChanged,
  DirectoryGroupChanged,
]);
export type StintEvent = z.infer<typeof StintEvent>;
export type StintEventOf<T extends EventType> = Extract<StintEvent, { type: T }>;

/** Events about a request's state (they carry `request`; the sweep's drift report carries one too, see SweepEvent). */
export type RequestEvent = Exclude<Extract<StintEvent, { request: RequestView }>, { type: SweepEventType }>;
/** The orphan sweep's findings (published by the sweep, not from the stream). */
export const SWEEP_EVENT_TYPES = ['grant.orphan_revoked', 'grant.drift_detected'] as const;
export type SweepEventType = (typeof SWEEP_EVENT_TYPES)[number];
export type SweepEvent = Extract<StintEvent, { type: SweepEventType }>;
export type RequestEventType = RequestEvent['type'];

/**
 * Severity, for routing and alerting:
 * - `high`: a grant failed or could not be revoked; break-glass use (request.created, grant.active); the sweep
 *   removed access nobody held (grant.orphan_revoked);
 * - `warning`: the target lacks access an ACTIVE request holds (grant.drift_detected);
 * - `warning`: an admin deleted a flow, integration or bundle;
 * - `info` for directory changes, deletions included (the IdP deprovisions people routinely);
 * - `info`: everything else (rejections and time-outs included: they are normal outcomes).
 */
export function severityOf(type: EventType, breakGlass: boolean): Severity {
  if (type === 'grant.failed' || type === 'grant.revoke_failed' || type === 'grant.orphan_revoked') return 'high';
  if (type === 'grant.drift_detected') return 'warning';
  if (breakGlass && (type === 'request.created' || type === 'grant.active')) return 'high';
  if (type.endsWith('.deleted')) return 'warning';
  return 'info';
}

/**
 * OCSF output for SIEM targets (`format: 'ocsf'`): every Stint audit event becomes one OCSF event of the class
 * **User Access Management** (`class_uid` 3005, category Identity & Access Management, `category_uid` 3).
 *
 * ## Which OCSF version
 * We emit and validate **OCSF 1.5.0**. Sources read (ocsf/ocsf-schema repository and its CHANGELOG.md):
 * - `events/iam/user_access.json`: `user` is required; `privileges`, `resources` recommended; `activity_id`
 *   1 Assign Privileges, 2 Revoke Privileges (plus the generic 0 Unknown, 99 Other). Role activities 3/4 exist
 *   only from 1.9.0, which also deprecates the class in favour of User Management; so 1.5.0–1.8.0 is the range
 *   where 3005 is current, and 1.5.0 is its oldest version that has everything Stint needs:
 * - CHANGELOG 1.5.0: "Added `resources` to `user_access`" (#1374) and `resource` deprecated for it. A request
 *   can span several resources, which the single `resource` of 1.1–1.4 cannot carry.
 * - CHANGELOG 1.4.0: "Added the `actor` attribute to the IAM base event" (#1280), so 3005 has `actor`.
 * - CHANGELOG 1.4.0: "Relaxed attribute requirement for `vendor_name` in the `product` object" (#1300). We still
 *   require `metadata.product.name` and `vendor_name` (older consumers require them; we always send both).
 * - `privileges`: a 1.x-era model of the class (search excerpt) lists it as required; the current
 *   user_access.json says recommended. We always send it, so the validator requires it: stricter than 1.5.0 is
 *   still valid 1.5.0.
 * - "Understanding OCSF" (ocsf-docs) for the base event: required `class_uid`, `category_uid`, `severity_id`
 *   (and, per the class files, `activity_id`, `metadata`, `time` as timestamp_t in ms since the epoch,
 *   `type_uid` = `class_uid * 100 + activity_id`); recommended `message`, `status_id`/`status`,
 *   `timezone_offset`; optional `unmapped` (source fields not mapped to the schema). The stored
 *   events/base_event.json was a pre-1.0 copy, so this list was not re-read from the 1.5.0 file.
 * - `objects/metadata.json`: `version` (SemVer of the schema) and `product` required; `uid`, `log_name`,
 *   `original_time`, `correlation_uid`, `labels` available.
 * - `objects/user.json` (extends `_entity`): constraint at_least_one of `account`, `name`, `uid`; `email_addr`
 *   is email_t; `type_id` 0 Unknown, 1 User, 2 Admin, 3 System, 99 Other (4 Service arrives in 1.6.0, #1428).
 * - `objects/actor.json`: constraint at_least_one of `process`, `user`, `invoked_by`, `session`, `app_name`,
 *   `app_uid`.
 * - `objects/resource_details.json` → `_resource` → `_entity`: constraint at_least_one of `name`, `uid`.
 * - dictionary `severity_id` (required; values as in the compiled-schema excerpts read): 0 Unknown,
 *   1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical, 6 Fatal, 99 Other; `status_id`: 0 Unknown, 1 Success, 2 Failure, 99 Other (with 99 the caption sibling holds the
 *   source's own value). Sibling captions (`activity_name`, `severity`, `status`, `class_name`, …) must match
 *   their ids.
 *
 * ## Mapping table (Stint event → activity, status)
 * `status_id` follows the request's status after the change (one rule for every request event):
 * ACTIVE, APPROVED, REVOKED, EXPIRED → 1 Success; FAILED, REVOKE_FAILED, REJECTED, TIMED_OUT → 2 Failure;
 * PENDING → 99 "Pending"; GRANTING, REVOKING → 99 "In Progress"; CANCELLED → 99 "Cancelled".
 * `status_code` is the raw Stint status, `status_detail` the failure, decision or actor reason.
 *
 * | Stint event                 | activity_id | activity_name          | why                                        |
 * |-----------------------------|-------------|------------------------|--------------------------------------------|
 * | grant.active                | 1           | Assign Privileges      | privileges are now assigned (Success)      |
 * | grant.failed                | 1           | Assign Privileges      | the assignment failed (Failure)            |
 * | grant.extended              | 1           | Assign Privileges      | privileges assigned for a longer window    |
 * | grant.revoked               | 2           | Revoke Privileges      | revoked early (Success)                    |
 * | grant.expired               | 2           | Revoke Privileges      | revoked at expiry (Success)                |
 * | grant.revoke_failed         | 2           | Revoke Privileges      | revocation failed (Failure; alarm)         |
 * | grant.started               | 99          | Start Granting         | nothing assigned yet: not 1, or a SIEM     |
 * | grant.revoking              | 99          | Start Revoking         |   counting 300501/300502 would count twice |
 * | request.created             | 99          | Request Privileges     | a request changes no privilege             |
 * | request.approval_recorded   | 99          | Record Approval        |                                            |
 * | request.approved            | 99          | Approve Request        |                                            |
 * | request.rejected            | 99          | Reject Request         |                                            |
 * | request.cancelled           | 99          | Cancel Request         |                                            |
 * | request.timed_out           | 99          | Time Out Request       |                                            |
 * | flow/integration/bundle.*   | 99          | Create/Update/Delete … | see below                                  |
 * | grant.orphan_revoked        | 2           | Revoke Privileges      | the sweep removed a principal nobody held  |
 * | grant.drift_detected        | 99          | Detect Drift           | nothing changed: a report                  |
 *
 * Admin events (`flow.*`, `integration.*`, `bundle.*`) would fit Entity Management (3004) better, but the issue
 * asks for 3005 and OCSF does not forbid it. 3005 *requires* `user` ("the user to which privileges were
 * assigned") and an admin change has no such user, so `user` is the admin who made the change (the same person
 * as `actor.user`), `privileges` is empty (the change assigns nothing to anyone) and `resources` holds only the
 * changed flow/integration/bundle. Consumers that want privilege changes only can filter on activity_id 1/2 or
 * give the target a `types` filter. Admin events are status 1 Success (the change was applied).
 *
 * Request events: `actor` = who made the change (`event.actor`), `user` = the grantee, `privileges` =
 * `<integration>/<resource>/<permission>` per unit, `resources` = the units' resources (uid
 * `<integration>/<resource>`), `metadata.uid` = the event id (deterministic: de-duplicate on it),
 * `metadata.correlation_uid` = the request id (ties a request's events together), `metadata.labels` = the flow
 * labels as `key:value`, `unmapped.stint` = Stint fields OCSF has no place for (request id, flow, justification,
 * decision, vote, expiry…). Severity: info → 1 Informational, warning → 3 Medium, high → 4 High.
 *
 * Never in the output: task tokens and credentials (events never carry them), an integration's `secretRef`.
 */
import * as z from 'zod';
import type { Actor, RequestEvent, RequestView, Severity, StintEvent, SweepEvent } from '#events/schemas.ts';
import type { AccessUnit } from '#lib/domain/bundle.ts';
import { SYSTEM_SUBJECT } from '#lib/domain/identity.ts';
import type { RequestStatus } from '#lib/domain/request.ts';

export const OCSF_VERSION = '1.5.0';
export const OCSF_CLASS_UID = 3005;
export const OCSF_CATEGORY_UID = 3;
const CLASS_NAME = 'User Access Management';
const CATEGORY_NAME = 'Identity & Access Management';

const ACTIVITY_CAPTIONS = { 0: 'Unknown', 1: 'Assign Privileges', 2: 'Revoke Privileges', 99: 'Other' } as const;
const SEVERITY_CAPTIONS = {
  0: 'Unknown',
  1: 'Informational',
  2: 'Low',
  3: 'Medium',
  4: 'High',
  5: 'Critical',
  6: 'Fatal',
  99: 'Other',
} as const;
const STATUS_CAPTIONS = { 0: 'Unknown', 1: 'Success', 2: 'Failure', 99: 'Other' } as const;
type ActivityId = keyof typeof ACTIVITY_CAPTIONS;
type SeverityId = keyof typeof SEVERITY_CAPTIONS;
type StatusId = keyof typeof STATUS_CAPTIONS;

// ---------------------------------------------------------------------------------------------------------------
// The validator: OCSF 1.5.0 attribute requirements of class 3005, for the attributes Stint emits. Objects are
// closed (strict), so a typo or a field that should not leave Stint fails validation instead of reaching a SIEM.
// ---------------------------------------------------------------------------------------------------------------

/** `_entity`-style constraint: at least one of the named attributes is present (OCSF `constraints.at_least_one`). */
function atLeastOne<T extends Record<string, unknown>>(object: T, keys: readonly string[]): boolean {
  return keys.some((key) => object[key] !== undefined);
}

const NonEmpty = z.string().min(1);

const OcsfGroup = z
  .strictObject({ name: NonEmpty.optional(), uid: NonEmpty.optional() })
  .refine((g) => atLeastOne(g, ['name', 'uid']), { message: 'group needs at least one of name, uid' });

/** objects/user.json: at_least_one of account, name, uid (Stint never sends `account`). */
export const OcsfUser = z
  .strictObject({
    uid: NonEmpty.optional(),
    name: NonEmpty.optional(),
    email_addr: z.email().optional(),
    type_id: z.literal([0, 1, 2, 3, 99]).optional(),
    type: NonEmpty.optional(),
    groups: z.array(OcsfGroup).optional(),
  })
  .refine((u) => atLeastOne(u, ['account', 'name', 'uid']), {
    message: 'user needs at least one of account, name, uid',
  });
export type OcsfUser = z.infer<typeof OcsfUser>;

/** objects/actor.json: at_least_one of process, user, invoked_by, session, app_name, app_uid. */
const OcsfActor = z
  .strictObject({ user: OcsfUser.optional(), app_name: NonEmpty.optional(), app_uid: NonEmpty.optional() })
  .refine((a) => atLeastOne(a, ['process', 'user', 'invoked_by', 'session', 'app_name', 'app_uid']), {
    message: 'actor needs at least one of process, user, invoked_by, session, app_name, app_uid',
  });

/** objects/resource_details.json (→ _resource → _entity): at_least_one of name, uid. */
const OcsfResource = z
  .strictObject({
    uid: NonEmpty.optional(),
    name: NonEmpty.optional(),
    type: NonEmpty.optional(),
    data: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((r) => atLeastOne(r, ['name', 'uid']), { message: 'resource needs at least one of name, uid' });

/** objects/metadata.json: version and product required. */
const OcsfMetadata = z.strictObject({
  version: z.string().regex(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'must be a SemVer schema version'),
  product: z.strictObject({
    name: NonEmpty,
    vendor_name: NonEmpty,
    uid: NonEmpty.optional(),
    version: NonEmpty.optional(),
  }),
  uid: NonEmpty.optional(),
  log_name: NonEmpty.optional(),
  original_time: NonEmpty.optional(),
  correlation_uid: NonEmpty.optional(),
  labels: z.array(z.string()).optional(),
});

/** An OCSF 1.5.0 User Access Management (3005) event as Stint emits it. */
export const OcsfUserAccessManagement = z
  .strictObject({
    class_uid: z.literal(OCSF_CLASS_UID),
    class_name: z.literal(CLASS_NAME).optional(),
    category_uid: z.literal(OCSF_CATEGORY_UID),
    category_name: z.literal(CATEGORY_NAME).optional(),
    activity_id: z.literal([0, 1, 2, 99]),
    activity_name: NonEmpty.optional(),
    type_uid: z.number().int(),
    type_name: NonEmpty.optional(),
    /** timestamp_t: milliseconds since the epoch. */
    time: z.number().int().nonnegative(),
    timezone_offset: z.number().int().optional(),
    severity_id: z.literal([0, 1, 2, 3, 4, 5, 6, 99]),
    severity: NonEmpty.optional(),
    status_id: z.literal([0, 1, 2, 99]).optional(),
    status: NonEmpty.optional(),
    status_code: NonEmpty.optional(),
    status_detail: z.string().optional(),
    message: z.string().optional(),
    metadata: OcsfMetadata,
    actor: OcsfActor.optional(),
    user: OcsfUser,
    privileges: z.array(NonEmpty),
    resources: z.array(OcsfResource).optional(),
    unmapped: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((e, ctx) => {
    const expectedType = e.class_uid * 100 + e.activity_id;
    if (e.type_uid !== expectedType) {
      ctx.addIssue({
        code: 'custom',
        path: ['type_uid'],
        message: `must be class_uid * 100 + activity_id = ${expectedType}`,
      });
    }
    const activityCaption = ACTIVITY_CAPTIONS[e.activity_id];
    if (e.activity_id === 99) {
      // "Other": the caption sibling carries the source's own activity; without it the event says nothing.
      if (e.activity_name === undefined) {
        ctx.addIssue({ code: 'custom', path: ['activity_name'], message: 'is required when activity_id is 99' });
      }
    } else if (e.activity_name !== undefined && e.activity_name !== activityCaption) {
      ctx.addIssue({ code: 'custom', path: ['activity_name'], message: `must be "${activityCaption}"` });
    }
    const typeName = `${CLASS_NAME}: ${activityCaption}`;
    if (e.type_name !== undefined && e.type_name !== typeName) {
      ctx.addIssue({ code: 'custom', path: ['type_name'], message: `must be "${typeName}"` });
    }
    if (e.severity !== undefined && e.severity_id !== 99 && e.severity !== SEVERITY_CAPTIONS[e.severity_id]) {
      ctx.addIssue({ code: 'custom', path: ['severity'], message: `must be "${SEVERITY_CAPTIONS[e.severity_id]}"` });
    }
    if (e.status !== undefined) {
      if (e.status_id === undefined) {
        ctx.addIssue({ code: 'custom', path: ['status_id'], message: 'is required with status' });
      } else if (e.status_id !== 99 && e.status !== STATUS_CAPTIONS[e.status_id]) {
        ctx.addIssue({ code: 'custom', path: ['status'], message: `must be "${STATUS_CAPTIONS[e.status_id]}"` });
      }
    }
  });
export type OcsfUserAccessManagement = z.infer<typeof OcsfUserAccessManagement>;

// ---------------------------------------------------------------------------------------------------------------
// The mapping
// ---------------------------------------------------------------------------------------------------------------

const SEVERITY_IDS: Record<Severity, SeverityId> = { info: 1, warning: 3, high: 4 };

type Status = { id: StatusId; caption: string };
const success: Status = { id: 1, caption: STATUS_CAPTIONS[1] };
const failure: Status = { id: 2, caption: STATUS_CAPTIONS[2] };
const other = (caption: string): Status => ({ id: 99, caption });

const STATUS_OF: Record<RequestStatus, Status> = {
  PENDING: other('Pending'),
  APPROVED: success,
  REJECTED: failure,
  CANCELLED: other('Cancelled'),
  TIMED_OUT: failure,
  GRANTING: other('In Progress'),
  ACTIVE: success,
  FAILED: failure,
  REVOKING: other('In Progress'),
  REVOKED: success,
  EXPIRED: success,
  REVOKE_FAILED: failure,
};

const REQUEST_ACTIVITIES: Record<RequestEvent['type'], { id: ActivityId; name: string }> = {
  'request.created': { id: 99, name: 'Request Privileges' },
  'request.approval_recorded': { id: 99, name: 'Record Approval' },
  'request.escalated': { id: 99, name: 'Escalate Request' },
  'request.oncall_changed': { id: 99, name: 'Notify On-call Approver' },
  'request.approved': { id: 99, name: 'Approve Request' },
  'request.rejected': { id: 99, name: 'Reject Request' },
  'request.cancelled': { id: 99, name: 'Cancel Request' },
  'request.timed_out': { id: 99, name: 'Time Out Request' },
  'grant.started': { id: 99, name: 'Start Granting' },
  'grant.active': { id: 1, name: ACTIVITY_CAPTIONS[1] },
  'grant.failed': { id: 1, name: ACTIVITY_CAPTIONS[1] },
  'grant.expiring': { id: 99, name: 'Remind Expiry' },
  'grant.extended': { id: 1, name: ACTIVITY_CAPTIONS[1] },
  'grant.revoking': { id: 99, name: 'Start Revoking' },
  'grant.revoked': { id: 2, name: ACTIVITY_CAPTIONS[2] },
  'grant.expired': { id: 2, name: ACTIVITY_CAPTIONS[2] },
  'grant.revoke_failed': { id: 2, name: ACTIVITY_CAPTIONS[2] },
};

type DirectoryEvent = Extract<StintEvent, { type: 'directory.user.changed' | 'directory.group.changed' }>;
type AdminEvent = Exclude<StintEvent, RequestEvent | DirectoryEvent | SweepEvent>;
const ADMIN_NOUNS = { flow: 'Access Flow', integration: 'Integration', bundle: 'Bundle' } as const;
const ADMIN_VERBS = { created: 'Create', updated: 'Update', deleted: 'Delete' } as const;

/** One Stint audit event as an OCSF 1.5.0 User Access Management (3005) event. */
export function toOcsf(event: StintEvent): OcsfUserAccessManagement {
  if (event.type === 'grant.orphan_revoked' || event.type === 'grant.drift_detected') return fromSweepEvent(event);
  if ('request' in event) return fromRequestEvent(event);
  if (event.type === 'directory.user.changed' || event.type === 'directory.group.changed')
    return fromDirectoryEvent(event);
  return fromAdminEvent(event);
}

/** A directory change: `user` is the directory user changed (for a group, the actor, as for admin changes). */
function fromDirectoryEvent(event: DirectoryEvent): OcsfUserAccessManagement {
  const isUser = event.type === 'directory.user.changed';
  const noun = isUser ? 'Directory User' : 'Directory Group';
  const entity = event.after;
  const entityUid = `${isUser ? 'directory-user' : 'directory-group'}:${entity.id}`;
  const actor = actorOf(event.actor, undefined);
  const verb = ADMIN_VERBS[event.change];
  return {
    ...header(event, { id: 99, name: `${verb} ${noun}` }),
    status_id: success.id,
    status: success.caption,
    ...(event.actor.reason === undefined ? {} : { status_detail: event.actor.reason }),
    message: `${event.actor.sub} ${event.change} ${noun.toLowerCase()} ${entity.id} (version ${entity.version})`,
    metadata: { ...metadataOf(event), correlation_uid: entityUid },
    actor,
    user:
      event.type === 'directory.user.changed'
        ? { uid: event.after.id, ...(event.after.emails[0] === undefined ? {} : { email_addr: event.after.emails[0] }) }
        : (actor.user ?? { uid: event.actor.sub }),
    privileges: [],
    resources: [
      {
        uid: entityUid,
        name: event.type === 'directory.user.changed' ? event.after.userName : event.after.displayName,
        type: `Stint ${noun}`,
      },
    ],
    unmapped: {
      stint: compact({
        event_type: event.type,
        schema_version: event.schemaVersion,
        entity_kind: isUser ? 'directory-user' : 'directory-group',
        entity_id: entity.id,
        entity_version: entity.version,
        deleted: entity.deleted,
        action: event.action,
        changed_fields: event.before === undefined ? undefined : changedFields(event.before, entity),
        members: event.type === 'directory.group.changed' ? { ...event.members } : undefined,
        actor_channel: event.actor.channel,
      }),
    },
  };
}

function fromRequestEvent(event: RequestEvent): OcsfUserAccessManagement {
  const r = event.request;
  const activity = REQUEST_ACTIVITIES[event.type];
  const status = STATUS_OF[r.status];
  const privileges = unique(r.units.map(privilegeOf));
  return {
    ...header(event, activity),
    ...statusAttributes(status, r.status, statusDetail(event)),
    message: messageOf(event, privileges),
    metadata: {
      ...metadataOf(event),
      correlation_uid: r.id,
      labels: Object.entries(r.labels).map(([key, value]) => `${key}:${value}`),
    },
    actor: actorOf(event.actor, r),
    user: {
      uid: r.grantee.sub,
      email_addr: r.grantee.email,
      ...(r.grantee.groups.length > 0 ? { groups: r.grantee.groups.map((name) => ({ name })) } : {}),
    },
    privileges,
    resources: uniqueBy(r.units, (u) => `${u.integrationId}/${u.resource}`).map((u) => ({
      uid: `${u.integrationId}/${u.resource}`,
      name: u.resource,
      type: 'Stint Resource',
      data: { integration_id: u.integrationId },
    })),
    unmapped: { stint: requestUnmapped(event) },
  };
}

/**
 * The orphan sweep's findings. An orphan's removal is Revoke Privileges (2) of the principal itself (`user`: the
 * target's user / role, no directory user known); drift is Other (99) "Detect Drift" for the grantee, status 99
 * "Drift Detected": nothing was changed, the target lacks what the request holds.
 */
function fromSweepEvent(event: SweepEvent): OcsfUserAccessManagement {
  const integration = {
    uid: event.integration.id,
    name: event.integration.id,
    type: 'Stint Integration',
    data: { integration_type: event.integration.type },
  };
  const common = {
    event_type: event.type,
    schema_version: event.schemaVersion,
    integration_id: event.integration.id,
    integration_type: event.integration.type,
    principal: event.principal,
    actor_channel: event.actor.channel,
  };
  if (event.type === 'grant.orphan_revoked') {
    return {
      ...header(event, { id: 2, name: ACTIVITY_CAPTIONS[2] }),
      status_id: success.id,
      status: success.caption,
      message: `The orphan sweep removed ${event.principal} from ${event.integration.id}: no live request holds it`,
      metadata: { ...metadataOf(event), correlation_uid: event.requestId ?? `integration:${event.integration.id}` },
      actor: actorOf(event.actor, undefined),
      user: { uid: event.principal, name: event.principal },
      privileges: [],
      resources: [integration],
      unmapped: {
        stint: compact({ ...common, request_id: event.requestId, request_status: event.requestStatus }),
      },
    };
  }
  const r = event.request;
  const drift = other('Drift Detected');
  return {
    ...header(event, { id: 99, name: 'Detect Drift' }),
    status_id: drift.id,
    status: drift.caption,
    status_code: r.status,
    message: `${event.integration.id} lacks ${event.principal}, which request ${r.id} of ${r.grantee.sub} holds (${privilegeOf(event.unit)})`,
    metadata: {
      ...metadataOf(event),
      correlation_uid: r.id,
      labels: Object.entries(r.labels).map(([key, value]) => `${key}:${value}`),
    },
    actor: actorOf(event.actor, r),
    user: {
      uid: r.grantee.sub,
      email_addr: r.grantee.email,
      ...(r.grantee.groups.length > 0 ? { groups: r.grantee.groups.map((name) => ({ name })) } : {}),
    },
    privileges: [privilegeOf(event.unit)],
    resources: [integration],
    unmapped: { stint: compact({ ...common, request_id: r.id, request_status: r.status }) },
  };
}

function fromAdminEvent(event: AdminEvent): OcsfUserAccessManagement {
  const [kind, change] = ADMIN_TYPES[event.type];
  const entity = event.after;
  const activityName = `${ADMIN_VERBS[change]} ${ADMIN_NOUNS[kind]}`;
  const entityUid = `${kind}:${entity.id}`;
  const labels = 'labels' in entity ? Object.entries(entity.labels).map(([k, v]) => `${k}:${v}`) : [];
  const actor = actorOf(event.actor, undefined);
  return {
    ...header(event, { id: 99, name: activityName }),
    status_id: success.id,
    status: success.caption,
    ...(event.actor.reason === undefined ? {} : { status_detail: event.actor.reason }),
    message: `${event.actor.sub} ${change} ${ADMIN_NOUNS[kind].toLowerCase()} ${entity.id} (version ${entity.version})`,
    metadata: { ...metadataOf(event), correlation_uid: entityUid, ...(labels.length > 0 ? { labels } : {}) },
    actor,
    // 3005 requires `user`; an admin change has no grantee, so it names the admin (see the header comment).
    user: actor.user ?? { uid: event.actor.sub },
    privileges: [],
    resources: [{ uid: entityUid, name: entity.name, type: `Stint ${ADMIN_NOUNS[kind]}` }],
    unmapped: {
      stint: compact({
        event_type: event.type,
        schema_version: event.schemaVersion,
        entity_kind: kind,
        entity_id: entity.id,
        entity_version: entity.version,
        deleted: entity.deleted,
        integration_type: 'type' in entity ? entity.type : undefined,
        changed_fields: 'before' in event ? changedFields(event.before, entity) : undefined,
        actor_channel: event.actor.channel,
      }),
    },
  };
}

function header(event: StintEvent, activity: { id: ActivityId; name: string }) {
  return {
    class_uid: OCSF_CLASS_UID,
    class_name: CLASS_NAME,
    category_uid: OCSF_CATEGORY_UID,
    category_name: CATEGORY_NAME,
    activity_id: activity.id,
    activity_name: activity.name,
    type_uid: OCSF_CLASS_UID * 100 + activity.id,
    type_name: `${CLASS_NAME}: ${ACTIVITY_CAPTIONS[activity.id]}`,
    time: Date.parse(event.time),
    timezone_offset: 0,
    severity_id: SEVERITY_IDS[event.severity],
    severity: SEVERITY_CAPTIONS[SEVERITY_IDS[event.severity]],
  } as const;
}

function metadataOf(event: StintEvent) {
  return {
    version: OCSF_VERSION,
    product: { name: 'Stint', vendor_name: 'Stint' },
    uid: event.id,
    log_name: 'audit',
    original_time: event.time,
  };
}

function statusAttributes(status: Status, code: RequestStatus, detail: string | undefined) {
  return {
    status_id: status.id,
    status: status.caption,
    status_code: code,
    ...(detail === undefined ? {} : { status_detail: detail }),
  };
}

/** Why the request is where it is: the failure, the decision's reason, or the actor's reason. */
function statusDetail(event: RequestEvent): string | undefined {
  const r = event.request;
  if (r.status === 'FAILED' || r.status === 'REVOKE_FAILED') return r.failureReason;
  if (event.type === 'request.rejected' || event.type === 'request.approved') {
    return r.decision?.reason ?? event.actor.reason;
  }
  if (event.type === 'grant.revoking') {
    const why =
      r.endReason === 'expired'
        ? 'Access period ended'
        : r.endReason === 'failed'
          ? 'Undoing a grant that failed'
          : 'Revoked early';
    return event.actor.reason === undefined ? why : `${why}: ${event.actor.reason}`;
  }
  if (event.type === 'grant.expired') return 'Access period ended';
  return event.actor.reason;
}

/** The actor as an OCSF actor; the e-mail address is added when the event itself knows it. */
function actorOf(actor: Actor, request: RequestView | undefined) {
  if (actor.sub === SYSTEM_SUBJECT) {
    return { user: { uid: SYSTEM_SUBJECT, name: 'Stint', type_id: 3 as const }, app_name: actor.channel };
  }
  const email = request === undefined ? undefined : emailOf(actor.sub, request);
  return { user: { uid: actor.sub, ...(email === undefined ? {} : { email_addr: email }) }, app_name: actor.channel };
}

function emailOf(sub: string, r: RequestView): string | undefined {
  if (r.requester.sub === sub) return r.requester.email;
  if (r.grantee.sub === sub) return r.grantee.email;
  return r.votes.find((v) => v.by === sub)?.email;
}

function privilegeOf(unit: AccessUnit): string {
  return `${unit.integrationId}/${unit.resource}/${unit.permission}`;
}

function messageOf(event: RequestEvent, privileges: string[]): string {
  const r = event.request;
  const what = privileges.join(', ');
  const who = r.grantee.sub;
  const by = event.actor.sub;
  switch (event.type) {
    case 'request.created':
      return r.requester.sub === who
        ? `${who} requested ${what} for ${r.durationMinutes} minutes`
        : `${r.requester.sub} requested ${what} for ${who} for ${r.durationMinutes} minutes`;
    case 'request.approval_recorded':
      return `${event.vote.by} voted to ${event.vote.vote} the request of ${who} for ${what}`;
    case 'request.escalated':
      return `The request of ${who} for ${what} was escalated to approver tier ${event.tier}`;
    case 'request.oncall_changed':
      return `The request of ${who} for ${what} was sent to who is now on call (${event.newlyOnCall.map((n) => n.email).join(', ')})`;
    case 'request.approved':
      return `${r.decision?.by ?? by} approved the request of ${who} for ${what}`;
    case 'request.rejected':
      return `${r.decision?.by ?? by} rejected the request of ${who} for ${what}`;
    case 'request.cancelled':
      return `${by} cancelled the request of ${who} for ${what}`;
    case 'request.timed_out':
      return `The request of ${who} for ${what} timed out without a decision`;
    case 'grant.started':
      return `Granting ${what} to ${who}`;
    case 'grant.active':
      return `Granted ${what} to ${who}${r.expiresAt === undefined ? '' : ` until ${r.expiresAt}`}`;
    case 'grant.failed':
      return `Granting ${what} to ${who} failed`;
    case 'grant.extended':
      return `${by} extended ${who}'s access to ${what}${r.expiresAt === undefined ? '' : ` until ${r.expiresAt}`}`;
    case 'grant.expiring':
      return `Access of ${who} to ${what} ends${r.expiresAt === undefined ? ' soon' : ` at ${r.expiresAt}`}`;
    case 'grant.revoking':
      return `Revoking ${what} from ${who}`;
    case 'grant.revoked':
      return `Revoked ${what} from ${who} before its expiry`;
    case 'grant.expired':
      return `Access of ${who} to ${what} expired and was revoked`;
    case 'grant.revoke_failed':
      return `Revoking ${what} from ${who} failed; Stint keeps retrying`;
  }
}

/** The Stint fields OCSF has no attribute for. */
function requestUnmapped(event: RequestEvent): Record<string, unknown> {
  const r = event.request;
  return compact({
    event_type: event.type,
    schema_version: event.schemaVersion,
    request_id: r.id,
    request_version: r.version,
    request_status: r.status,
    previous_status: event.previousStatus,
    requester: r.requester.sub,
    flow_id: r.flowId,
    flow_version: r.flowVersion,
    break_glass: r.breakGlass,
    bundle: r.bundle,
    justification: r.justification,
    duration_minutes: r.durationMinutes,
    created_at: r.createdAt,
    approval_deadline: r.approvalDeadline,
    granted_at: r.grantedAt,
    expires_at: r.expiresAt,
    revoked_at: r.revokedAt,
    end_reason: r.endReason,
    decision: r.decision === undefined ? undefined : compact({ ...r.decision }),
    vote: event.type === 'request.approval_recorded' ? compact({ ...event.vote }) : undefined,
    previous_expires_at: event.type === 'grant.extended' ? event.previousExpiresAt : undefined,
    extension: event.type === 'grant.extended' && event.extension ? compact({ ...event.extension }) : undefined,
    actor_channel: event.actor.channel,
  });
}

const ADMIN_TYPES: Record<AdminEvent['type'], [keyof typeof ADMIN_NOUNS, keyof typeof ADMIN_VERBS]> = {
  'flow.created': ['flow', 'created'],
  'flow.updated': ['flow', 'updated'],
  'flow.deleted': ['flow', 'deleted'],
  'integration.created': ['integration', 'created'],
  'integration.updated': ['integration', 'updated'],
  'integration.deleted': ['integration', 'deleted'],
  'bundle.created': ['bundle', 'created'],
  'bundle.updated': ['bundle', 'updated'],
  'bundle.deleted': ['bundle', 'deleted'],
};

/** Top-level fields whose value differs between two versions of an entity (bookkeeping fields left out). */
function changedFields(before: object, after: object): string[] {
  const a = new Map(Object.entries(before));
  const b = new Map(Object.entries(after));
  const keys = new Set([...a.keys(), ...b.keys()]);
  for (const skip of ['version', 'lastChange']) keys.delete(skip);
  return [...keys].filter((k) => JSON.stringify(a.get(k)) !== JSON.stringify(b.get(k))).sort();
}

function compact(object: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function uniqueBy<T>(values: T[], key: (v: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const v of values) if (!seen.has(key(v))) seen.set(key(v), v);
  return [...seen.values()];
}

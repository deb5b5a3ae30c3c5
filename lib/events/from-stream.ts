/**
 * Pure: one DynamoDB stream change (images already unmarshalled) → the audit events it stands for.
 * The item change is the event (docs/architecture.md): no handler writes an event of its own. Exactly one event per state change:
 *
 * | item        | change                                              | event                         |
 * |-------------|-----------------------------------------------------|-------------------------------|
 * | request     | INSERT (any status, auto-approved included)         | request.created               |
 * | request     | MODIFY, status changed                              | the new status's event        |
 * | request     | MODIFY, same status, more votes                     | request.approval_recorded     |
 * | request     | MODIFY, ACTIVE, later expiresAt or more extensions  | grant.extended                |
 * | request     | MODIFY, PENDING, higher escalation tier             | request.escalated             |
 * | request     | MODIFY, PENDING, more onCallNotified                | request.oncall_changed        |
 * | request     | MODIFY, ACTIVE, new remindedAt (expiry reminder)    | grant.expiring                |
 * | request     | any other MODIFY (token, attempt, grants…)          | none                          |
 * | flow/integration/bundle | INSERT, or MODIFY deleted true → false  | *.created                     |
 * | flow/integration/bundle | MODIFY deleted false → true             | *.deleted                     |
 * | flow/integration/bundle | other MODIFY of a live item (new version)| *.updated                    |
 * | lease, approver-pointer | anything                                | none                          |
 * | slack-posts, slack-sent, slack-replay, jira-replay | anything     | none                          |
 * | teams-copy, teams-notice               | anything                 | none                          |
 * | directory-user/-group | INSERT, or MODIFY to a new version that changes what the item says | directory.user.changed / directory.group.changed (change: created, updated or deleted; SCIM and admin routes alike, `actor.channel` says which) |
 * | directory-user/-group | MODIFY of a deleted item, or a new version saying the same (a no-op replace) | none |
 * | directory-member/-pointer | anything (secondary items; the group's own write carries the member change) | none |
 * | any         | REMOVE (TTL expiry)                                 | none                          |
 *
 * An image that does not parse throws StreamRecordError: the publisher reports the record as failed rather than
 * silently dropping an audit event.
 */
import * as z from 'zod';
import {
  type Actor,
  type EventType,
  type RequestEventType,
  type RequestView,
  SCHEMA_VERSION,
  StintEvent,
  severityOf,
  type VotedSet,
} from '#events/schemas.ts';
import { DirectoryGroup, DirectoryUser } from '#lib/directory/types.ts';
import { type AccessUnit, Bundle } from '#lib/domain/bundle.ts';
import type { ChangeRecord } from '#lib/domain/common.ts';
import { approverSets } from '#lib/domain/escalation.ts';
import { AccessFlow } from '#lib/domain/flow.ts';
import { Integration } from '#lib/domain/integration.ts';
import { AccessRequest, type RequestStatus, type Vote } from '#lib/domain/request.ts';
import { type Entity, KEY_ATTRIBUTES } from '#lib/store/table.ts';
import { isSilentEntity } from './stream-filter.ts';

export type Image = Record<string, unknown>;

export type StreamChange = {
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  oldImage?: Image;
  newImage?: Image;
};

/** A stream record that cannot be turned into events (missing or malformed image, unknown entity). */
export class StreamRecordError extends Error {
  override readonly name = 'StreamRecordError';
}

const ENTITIES = [
  'request',
  'flow',
  'bundle',
  'integration',
  'lease',
  'approver-pointer',
  'slack-posts',
  'slack-sent',
  'slack-replay',
  'teams-copy',
  'teams-notice',
  'jira-replay',
  'directory-user',
  'directory-group',
  'directory-member',
  'directory-pointer',
] as const satisfies Entity[];
const EntityOf = z.object({ entity: z.enum(ENTITIES) });

/** The event for a request's new status (PENDING only exists at creation). */
const STATUS_EVENT: Record<Exclude<RequestStatus, 'PENDING'>, RequestEventType> = {
  APPROVED: 'request.approved',
  REJECTED: 'request.rejected',
  CANCELLED: 'request.cancelled',
  TIMED_OUT: 'request.timed_out',
  GRANTING: 'grant.started',
  ACTIVE: 'grant.active',
  FAILED: 'grant.failed',
  REVOKING: 'grant.revoking',
  REVOKED: 'grant.revoked',
  EXPIRED: 'grant.expired',
  REVOKE_FAILED: 'grant.revoke_failed',
};

export function eventsFromChange(change: StreamChange): StintEvent[] {
  if (change.eventName === 'REMOVE') return [];
  const newImage = change.newImage;
  if (newImage === undefined) throw new StreamRecordError(`${change.eventName} record without a new image`);
  const entity = EntityOf.safeParse(newImage);
  if (!entity.success) throw new StreamRecordError(`item without a known entity: ${describe(entity.error)}`);
  const kind = entity.data.entity;
  // The publisher's stream filter drops these before they reach it (lib/events/stream-filter.ts).
  if (isSilentEntity(kind)) return [];
  switch (kind) {
    case 'request':
      return requestEvents(change);
    case 'flow':
      return configEvents('flow', AccessFlow, change);
    case 'integration':
      return configEvents('integration', Integration, change);
    case 'bundle':
      return configEvents('bundle', Bundle, change);
    case 'directory-user':
      return directoryEvents('directory.user.changed', DirectoryUserImage, change);
    case 'directory-group':
      return directoryEvents('directory.group.changed', DirectoryGroupImage, change);
  }
}

const DirectoryUserImage = DirectoryUser.extend({ deleted: z.boolean().optional() });
const DirectoryGroupImage = DirectoryGroup.omit({ members: true }).extend({
  deleted: z.boolean().optional(),
  /** Written by DirectoryStore with every group write; absent on items written before it existed. */
  memberChange: z
    .object({
      added: z.array(z.string()),
      removed: z.array(z.string()),
      addedCount: z.number().int().min(0),
      removedCount: z.number().int().min(0),
    })
    .optional(),
});

type DirectoryImage = { id: string; version: number; lastChange: ChangeRecord; deleted?: boolean | undefined };

function directoryEvents<T extends DirectoryImage>(
  type: 'directory.user.changed' | 'directory.group.changed',
  schema: z.ZodType<T>,
  change: StreamChange,
): StintEvent[] {
  const what = type === 'directory.user.changed' ? 'directory user' : 'directory group';
  const after = parse(schema, change.newImage, `new image of a ${what}`);
  const before =
    change.eventName === 'INSERT' ? undefined : parse(schema, requiredOld(change), `old image of a ${what}`);
  if (before !== undefined && before.version === after.version) return [];
  const wasLive = before !== undefined && before.deleted !== true;
  const isLive = after.deleted !== true;
  if (!wasLive && !isLive) return [];
  const kind = !wasLive ? 'created' : isLive ? 'updated' : 'deleted';
  const view = (image: T) => (type === 'directory.user.changed' ? directoryUserView(image) : directoryGroupView(image));
  const members = type === 'directory.group.changed' ? memberChangeOf(after) : undefined;
  const same = kind === 'updated' && before !== undefined && sameView(view(before), view(after));
  if (same && (members === undefined || members.addedCount + members.removedCount === 0)) return [];
  return [
    build({
      ...envelope(
        type === 'directory.user.changed' ? 'directory-user' : 'directory-group',
        after.id,
        after.version,
        type,
        after.lastChange,
        false,
      ),
      change: kind,
      action: after.lastChange.action,
      ...(kind === 'created' || before === undefined ? {} : { before: view(before) }),
      after: view(after),
      ...(members === undefined ? {} : { members }),
    }),
  ];
}

/** Fields picked one by one (as viewOf does for requests): keys and bookkeeping never reach the event. */
function directoryUserView(image: object): Record<string, unknown> {
  const u = DirectoryUserImage.parse(image);
  return compact({
    id: u.id,
    userName: u.userName,
    emails: u.emails,
    displayName: u.displayName,
    manager: u.manager,
    active: u.active,
    externalId: u.externalId,
    accounts: u.accounts,
    version: u.version,
    deleted: u.deleted,
  });
}

function directoryGroupView(image: object): Record<string, unknown> {
  const g = DirectoryGroupImage.parse(image);
  return compact({
    id: g.id,
    displayName: g.displayName,
    externalId: g.externalId,
    version: g.version,
    deleted: g.deleted,
  });
}

function memberChangeOf(image: object) {
  const g = DirectoryGroupImage.parse(image);
  return g.memberChange ?? { added: [], removed: [], addedCount: 0, removedCount: 0 };
}

function sameView(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const { version: _a, ...restA } = a;
  const { version: _b, ...restB } = b;
  return JSON.stringify(restA) === JSON.stringify(restB);
}

function compact(object: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));
}

function requestEvents(change: StreamChange): StintEvent[] {
  const after = parse(AccessRequest, change.newImage, 'new image of a request');
  if (change.eventName === 'INSERT') return [requestEvent('request.created', after, {})];

  const before = parse(AccessRequest, requiredOld(change), 'old image of a request');
  if (before.version === after.version) return [];
  if (before.status !== after.status) {
    if (after.status === 'PENDING')
      throw new StreamRecordError(`request ${after.id}: unexpected status change ${before.status} → PENDING`);
    return [requestEvent(STATUS_EVENT[after.status], after, { previousStatus: before.status })];
  }
  if (after.votes.length > before.votes.length) {
    const vote = after.votes.at(-1);
    return [
      requestEvent('request.approval_recorded', after, {
        previousStatus: before.status,
        vote,
        approverSets: vote === undefined ? [] : votedSets(after, vote),
      }),
    ];
  }
  const later = (a?: string, b?: string) => a !== undefined && (b === undefined || Date.parse(a) > Date.parse(b));
  if (
    after.status === 'ACTIVE' &&
    (later(after.expiresAt, before.expiresAt) || after.extensions.length > before.extensions.length)
  ) {
    return [
      requestEvent('grant.extended', after, {
        previousStatus: before.status,
        ...(before.expiresAt === undefined ? {} : { previousExpiresAt: before.expiresAt }),
        ...(after.extensions.length > before.extensions.length ? { extension: after.extensions.at(-1) } : {}),
      }),
    ];
  }
  const notifiedBefore = before.onCallNotified?.length ?? 0;
  if (after.status === 'PENDING' && (after.onCallNotified?.length ?? 0) > notifiedBefore) {
    return [
      requestEvent('request.oncall_changed', after, {
        previousStatus: before.status,
        newlyOnCall: (after.onCallNotified ?? [])
          .slice(notifiedBefore)
          .map(({ set, provider, email, end }) => ({ set, provider, email, end })),
      }),
    ];
  }
  const tierBefore = before.escalation?.tier ?? 0;
  if (after.status === 'PENDING' && after.escalation !== undefined && after.escalation.tier > tierBefore) {
    return [
      requestEvent('request.escalated', after, {
        previousStatus: before.status,
        tier: after.escalation.tier,
        previousTier: tierBefore,
      }),
    ];
  }
  if (after.status === 'ACTIVE' && later(after.remindedAt, before.remindedAt)) {
    return [requestEvent('grant.expiring', after, { previousStatus: before.status })];
  }
  return [];
}

function requestEvent(type: RequestEventType, request: AccessRequest, extra: Record<string, unknown>): StintEvent {
  return build({
    ...envelope('request', request.id, request.version, type, request.lastChange, request.flow.breakGlass),
    request: viewOf(request),
    ...extra,
  });
}

/** The approver sets of the pinned flow that `vote` relied on, and how the voter belongs to each. */
function votedSets(request: AccessRequest, vote: Vote): VotedSet[] {
  const policy = request.flow.approval;
  if (policy.mode !== 'manual') return [];
  const all = approverSets(policy);
  return vote.sets.flatMap((index) => {
    const entry = all[index];
    if (entry === undefined) return [];
    const { set, tier } = entry;
    const ownerOf =
      set.owners === true ? (vote.ownerOf ?? []).flatMap((u) => request.units[u] ?? []) : ([] as AccessUnit[]);
    const shift = vote.oncall?.find((o) => o.set === index);
    const oncall = shift === undefined ? undefined : (({ set: _s, ...rest }) => rest)(shift);
    const as: VotedSet['as'] = [
      ...(set.users.includes(vote.by) ? (['user'] as const) : []),
      ...(set.manager === true && request.requester.manager === vote.by ? (['manager'] as const) : []),
      ...(ownerOf.length > 0 ? (['owner'] as const) : []),
      ...(oncall !== undefined ? (['oncall'] as const) : []),
    ];
    return [
      {
        index,
        tier,
        ...(set.name === undefined ? {} : { name: set.name }),
        as: as.length === 0 ? ['group'] : as,
        ...(ownerOf.length === 0 ? {} : { ownerOf }),
        ...(oncall === undefined ? {} : { oncall }),
      },
    ];
  });
}

/** The sanitized view: fields are picked one by one, so tokens, grants and keys can never slip through. */
export function viewOf(r: AccessRequest): RequestView {
  return {
    id: r.id,
    version: r.version,
    status: r.status,
    requester: r.requester,
    grantee: r.grantee,
    flowId: r.flowId,
    flowVersion: r.flowVersion,
    labels: r.flow.labels,
    breakGlass: r.flow.breakGlass,
    bundle: r.bundle,
    units: r.units,
    justification: r.justification,
    durationMinutes: r.durationMinutes,
    onCall: r.onCall,
    votes: r.votes,
    decision: r.decision,
    createdAt: r.createdAt,
    approvalDeadline: r.approvalDeadline,
    grantedAt: r.grantedAt,
    expiresAt: r.expiresAt,
    revokedAt: r.revokedAt,
    endReason: r.endReason,
    extensions: r.extensions,
    failureReason: r.failureReason,
  };
}

type ConfigItem = { id: string; version: number; lastChange: ChangeRecord; deleted?: boolean | undefined };

function configEvents<T extends ConfigItem>(
  kind: 'flow' | 'integration' | 'bundle',
  schema: z.ZodType<T>,
  change: StreamChange,
): StintEvent[] {
  const after = parse(schema, change.newImage, `new image of a ${kind}`);
  const base = (type: EventType) => envelope(kind, after.id, after.version, type, after.lastChange, false);
  if (change.eventName === 'INSERT') return [build({ ...base(`${kind}.created`), after })];

  const before = parse(schema, requiredOld(change), `old image of a ${kind}`);
  if (before.version === after.version) return [];
  const wasDeleted = before.deleted === true;
  const isDeleted = after.deleted === true;
  if (!wasDeleted && isDeleted) return [build({ ...base(`${kind}.deleted`), before, after })];
  if (wasDeleted && !isDeleted) return [build({ ...base(`${kind}.created`), after })];
  if (isDeleted) return [];
  return [build({ ...base(`${kind}.updated`), before, after })];
}

function envelope(
  kind: string,
  entityId: string,
  version: number,
  type: EventType,
  lastChange: ChangeRecord,
  breakGlass: boolean,
) {
  const actor: Actor = { sub: lastChange.by, channel: lastChange.channel, reason: lastChange.reason };
  return {
    id: `${kind}:${entityId}:${version}`,
    type,
    schemaVersion: SCHEMA_VERSION,
    time: lastChange.at,
    severity: severityOf(type, breakGlass),
    actor,
  };
}

/** Validate the outgoing event against its (strict) schema: a field that should not be there fails here. */
function build(candidate: Record<string, unknown>): StintEvent {
  const result = StintEvent.safeParse(candidate);
  if (!result.success) {
    throw new StreamRecordError(`event ${String(candidate.id)} does not match its schema: ${describe(result.error)}`);
  }
  return result.data;
}

function requiredOld(change: StreamChange): Image {
  if (change.oldImage === undefined)
    throw new StreamRecordError('MODIFY record without an old image (the stream must be NEW_AND_OLD_IMAGES)');
  return change.oldImage;
}

/** Parse an item's domain fields (key attributes and `entity` are the store's, not the domain's). */
function parse<T>(schema: z.ZodType<T>, image: Image | undefined, what: string): T {
  const domain = image === undefined ? undefined : withoutKeys(image);
  const result = schema.safeParse(domain);
  if (!result.success) throw new StreamRecordError(`unreadable ${what}: ${describe(result.error)}`);
  return result.data;
}

function withoutKeys(image: Image): Image {
  const keys: ReadonlySet<string> = new Set(KEY_ATTRIBUTES);
  return Object.fromEntries(Object.entries(image).filter(([key]) => !keys.has(key)));
}

/** Paths and messages only: never the values (they may hold personal data). */
function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * Realistic stored items (as the stream delivers them: domain fields + `entity` + key attributes, tokens and
 * sealed secrets included) and one stream change per event type. The sample events in events/samples are these
 * changes run through `eventsFromChange`, so a sample is exactly what the publisher would send.
 * Used by scripts/generate-events.ts and the tests.
 */
import * as z from 'zod';
import {
  EVENT_SCHEMAS,
  EVENT_TYPES,
  type EventType,
  type StintEvent,
  SWEEP_EVENT_TYPES,
  type SweepEventType,
} from '#events/schemas.ts';
import type { Bundle } from '#lib/domain/bundle.ts';
import type { ChangeRecord } from '#lib/domain/common.ts';
import type { AccessFlow } from '#lib/domain/flow.ts';
import type { Identity } from '#lib/domain/identity.ts';
import type { Integration } from '#lib/domain/integration.ts';
import type { AccessRequest, UnitGrant, Vote } from '#lib/domain/request.ts';
import { eventsFromChange, type Image, type StreamChange } from './from-stream.ts';
import { driftDetectedEvent, orphanRevokedEvent } from './sweep-events.ts';

/** Event types the publisher reads from the stream (the sweep's findings are published by the sweep). */
export type StreamEventType = Exclude<EventType, SweepEventType>;
const SWEEP: ReadonlySet<string> = new Set(SWEEP_EVENT_TYPES);
export const STREAM_EVENT_TYPES = EVENT_TYPES.filter((t): t is StreamEventType => !SWEEP.has(t));

export const REQUEST_ID = '01JQ8Z3K7M2X4V6B8N0P2R4T6W';
export const APPROVAL_TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAapprovalTaskTokenDoNotLeak';
export const ACTIVE_TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAactiveTaskTokenDoNotLeak';
export const SEALED_SECRET = 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..sealedSecretDoNotLeak.ciphertext.tag';

export const alice: Identity = { sub: 'alice', email: 'alice@example.com', groups: ['engineering'] };
const bob = { by: 'bob', email: 'bob@example.com' };
const carol = { by: 'carol', email: 'carol@example.com' };

const at = (minutes: number) => new Date(Date.UTC(2026, 2, 3, 9, 0) + minutes * 60_000).toISOString();
const change = (
  by: string,
  channel: ChangeRecord['channel'],
  action: string,
  minutes: number,
  reason?: string,
): ChangeRecord => ({ by, channel, action, at: at(minutes), ...(reason === undefined ? {} : { reason }) });
const system = (action: string, minutes: number, reason?: string) =>
  change('stint:system', 'workflow', action, minutes, reason);

export function flow(overrides: Partial<AccessFlow> = {}): AccessFlow {
  return {
    id: 'prod-db-admin',
    name: 'Production database admin',
    description: 'Read-write access to the payments database, approved by two DBAs',
    requestors: { everyone: false, users: [], groups: ['engineering'] },
    targets: [{ integrationId: 'pg-prod', resource: 'payments', permission: 'readwrite' }],
    bundles: [],
    approval: {
      mode: 'manual',
      sets: [{ name: 'DBAs', users: [], groups: ['dba'] }],
      rule: { type: 'quorum', count: 2 },
      timeoutMinutes: 60,
      reasonRequired: false,
    },
    defaultMinutes: 60,
    maxMinutes: 120,
    justificationRequired: true,
    maxExtensions: 2,
    breakGlass: false,
    labels: { env: 'prod', team: 'payments' },
    version: 3,
    lastChange: change('dana', 'admin', 'update', -10_000),
    ...overrides,
  };
}

export function integration(overrides: Partial<Integration> = {}): Integration {
  return {
    id: 'pg-prod',
    name: 'Payments PostgreSQL (production)',
    type: 'postgresql',
    config: { host: 'payments.cluster-abc.eu-west-1.rds.amazonaws.com', port: 5432, database: 'postgres' },
    secretRef: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/pg-prod-AbCdEf',
    resources: [
      {
        id: 'payments',
        owners: ['erin'],
        permissions: [
          { id: 'readonly', grants: ['payments_read'] },
          { id: 'readwrite', description: 'DML on every table', grants: ['payments_read', 'payments_write'] },
        ],
      },
    ],
    version: 1,
    lastChange: change('dana', 'admin', 'create', -20_000),
    ...overrides,
  };
}

export function bundle(overrides: Partial<Bundle> = {}): Bundle {
  return {
    id: 'payments-oncall',
    name: 'Payments on-call',
    description: 'What the payments on-call engineer needs during an incident',
    units: [
      { integrationId: 'pg-prod', resource: 'payments', permission: 'readonly' },
      { integrationId: 'pg-prod', resource: 'payments', permission: 'readwrite' },
    ],
    version: 1,
    lastChange: change('dana', 'admin', 'create', -15_000),
    ...overrides,
  };
}

const approveByBob: Vote = {
  ...bob,
  vote: 'approve',
  reason: 'Matches INC-4711',
  channel: 'slack',
  at: at(4),
  sets: [0],
};
const approveByCarol: Vote = { ...carol, vote: 'approve', channel: 'api', at: at(6), sets: [0] };
const unit = { integrationId: 'pg-prod', resource: 'payments', permission: 'readwrite' };
const liveGrant: UnitGrant = {
  unit,
  state: { role: 'stint_01jq8z3k7m' },
  access: { host: 'payments.cluster-abc.eu-west-1.rds.amazonaws.com', port: 5432, database: 'payments' },
  sealedSecret: SEALED_SECRET,
};

/** A request at every stage of its life; each stage is the previous one plus one write (version + 1). */
export function requestStages() {
  const pending: AccessRequest = {
    id: REQUEST_ID,
    tickets: {},
    requester: alice,
    grantee: alice,
    flowId: 'prod-db-admin',
    flowVersion: 3,
    flow: flow(),
    units: [unit],
    justification: 'INC-4711: fix stuck payouts in the settlement table',
    durationMinutes: 60,
    status: 'PENDING',
    votes: [],
    createdAt: at(0),
    approvalDeadline: at(60),
    extensions: [],
    grants: [],
    attempt: 0,
    lastChange: change('alice', 'api', 'create', 0, 'INC-4711: fix stuck payouts in the settlement table'),
    version: 1,
  };
  const awaiting = { ...pending, approvalToken: APPROVAL_TOKEN, version: 2, lastChange: system('await-approval', 0) };
  const voted = {
    ...awaiting,
    votes: [approveByBob],
    version: 3,
    lastChange: change('bob', 'slack', 'approve', 4, 'Matches INC-4711'),
  };
  const approved: AccessRequest = {
    ...voted,
    status: 'APPROVED',
    votes: [approveByBob, approveByCarol],
    decision: { outcome: 'approved', by: 'carol', channel: 'api', at: at(6) },
    version: 4,
    lastChange: change('carol', 'api', 'approve', 6),
  };
  const granting: AccessRequest = { ...approved, status: 'GRANTING', version: 5, lastChange: system('grant', 6) };
  const active: AccessRequest = {
    ...granting,
    status: 'ACTIVE',
    grantedAt: at(7),
    expiresAt: at(67),
    grants: [liveGrant],
    activeToken: ACTIVE_TOKEN,
    version: 6,
    lastChange: system('activate', 7),
  };
  const extended: AccessRequest = {
    ...active,
    expiresAt: at(97),
    extensions: [{ by: 'alice', minutes: 30, channel: 'cli', reason: 'Migration still running', at: at(50) }],
    version: 7,
    lastChange: change('alice', 'cli', 'extend', 50, 'Migration still running'),
  };
  const escalationFlow = flow({
    approval: {
      mode: 'manual',
      sets: [{ name: 'DBAs', users: [], groups: ['dba'] }],
      rule: { type: 'quorum', count: 2 },
      timeoutMinutes: 60,
      reasonRequired: false,
      escalation: { everyMinutes: 20, tiers: [{ name: 'DBA leads', users: ['erin'], groups: [] }] },
    },
  });
  const awaitingEscalation: AccessRequest = { ...awaiting, flow: escalationFlow };
  const escalated: AccessRequest = {
    ...awaitingEscalation,
    escalation: { tier: 1, notifiedAt: at(20) },
    version: 3,
    lastChange: change('stint:system', 'reconciler', 'escalate', 20),
  };
  const onCallFlow = flow({
    approval: {
      mode: 'manual',
      sets: [
        { name: 'Primary on-call', users: [], groups: [], oncall: { provider: 'pagerduty', schedule: 'PABC123' } },
      ],
      rule: { type: 'anyOf' },
      timeoutMinutes: 60,
      reasonRequired: false,
    },
  });
  const awaitingOnCall: AccessRequest = {
    ...awaiting,
    flow: onCallFlow,
    onCallNotified: [{ set: 0, provider: 'pagerduty', email: 'olga@example.com', end: at(30), at: at(1) }],
  };
  const onCallChanged: AccessRequest = {
    ...awaitingOnCall,
    onCallNotified: [
      ...(awaitingOnCall.onCallNotified ?? []),
      { set: 0, provider: 'pagerduty', email: 'nina@example.com', end: at(510), at: at(30) },
    ],
    version: 3,
    lastChange: change('stint:system', 'reconciler', 'oncall-change', 30),
  };
  const reminded: AccessRequest = {
    ...extended,
    remindedAt: at(88),
    version: 8,
    lastChange: change('stint:system', 'reconciler', 'remind-expiry', 88),
  };
  const revoking: AccessRequest = {
    ...extended,
    status: 'REVOKING',
    endReason: 'revoked',
    version: 8,
    lastChange: change('bob', 'api', 'revoke', 70, 'Incident closed'),
  };
  const revoked: AccessRequest = {
    ...revoking,
    status: 'REVOKED',
    revokedAt: at(71),
    grants: [{ unit, state: { role: 'stint_01jq8z3k7m' } }],
    version: 9,
    lastChange: system('revoked', 71),
  };
  const expiring: AccessRequest = {
    ...extended,
    status: 'REVOKING',
    endReason: 'expired',
    version: 8,
    lastChange: system('expire', 97),
  };
  const expired: AccessRequest = {
    ...expiring,
    status: 'EXPIRED',
    revokedAt: at(97),
    grants: [{ unit, state: { role: 'stint_01jq8z3k7m' } }],
    version: 9,
    lastChange: system('revoked', 97),
  };
  const revokeFailed: AccessRequest = {
    ...expiring,
    status: 'REVOKE_FAILED',
    failureReason: 'PostgreSQL refused the connection after 12 attempts (ECONNREFUSED)',
    version: 9,
    lastChange: system('revoke-failed', 400),
  };
  const grantFailed: AccessRequest = {
    ...granting,
    status: 'FAILED',
    failureReason: 'role "payments_write" does not exist',
    version: 6,
    lastChange: system('grant-failed', 7),
  };
  const rejected: AccessRequest = {
    ...voted,
    status: 'REJECTED',
    votes: [
      approveByBob,
      { ...carol, vote: 'reject', reason: 'Use the runbook', channel: 'api', at: at(5), sets: [0] },
    ],
    decision: { outcome: 'rejected', by: 'carol', channel: 'api', at: at(5), reason: 'Use the runbook' },
    version: 4,
    lastChange: change('carol', 'api', 'reject', 5, 'Use the runbook'),
  };
  const cancelled: AccessRequest = {
    ...awaiting,
    status: 'CANCELLED',
    version: 3,
    lastChange: change('alice', 'api', 'cancel', 3, 'Fixed without access'),
  };
  const timedOut: AccessRequest = {
    ...awaiting,
    status: 'TIMED_OUT',
    version: 3,
    lastChange: system('time-out', 60),
  };
  return {
    pending,
    awaiting,
    voted,
    approved,
    granting,
    active,
    extended,
    awaitingEscalation,
    awaitingOnCall,
    onCallChanged,
    escalated,
    reminded,
    revoking,
    revoked,
    expiring,
    expired,
    revokeFailed,
    grantFailed,
    rejected,
    cancelled,
    timedOut,
  };
}

/** Stored form: what DynamoDB holds and the stream carries (key attributes, `entity`). */
export function requestItem(r: AccessRequest): Image {
  return {
    ...r,
    entity: 'request',
    pk: `REQ#${r.id}`,
    sk: 'REQ',
    gsi1pk: `USER#${r.requester.sub}`,
    gsi1sk: `REQ#${r.createdAt}#${r.id}`,
    gsi2pk: `STATUS#${r.status}`,
    gsi2sk: r.expiresAt ?? r.approvalDeadline ?? r.createdAt,
  };
}

export function configItem<T extends { id: string }>(kind: 'flow' | 'integration' | 'bundle', item: T): Image {
  return { ...item, entity: kind, pk: `${kind.toUpperCase()}#${item.id}`, sk: kind.toUpperCase(), gsi1pk: kind };
}

export const insert = (newImage: Image): StreamChange => ({ eventName: 'INSERT', newImage });
export const modify = (oldImage: Image, newImage: Image): StreamChange => ({ eventName: 'MODIFY', oldImage, newImage });

/** One stream change per event type read from the stream, each yielding exactly that event. */
export function sampleChanges(): Record<StreamEventType, StreamChange> {
  const s = requestStages();
  const r = (from: AccessRequest, to: AccessRequest) => modify(requestItem(from), requestItem(to));
  const admin = <T extends { id: string; version: number; lastChange: ChangeRecord; deleted?: boolean }>(
    kind: 'flow' | 'integration' | 'bundle',
    created: T,
    updated: T,
  ) => {
    const deleted: T = {
      ...updated,
      deleted: true,
      version: updated.version + 1,
      lastChange: change('dana', 'admin', 'delete', 30_000, 'Replaced by a new configuration'),
    };
    return {
      [`${kind}.created`]: insert(configItem(kind, created)),
      [`${kind}.updated`]: modify(configItem(kind, created), configItem(kind, updated)),
      [`${kind}.deleted`]: modify(configItem(kind, updated), configItem(kind, deleted)),
    };
  };
  const flowV1 = flow({ version: 1, maxMinutes: 60, lastChange: change('dana', 'admin', 'create', -20_000) });
  const integrationV2 = integration({
    version: 2,
    config: { ...integration().config, sslmode: 'verify-full' },
    lastChange: change('dana', 'admin', 'update', -12_000, 'Enforce TLS'),
  });
  const bundleV2 = bundle({
    version: 2,
    units: bundle().units.slice(0, 1),
    lastChange: change('dana', 'admin', 'update', -11_000, 'On-call is read-only now'),
  });
  const userV1 = {
    id: '00u1a2b3c4d5e6f7g8h9',
    userName: 'bob@example.com',
    emails: ['bob@example.com'],
    displayName: 'Bob Example',
    manager: 'alice',
    active: true,
    externalId: '00u1a2b3c4d5e6f7g8h9',
    accounts: [],
    version: 1,
    lastChange: change('scim', 'scim', 'create', -30_000),
  };
  const userV2 = {
    ...userV1,
    accounts: [{ kind: 'teams', aadObjectId: '0b6d1f7e-2222-4a2b-9c3d-5e6f7a8b9c0d' }],
    version: 2,
    lastChange: change('dana', 'api', 'link-accounts', -29_000),
  };
  const groupV1 = {
    id: '01JQ8Z0GROUPDBA000000000000',
    displayName: 'dba',
    version: 1,
    lastChange: change('dana', 'api', 'create', -28_000),
    memberChange: { added: ['alice'], removed: [], addedCount: 1, removedCount: 0 },
  };
  const groupV2 = {
    ...groupV1,
    version: 2,
    lastChange: change('dana', 'api', 'update', -27_000),
    memberChange: { added: ['00u1a2b3c4d5e6f7g8h9'], removed: [], addedCount: 1, removedCount: 0 },
  };
  const directoryItem = (kind: 'user' | 'group', item: { id: string }): Image => ({
    ...item,
    entity: `directory-${kind}`,
    pk: `D${kind.toUpperCase()}#${item.id}`,
    sk: kind.toUpperCase(),
    gsi1pk: `D${kind.toUpperCase()}S`,
    gsi1sk: item.id,
  });
  const changes: Record<string, StreamChange> = {
    'request.created': insert(requestItem(s.pending)),
    'request.approval_recorded': r(s.awaiting, s.voted),
    'request.approved': r(s.voted, s.approved),
    'request.rejected': r(s.voted, s.rejected),
    'request.cancelled': r(s.awaiting, s.cancelled),
    'request.timed_out': r(s.awaiting, s.timedOut),
    'grant.started': r(s.approved, s.granting),
    'grant.active': r(s.granting, s.active),
    'grant.failed': r(s.granting, s.grantFailed),
    'grant.extended': r(s.active, s.extended),
    'request.escalated': r(s.awaitingEscalation, s.escalated),
    'request.oncall_changed': r(s.awaitingOnCall, s.onCallChanged),
    'grant.expiring': r(s.extended, s.reminded),
    'grant.revoking': r(s.extended, s.revoking),
    'grant.revoked': r(s.revoking, s.revoked),
    'grant.expired': r(s.expiring, s.expired),
    'grant.revoke_failed': r(s.expiring, s.revokeFailed),
    ...admin('flow', flowV1, flow({ version: 2, lastChange: change('dana', 'admin', 'update', -10_000) })),
    ...admin('integration', integration(), integrationV2),
    ...admin('bundle', bundle(), bundleV2),
    'directory.user.changed': modify(directoryItem('user', userV1), directoryItem('user', userV2)),
    'directory.group.changed': modify(directoryItem('group', groupV1), directoryItem('group', groupV2)),
  };
  return Object.fromEntries(STREAM_EVENT_TYPES.map((type) => [type, required(changes[type], type)])) as Record<
    StreamEventType,
    StreamChange
  >;
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new Error(`no sample change for ${name}`);
  return value;
}

/** The sample event of each type, validated by its own schema. */
export function buildSamples(): Record<EventType, StintEvent> {
  const changes = sampleChanges();
  const sweepAt = new Date(at(45));
  const integration = { id: 'pg-prod', type: 'postgresql' as const };
  const principal = 'stint_01jq8z3k7m2x4v6b8n0p2r4t6w_5c0ffee1';
  const sweep: Record<SweepEventType, StintEvent> = {
    'grant.orphan_revoked': orphanRevokedEvent({
      integration,
      principal,
      requestId: REQUEST_ID,
      requestStatus: 'REVOKED',
      at: sweepAt,
    }),
    'grant.drift_detected': driftDetectedEvent({
      integration,
      request: requestStages().extended,
      unit: { integrationId: 'pg-prod', resource: 'payments', permission: 'readwrite' },
      principal,
      at: sweepAt,
    }),
  };
  const samples = EVENT_TYPES.map((type) => {
    if (type === 'grant.orphan_revoked' || type === 'grant.drift_detected')
      return [type, EVENT_SCHEMAS[type].parse(sweep[type])] as const;
    const events = eventsFromChange(changes[type]);
    const [event] = events;
    if (events.length !== 1 || event === undefined || event.type !== type) {
      throw new Error(`the sample change for ${type} yields ${events.map((e) => e.type).join(', ') || 'no event'}`);
    }
    return [type, EVENT_SCHEMAS[type].parse(event)] as const;
  });
  return Object.fromEntries(samples) as Record<EventType, StintEvent>;
}

/** Every generated file, path (relative to the repository root) → content. */
export function generatedFiles(): Map<string, string> {
  const samples = buildSamples();
  const files = new Map<string, string>();
  for (const type of EVENT_TYPES) {
    const schema = { ...z.toJSONSchema(EVENT_SCHEMAS[type]), $id: `urn:stint:event:${type}` };
    files.set(`events/schema/${type}.json`, `${JSON.stringify(schema, null, 2)}\n`);
    files.set(`events/samples/${type}.json`, `${JSON.stringify(samples[type], null, 2)}\n`);
  }
  return files;
}

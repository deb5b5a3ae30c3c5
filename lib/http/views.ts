import * as z from 'zod';
import { approverStanding, type OnCallAnswer, type OnCallAnswers } from '#lib/domain/approvals.ts';
import { sameUnit } from '#lib/domain/bundle.ts';
import { Channel, IsoDateTime } from '#lib/domain/common.ts';
import { approverSets, reachedTier } from '#lib/domain/escalation.ts';
import { AccessFlow, ApproverSet, type OnCallRef } from '#lib/domain/flow.ts';
import { Identity } from '#lib/domain/identity.ts';
import { IntegrationType } from '#lib/domain/integration.ts';
import { AccessRequest, PendingWork } from '#lib/domain/request.ts';
import { CAPABILITIES } from '#lib/integrations/capabilities.ts';
import { isDriverType } from '#lib/workflow/contract.ts';

/** One unit as requesters and approvers see it: what it is, what its driver promises, how far the target got. */
const UnitView = z.looseObject({
  integrationId: z.string(),
  resource: z.string(),
  permission: z.string(),
  type: IntegrationType.optional(),
  /** What revoke can promise for this unit (lib/integrations/capabilities.ts). */
  endsLiveSessions: z.boolean().optional(),
  /** How long a session opened before revoke may keep working after it. */
  residualSessionSeconds: z.number().optional(),
  /** The target ends the access on time by itself, even if Stint is down. */
  targetEnforcesExpiry: z.boolean().optional(),
  /** Target work in progress (e.g. "assignment IN_PROGRESS"). */
  progress: PendingWork.pick({ action: true, reason: true, since: true }).optional(),
});

/** One step of a request's history, for a timeline: what happened, when, by whom, through which channel and why. */
export const TimelineEntry = z.object({
  kind: z.enum([
    'created',
    'escalated',
    'vote',
    'approved',
    'auto-approved',
    'rejected',
    'cancelled',
    'timed-out',
    'granted',
    'extended',
    'revoke-requested',
    'revoked',
    'expired',
    'failed',
    'revoke-failed',
  ]),
  at: IsoDateTime,
  /** The subject who did it; absent when Stint itself did (the workflow, the clock) or it was not recorded. */
  by: z.string().optional(),
  channel: Channel.optional(),
  reason: z.string().optional(),
  /** `vote` only. */
  vote: z.enum(['approve', 'reject']).optional(),
  /** `extended` only: by how many minutes. */
  minutes: z.number().int().positive().optional(),
  /** `escalated` only: the tier reached. */
  tier: z.number().int().min(1).optional(),
});
export type TimelineEntry = z.infer<typeof TimelineEntry>;

/** One approver set of the pinned flow, with the escalation tier it belongs to (0: the policy's own sets). */
const ApproverSetView = z.object({
  /** Index votes record (`votes[].sets`). */
  index: z.number().int().min(0),
  tier: z.number().int().min(0),
  name: z.string().optional(),
  users: z.array(z.string()),
  groups: z.array(z.string()),
  manager: z.boolean(),
  /** The owners of the requested resources approve their part (`unitOwners` on the request says who they are). */
  owners: z.boolean(),
  /**
   * Whoever is on call here approves (matched by email at the moment of the vote). `unavailable`: the provider could
   * not be asked just now (down, refused, not configured), so this set admits nobody until it answers again.
   */
  oncall: z
    .object({
      provider: z.string(),
      schedule: z.string().optional(),
      escalationPolicy: z.string().optional(),
      level: z.number().int().optional(),
      unavailable: z.string().optional(),
    })
    .optional(),
  /** Its members may vote now (its tier has been reached). */
  open: z.boolean(),
});

/**
 * The approval as the caller sees it (manual flows only): every approver set, the tier reached, and the sets that
 * make the caller an approver now, each with why (named as a user, through which of their groups, as the
 * requester's manager, as the owner of which units). `mine` is empty for someone who is no approver; `reason` then says why.
 */
export const ApprovalView = z.object({
  rule: z.discriminatedUnion('type', [
    z.object({ type: z.literal('anyOf') }),
    z.object({ type: z.literal('allOf') }),
    z.object({ type: z.literal('quorum'), count: z.number().int() }),
  ]),
  /** The escalation tier reached (0: only the policy's own sets). */
  tier: z.number().int().min(0),
  sets: z.array(ApproverSetView),
  mine: z.array(
    z.object({
      index: z.number().int().min(0),
      tier: z.number().int().min(0),
      name: z.string().optional(),
      asUser: z.boolean(),
      viaGroups: z.array(z.string()),
      asManager: z.boolean(),
      /** As an owner: the units (indices into `units`) the caller owns; empty when not through ownership. */
      asOwnerOf: z.array(z.number().int().min(0)),
      /** As whoever is on call: the shift that makes the caller an approver now. */
      onCallShift: z
        .object({ provider: z.string(), start: z.string().nullable(), end: z.string().nullable() })
        .optional(),
    }),
  ),
  eligible: z.boolean(),
  reason: z.string().optional(),
});
export type ApprovalView = z.infer<typeof ApprovalView>;

/**
 * What callers see of a request: never task tokens, sealed secrets or target-side state.
 * Credentials are only served by GET /requests/{id}/access, to the grantee.
 */
export const RequestView = AccessRequest.omit({
  approvalToken: true,
  activeToken: true,
  grants: true,
  flow: true,
  attempt: true,
}).extend({
  flowName: z.string(),
  /** Every unit with its type and what its driver promises (known before anything is granted). */
  unitDetails: z.array(UnitView),
  /** Per granted unit: its access view (kind-tagged: connection details, account, role; never a secret). */
  access: z.array(z.record(z.string(), z.unknown())),
  /** The request's history in time order, built from what the request records. */
  timeline: z.array(TimelineEntry),
  /** Manual flows, when the view is for a caller: the approver sets and why the caller is (or is not) an approver. */
  approval: ApprovalView.optional(),
});
export type RequestView = z.infer<typeof RequestView>;

const by = (change: { by: string; channel?: Channel; reason?: string | undefined }) => ({
  by: change.by,
  ...(change.channel === undefined ? {} : { channel: change.channel }),
  ...(change.reason === undefined ? {} : { reason: change.reason }),
});

/** The history of a request from its own fields (created, votes, decision, grant, extensions, how it ended). */
export function timelineOf(request: AccessRequest): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  const created = request.created ?? { by: request.requester.sub, at: request.createdAt };
  entries.push({ kind: 'created', at: created.at, ...by(created) });
  if (request.escalation !== undefined) {
    entries.push({ kind: 'escalated', at: request.escalation.notifiedAt, tier: request.escalation.tier });
  }
  for (const v of request.votes) entries.push({ kind: 'vote', at: v.at, vote: v.vote, ...by(v) });
  const { decision } = request;
  if (decision !== undefined) {
    const kind = decision.outcome === 'auto' ? 'auto-approved' : decision.outcome;
    entries.push({ kind, at: decision.at, ...by(decision) });
  }
  if (request.grantedAt !== undefined) entries.push({ kind: 'granted', at: request.grantedAt });
  for (const e of request.extensions) entries.push({ kind: 'extended', at: e.at, minutes: e.minutes, ...by(e) });
  const ending = request.ending ?? (TERMINAL_ENDS.has(request.status) ? request.lastChange : undefined);
  const last = request.lastChange;
  switch (request.status) {
    case 'CANCELLED':
      if (ending !== undefined) entries.push({ kind: 'cancelled', at: ending.at, ...by(ending) });
      break;
    case 'TIMED_OUT':
      if (ending !== undefined) entries.push({ kind: 'timed-out', at: ending.at });
      break;
    default:
      break;
  }
  if (request.endReason === 'revoked' && ending !== undefined) {
    entries.push({ kind: 'revoke-requested', at: ending.at, ...by(ending) });
  }
  if (request.status === 'REVOKED' && request.revokedAt !== undefined) {
    entries.push({ kind: 'revoked', at: request.revokedAt, ...(ending === undefined ? {} : by(ending)) });
  }
  if (request.status === 'EXPIRED') entries.push({ kind: 'expired', at: request.revokedAt ?? last.at });
  if (request.status === 'FAILED') {
    entries.push({
      kind: 'failed',
      at: last.at,
      ...(request.failureReason === undefined ? {} : { reason: request.failureReason }),
    });
  }
  if (request.status === 'REVOKE_FAILED') {
    const reason = last.reason ?? request.failureReason;
    entries.push({ kind: 'revoke-failed', at: last.at, ...(reason === undefined ? {} : { reason }) });
  }
  // Stable: entries recorded at the same instant keep the order above (created before its auto-approval…).
  return entries
    .map((entry, i) => ({ entry, i }))
    .sort((a, b) => Date.parse(a.entry.at) - Date.parse(b.entry.at) || a.i - b.i)
    .map(({ entry }) => entry);
}

/** Statuses whose last change is the one that ended the request (requests recorded before `ending` existed). */
const TERMINAL_ENDS = new Set<AccessRequest['status']>(['CANCELLED', 'TIMED_OUT', 'REJECTED']);

/** The approval as `viewer` sees it (lib/domain/approvals.ts approverStanding decides who may vote). */
export function approvalOf(
  request: AccessRequest,
  viewer: Identity,
  oncall: OnCallAnswers = new Map(),
): ApprovalView | undefined {
  const policy = request.flow.approval;
  if (policy.mode !== 'manual') return undefined;
  const reached = reachedTier(request);
  const standing = approverStanding(request, viewer, oncall);
  const all = approverSets(policy);
  const mine = standing.eligible
    ? all
        .filter(({ index }) => standing.sets.includes(index))
        .map(({ set, index, tier }) => ({
          index,
          tier,
          ...(set.name === undefined ? {} : { name: set.name }),
          asUser: set.users.includes(viewer.sub),
          viaGroups: viewer.groups.filter((g) => set.groups.includes(g)),
          asManager: set.manager === true && request.requester.manager === viewer.sub,
          asOwnerOf: set.owners === true ? (standing.ownerOf ?? []) : [],
          ...onCallShiftView(standing.oncall?.find((o) => o.set === index)),
        }))
    : [];
  return {
    rule: policy.rule,
    tier: reached,
    sets: all.map(({ set, index, tier }) => ({
      index,
      tier,
      ...(set.name === undefined ? {} : { name: set.name }),
      users: set.users,
      groups: set.groups,
      manager: set.manager === true,
      owners: set.owners === true,
      ...onCallSetView(set.oncall, oncall.get(index), request.status),
      open: tier <= reached,
    })),
    mine,
    eligible: standing.eligible,
    ...(standing.eligible ? {} : { reason: standing.reason }),
  };
}

function onCallShiftView(shift: { provider: string; start: string | null; end: string | null } | undefined) {
  return shift === undefined ? {} : { onCallShift: { provider: shift.provider, start: shift.start, end: shift.end } };
}

/** An on-call set as the view shows it: what it names, and (while PENDING) whether its provider could be asked. */
function onCallSetView(ref: OnCallRef | undefined, answer: OnCallAnswer | undefined, status: AccessRequest['status']) {
  if (ref === undefined) return {};
  const unavailable =
    status !== 'PENDING' || answer === undefined ? undefined : 'unavailable' in answer ? answer.unavailable : undefined;
  return { oncall: { ...ref, ...(unavailable === undefined ? {} : { unavailable }) } };
}

/**
 * The request as `viewer` (the caller) sees it; without a viewer, no `approval`. `oncall`: who is on call now for the
 * on-call sets of a PENDING request (RequestService.getWithOnCall), so the view says which provider could not be asked.
 */
export function toRequestView(request: AccessRequest, viewer?: Identity, oncall?: OnCallAnswers): RequestView {
  const { approvalToken: _a, activeToken: _t, grants, flow, attempt: _n, ...rest } = request;
  const approval = viewer === undefined ? undefined : approvalOf(request, viewer, oncall);
  return {
    ...rest,
    flowName: flow.name,
    timeline: timelineOf(request),
    ...(approval === undefined ? {} : { approval }),
    unitDetails: request.units.map((unit, i) => {
      const type = request.unitTypes?.[i];
      const pending = grants.find((g) => sameUnit(g.unit, unit))?.pending;
      const promises = type !== undefined && isDriverType(type) ? CAPABILITIES[type] : undefined;
      return {
        ...unit,
        ...(type === undefined ? {} : { type }),
        ...(promises === undefined
          ? {}
          : {
              endsLiveSessions: promises.endsLiveSessions,
              residualSessionSeconds: promises.residualSessionSeconds,
              targetEnforcesExpiry: promises.targetEnforcesExpiry,
            }),
        ...(pending === undefined
          ? {}
          : { progress: { action: pending.action, reason: pending.reason, since: pending.since } }),
      };
    }),
    access: grants
      .filter((g) => g.pending === undefined)
      .map((g) => ({
        integrationId: g.unit.integrationId,
        resource: g.unit.resource,
        permission: g.unit.permission,
        ...g.access,
      })),
  };
}

/** GET /me: the caller as Stint resolved them, and whether they are an admin or an auditor. */
export const MeView = Identity.extend({ admin: z.boolean(), auditor: z.boolean() });
export type MeView = z.infer<typeof MeView>;

export function toMeView(identity: Identity, roles: { adminGroup: string; auditorGroup: string }): MeView {
  return {
    ...identity,
    admin: identity.groups.includes(roles.adminGroup),
    auditor: identity.groups.includes(roles.auditorGroup),
  };
}

/**
 * GET /auth-config: the issuer to sign in at; the CLI's public client there (`stint login --url`), when one is
 * configured; `local: true` on the local runtime, where `stint login --local` signs in instead.
 */
export const AuthConfigView = z.object({
  issuer: z.url(),
  cli: z.object({ clientId: z.string().min(1), scopes: z.array(z.string().min(1)) }).optional(),
  local: z.literal(true).optional(),
});
export type AuthConfigView = z.infer<typeof AuthConfigView>;

/** One flow of GET /catalog: what a requester may ask for under it, for how long, and how it is approved. */
export const CatalogFlow = AccessFlow.pick({
  id: true,
  name: true,
  description: true,
  targets: true,
  bundles: true,
  defaultMinutes: true,
  maxMinutes: true,
  maxExtensions: true,
  breakGlass: true,
  workingHours: true,
  labels: true,
}).extend({
  approval: z.union([
    z.object({ mode: z.literal('auto') }),
    z.object({
      mode: z.literal('manual'),
      rule: ApprovalView.shape.rule,
      /** Who approves: the flow's approver sets (users, groups, the requester's manager). */
      sets: z.array(ApproverSet),
      /** Approvers must give a reason. */
      reasonRequired: z.boolean(),
      timeoutMinutes: z.number().int(),
    }),
  ]),
  /** A justification is required (always under a break-glass flow). */
  justificationRequired: z.boolean(),
});
export type CatalogFlow = z.infer<typeof CatalogFlow>;

export function toCatalogFlow(f: AccessFlow): CatalogFlow {
  return {
    id: f.id,
    name: f.name,
    ...(f.description === undefined ? {} : { description: f.description }),
    targets: f.targets,
    bundles: f.bundles,
    approval:
      f.approval.mode === 'auto'
        ? { mode: 'auto' }
        : {
            mode: 'manual',
            rule: f.approval.rule,
            sets: f.approval.sets,
            reasonRequired: f.approval.reasonRequired,
            timeoutMinutes: f.approval.timeoutMinutes,
          },
    defaultMinutes: f.defaultMinutes,
    maxMinutes: f.maxMinutes,
    justificationRequired: f.justificationRequired || f.breakGlass,
    maxExtensions: f.maxExtensions,
    breakGlass: f.breakGlass,
    ...(f.workingHours === undefined ? {} : { workingHours: f.workingHours }),
    labels: f.labels,
  };
}

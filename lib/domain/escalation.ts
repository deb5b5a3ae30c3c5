import type { ApprovalPolicy, ApproverSet } from './flow.ts';
import { SYSTEM_SUBJECT } from './identity.ts';
import type { AccessRequest } from './request.ts';

/**
 * Escalation tiers and expiry reminders, pure. The reconciler asks what is due and records it with one
 * conditional write; the stream turns each write into one event (`request.escalated`, `grant.expiring`) and Slack
 * notify DMs the people concerned.
 */

/** The requester is reminded this many minutes before the grant ends. */
export const REMINDER_LEAD_MINUTES = 10;
const MINUTE_MS = 60_000;

type ManualPolicy = Extract<ApprovalPolicy, { mode: 'manual' }>;

/**
 * Every approver set of a manual policy with its vote index and tier: the policy's own `sets` are tier 0 (indices
 * 0…n-1), escalation tier t (1-based) is `escalation.tiers[t-1]` at index n+t-1. Votes record these indices.
 */
export function approverSets(policy: ManualPolicy): { set: ApproverSet; index: number; tier: number }[] {
  const own = policy.sets.map((set, index) => ({ set, index, tier: 0 }));
  const tiers = (policy.escalation?.tiers ?? []).map((set, t) => ({ set, index: policy.sets.length + t, tier: t + 1 }));
  return [...own, ...tiers];
}

/** The tier the request has reached as recorded by the reconciler (0 = only the policy's own sets). */
export function reachedTier(request: Pick<AccessRequest, 'escalation'>): number {
  return request.escalation?.tier ?? 0;
}

/** When the next tier opens, for a PENDING request of an escalating flow with a tier left; else undefined. */
export function nextEscalationAt(
  request: Pick<AccessRequest, 'status' | 'flow' | 'createdAt' | 'escalation'>,
): string | undefined {
  const policy = request.flow.approval;
  if (request.status !== 'PENDING' || policy.mode !== 'manual' || policy.escalation === undefined) return undefined;
  const next = reachedTier(request) + 1;
  if (next > policy.escalation.tiers.length) return undefined;
  return new Date(Date.parse(request.createdAt) + next * policy.escalation.everyMinutes * MINUTE_MS).toISOString();
}

/**
 * The tier a PENDING request should now be at when that is beyond the recorded one; else undefined. A late
 * reconciler jumps straight to the highest tier that is due. Nothing escalates once the approval deadline passed
 * (the request is timing out).
 */
export function dueEscalationTier(request: AccessRequest, now: Date): number | undefined {
  const policy = request.flow.approval;
  if (request.status !== 'PENDING' || policy.mode !== 'manual' || policy.escalation === undefined) return undefined;
  if (request.approvalDeadline !== undefined && Date.parse(request.approvalDeadline) <= now.getTime()) return undefined;
  const elapsed = now.getTime() - Date.parse(request.createdAt);
  const tier = Math.min(
    policy.escalation.tiers.length,
    Math.floor(elapsed / (policy.escalation.everyMinutes * MINUTE_MS)),
  );
  return tier > reachedTier(request) ? tier : undefined;
}

/** The request with `tier` recorded as reached; null when it is no longer PENDING or the tier is already reached. */
export function escalate(request: AccessRequest, tier: number, now: Date): AccessRequest | null {
  if (request.status !== 'PENDING' || tier <= reachedTier(request)) return null;
  const at = now.toISOString();
  return {
    ...request,
    escalation: { tier, notifiedAt: at },
    lastChange: { by: SYSTEM_SUBJECT, channel: 'reconciler', action: 'escalate', at },
  };
}

/**
 * Whether the requester is due the "ends in 10 minutes" reminder: ACTIVE, within the lead time before expiresAt, and
 * not reminded inside this window yet. A reminder sent before an extension moved expiresAt does not count, so an
 * extended grant is reminded again before its new end. A grant that never lasted longer than the lead time (granted
 * inside its own reminder window, e.g. for 5 minutes) gets no reminder: its "active" DM already says when it ends.
 */
export function reminderDue(request: AccessRequest, now: Date): boolean {
  if (request.status !== 'ACTIVE' || request.expiresAt === undefined) return false;
  const expires = Date.parse(request.expiresAt);
  const windowStart = expires - REMINDER_LEAD_MINUTES * MINUTE_MS;
  if (now.getTime() < windowStart || now.getTime() >= expires) return false;
  if (request.grantedAt !== undefined && Date.parse(request.grantedAt) >= windowStart) return false;
  return request.remindedAt === undefined || Date.parse(request.remindedAt) < windowStart;
}

/** The request with the reminder recorded; null when no reminder is due (lost a race, extended, ended). */
export function remind(request: AccessRequest, now: Date): AccessRequest | null {
  if (!reminderDue(request, now)) return null;
  const at = now.toISOString();
  return {
    ...request,
    remindedAt: at,
    lastChange: { by: SYSTEM_SUBJECT, channel: 'reconciler', action: 'remind-expiry', at },
  };
}

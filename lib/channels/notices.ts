import type { AccessRequest } from '#lib/domain/request.ts';

/**
 * What the chat channels (Slack, Teams) do with request and grant events, in one place so they cannot drift apart:
 * the event types their notify functions receive, which events tell the requester (and the grantee) something, and
 * which change nothing the approval copies show.
 */
export const CHAT_EVENT_TYPES = [
  'request.created',
  'request.escalated',
  'request.oncall_changed',
  'request.approval_recorded',
  'request.approved',
  'request.rejected',
  'request.cancelled',
  'request.timed_out',
  'grant.active',
  'grant.failed',
  'grant.expiring',
  'grant.revoked',
  'grant.expired',
] as const;
export type ChatEventType = (typeof CHAT_EVENT_TYPES)[number];

/** What the requester is told about their request. */
export type RequesterNotice = 'approved' | 'rejected' | 'active' | 'expiring' | 'revoked' | 'expired' | 'failed';

export const REQUESTER_NOTICE: Partial<Record<ChatEventType, RequesterNotice>> = {
  'request.approved': 'approved',
  'request.rejected': 'rejected',
  'grant.active': 'active',
  'grant.failed': 'failed',
  'grant.expiring': 'expiring',
  'grant.revoked': 'revoked',
  'grant.expired': 'expired',
};

/** Notices the grantee gets too when someone else asked on their behalf. */
export const GRANTEE_NOTICES: ReadonlySet<RequesterNotice> = new Set(['active', 'expiring', 'revoked', 'expired']);

/** Events that change nothing the approval copies show: no copy is rewritten. */
export const NO_REFRESH: ReadonlySet<ChatEventType> = new Set(['grant.expiring']);

/** What an approval message or card and a requester notice show of a request (Slack and Teams alike). */
export type ChatRequestView = Pick<
  AccessRequest,
  | 'id'
  | 'requester'
  | 'grantee'
  | 'flowId'
  | 'flow'
  | 'units'
  | 'durationMinutes'
  | 'justification'
  | 'status'
  | 'votes'
  | 'decision'
  | 'expiresAt'
  | 'revokedAt'
  | 'failureReason'
  | 'endReason'
  | 'lastChange'
>;

import { approverStanding } from './approvals.ts';
import type { Channel } from './common.ts';
import { ForbiddenError, InvalidTransitionError, PolicyError } from './errors.ts';
import type { Identity } from './identity.ts';
import type { AccessRequest, RequestStatus } from './request.ts';
import { assertTransition, isTerminal } from './transitions.ts';

/** Who is making a change, through which channel, why and when. */
export type Actor = { by: string; channel: Channel; reason?: string; at: Date };

/**
 * The one way to change a request's status: asserts the transition and records who did it (and, on the first change
 * into REVOKING or a terminal status, keeps that change as `ending`).
 * Returns a new object; `patch` cannot override `status`, `lastChange`, `version` (the store bumps the version
 * with its conditional write) or `restarts` (the reconciler's restart count is per status: a change removes it).
 */
export function changeStatus(
  request: AccessRequest,
  to: RequestStatus,
  actor: Actor & { action: string },
  patch: Partial<AccessRequest> = {},
): AccessRequest {
  assertTransition(request.status, to);
  const { restarts: _reset, ...unchanged } = { ...request, ...patch };
  const lastChange = changeRecord(actor.by, actor.channel, actor.action, actor.reason, actor.at);
  const ends = to === 'REVOKING' || isTerminal(to);
  return {
    ...unchanged,
    status: to,
    version: request.version,
    ...(ends && request.ending === undefined ? { ending: lastChange } : {}),
    lastChange,
  };
}

function changeRecord(
  by: string,
  channel: Channel,
  action: string,
  reason: string | undefined,
  at: Date,
): AccessRequest['lastChange'] {
  return { by, channel, action, at: at.toISOString(), ...(reason === undefined ? {} : { reason }) };
}

const isGrantee = (request: AccessRequest, who: Identity) => request.grantee.sub === who.sub;
const isRequester = (request: AccessRequest, who: Identity) => request.requester.sub === who.sub;

/**
 * Extends an ACTIVE grant by `minutes`: by its grantee, its requester or an admin, at most
 * `flow.maxExtensions` times, each extension at most `flow.maxMinutes` (limits of the pinned flow).
 */
export function extendGrant(
  request: AccessRequest,
  input: { who: Identity; minutes: number; channel: Channel; reason?: string; now: Date; isAdmin: boolean },
): AccessRequest {
  const { who, minutes, channel, reason, now, isAdmin } = input;
  if (request.status !== 'ACTIVE') {
    throw new InvalidTransitionError(
      `only an ACTIVE grant can be extended; this request is ${request.status}`,
      'status',
    );
  }
  if (!isAdmin && !isGrantee(request, who) && !isRequester(request, who)) {
    throw new ForbiddenError('only the grantee, the requester or an admin can extend this grant');
  }
  const { maxExtensions, maxMinutes } = request.flow;
  if (request.extensions.length >= maxExtensions) {
    throw new PolicyError(
      maxExtensions === 0
        ? 'this flow allows no extensions'
        : `this grant was already extended ${request.extensions.length} time(s); the flow allows at most ${maxExtensions}`,
      'minutes',
    );
  }
  if (!Number.isInteger(minutes) || minutes <= 0) {
    throw new PolicyError('an extension must be a positive whole number of minutes', 'minutes');
  }
  if (minutes > maxMinutes) {
    throw new PolicyError(`an extension can be at most ${maxMinutes} minutes`, 'minutes');
  }
  // An ACTIVE request always has expiresAt; fall back to now rather than producing an invalid date.
  const from = request.expiresAt === undefined ? now.getTime() : Date.parse(request.expiresAt);
  const shiftEnd = request.onCall?.end;
  if (shiftEnd != null && from + minutes * 60_000 > Date.parse(shiftEnd)) {
    throw new PolicyError(
      `this grant relied on an on-call shift that ends at ${shiftEnd}: it cannot be extended past the shift`,
      'minutes',
    );
  }
  const at = now.toISOString();
  return {
    ...request,
    expiresAt: new Date(from + minutes * 60_000).toISOString(),
    extensions: [
      ...request.extensions,
      { by: who.sub, minutes, channel, at, ...(reason === undefined ? {} : { reason }) },
    ],
    lastChange: changeRecord(who.sub, channel, 'extend', reason, now),
  };
}

/** PENDING → CANCELLED, by the requester only. */
export function cancelRequest(
  request: AccessRequest,
  input: { who: Identity; channel: Channel; reason?: string; now: Date },
): AccessRequest {
  const { who, channel, reason, now } = input;
  if (!isRequester(request, who)) {
    throw new ForbiddenError('only the requester can cancel this request');
  }
  return changeStatus(request, 'CANCELLED', { by: who.sub, channel, action: 'cancel', reason, at: now });
}

/**
 * ACTIVE → REVOKING (ended early, `endReason: 'revoked'`): by the grantee, the requester, an eligible approver
 * of the request or an admin. The workflow then revokes on the target and moves it to REVOKED.
 */
export function requestRevoke(
  request: AccessRequest,
  input: { who: Identity; channel: Channel; reason?: string; now: Date; isAdmin: boolean },
): AccessRequest {
  const { who, channel, reason, now, isAdmin } = input;
  const allowed =
    isAdmin || isGrantee(request, who) || isRequester(request, who) || approverStanding(request, who).eligible;
  if (!allowed) {
    throw new ForbiddenError('only the grantee, the requester, an approver of this request or an admin can revoke it');
  }
  return changeStatus(
    request,
    'REVOKING',
    { by: who.sub, channel, action: 'revoke', reason, at: now },
    { endReason: 'revoked' },
  );
}

/**
 * A grant that could not complete is given up: APPROVED or GRANTING → REVOKING with `endReason: 'failed'`. The
 * revoke path then undoes every unit, recorded or not (a driver may have created something before it failed),
 * with its long retries, REVOKE_FAILED and its alarm when that keeps failing, and ends the request FAILED once
 * the target is clean. `failureReason` (the reason) says why the grant failed until then.
 */
export function abandonGrant(request: AccessRequest, actor: Actor & { action: string; reason: string }): AccessRequest {
  if (request.status !== 'APPROVED' && request.status !== 'GRANTING') {
    throw new InvalidTransitionError(
      `only a grant in progress can be given up; this request is ${request.status}`,
      'status',
    );
  }
  const granting = request.status === 'APPROVED' ? changeStatus(request, 'GRANTING', actor) : request;
  return changeStatus(granting, 'REVOKING', actor, { endReason: 'failed', failureReason: actor.reason });
}

/**
 * REVOKING → REVOKE_FAILED: the alarm's status; the reconciler keeps moving it back to REVOKING. `failureReason`
 * becomes the reason, except while undoing a grant that failed (`endReason: 'failed'`): there it keeps saying why
 * the grant failed, and the reason of this failure stays in `lastChange` (the grant.revoke_failed event's actor).
 */
export function failRevoke(request: AccessRequest, actor: Actor & { action: string; reason: string }): AccessRequest {
  return changeStatus(
    request,
    'REVOKE_FAILED',
    actor,
    request.endReason === 'failed' ? {} : { failureReason: actor.reason },
  );
}

/**
 * When the reconciler should next look at a request: the approval deadline while PENDING, the expiry while
 * ACTIVE, the last change for other in-flight statuses (stuck if it stays there), nothing once terminal.
 */
export function dueAt(request: AccessRequest): string | undefined {
  if (isTerminal(request.status)) return undefined;
  switch (request.status) {
    // Both are always set in those statuses; fall back to the last change so no live request is ever undated.
    case 'PENDING':
      return request.approvalDeadline ?? request.lastChange.at;
    case 'ACTIVE':
      return request.expiresAt ?? request.lastChange.at;
    default:
      return request.lastChange.at;
  }
}

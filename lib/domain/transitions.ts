import { InvalidTransitionError } from './errors.ts';
import { type RequestStatus, TERMINAL_STATUSES } from './request.ts';

/**
 * The request lifecycle as one table: every status change in Stint is checked against it.
 * REVOKE_FAILED is not terminal: the reconciler keeps moving it back to REVOKING until the revoke succeeds.
 * GRANTING → REVOKING → FAILED: a grant that failed and was not undone on the spot (its undo failed, or the
 * reconciler gave up on it after repeated restarts) is undone on the revoke path, with its long retries and alarm
 * (`endReason: 'failed'`).
 */
export const TRANSITIONS: Readonly<Record<RequestStatus, readonly RequestStatus[]>> = Object.freeze({
  PENDING: ['APPROVED', 'REJECTED', 'CANCELLED', 'TIMED_OUT'],
  APPROVED: ['GRANTING'],
  REJECTED: [],
  CANCELLED: [],
  TIMED_OUT: [],
  GRANTING: ['ACTIVE', 'FAILED', 'REVOKING'],
  ACTIVE: ['REVOKING'],
  FAILED: [],
  REVOKING: ['REVOKED', 'EXPIRED', 'REVOKE_FAILED', 'FAILED'],
  REVOKED: [],
  EXPIRED: [],
  REVOKE_FAILED: ['REVOKING'],
});

export function canTransition(from: RequestStatus, to: RequestStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Throws InvalidTransitionError (field `status`) unless `from → to` is in TRANSITIONS. */
export function assertTransition(from: RequestStatus, to: RequestStatus): void {
  if (!canTransition(from, to)) {
    throw new InvalidTransitionError(`cannot go from ${from} to ${to}`, 'status');
  }
}

export function isTerminal(status: RequestStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

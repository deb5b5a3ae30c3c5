/**
 * Domain errors carry an HTTP status and an RFC 9457 `type` slug; lib/http maps them in one place.
 * Anything that is not a DomainError becomes a generic 500 with a correlation id.
 */
export abstract class DomainError extends Error {
  abstract readonly status: number;
  abstract readonly type: string;
  /** The offending field (JSON pointer-ish path) when there is one. */
  readonly field: string | undefined;

  constructor(message: string, field?: string) {
    super(message);
    this.name = new.target.name;
    this.field = field;
  }
}

export class ValidationError extends DomainError {
  readonly status = 400;
  readonly type = 'validation-error';
  constructor(
    message: string,
    field?: string,
    readonly issues: { path: string; message: string }[] = [],
  ) {
    super(message, field);
  }
}

export class UnauthenticatedError extends DomainError {
  readonly status = 401;
  readonly type = 'unauthenticated';
}

export class ForbiddenError extends DomainError {
  readonly status = 403;
  readonly type = 'forbidden';
}

/** The caller is not an eligible approver of this request (or is its requester). */
export class NotApproverError extends DomainError {
  readonly status = 403;
  readonly type = 'not-approver';
}

export class NotFoundError extends DomainError {
  readonly status = 404;
  readonly type = 'not-found';
}

/** The requested status change is not allowed from the current status. */
export class InvalidTransitionError extends DomainError {
  readonly status = 409;
  readonly type = 'invalid-transition';
}

/** Optimistic concurrency lost after retries, or a duplicate create. */
export class ConflictError extends DomainError {
  readonly status = 409;
  readonly type = 'conflict';
}

/** Where a versioned item stands when a conditional write is refused: its version and its last change, if recorded. */
export type CurrentVersion = {
  version: number;
  lastChange?: { by: string; channel: string; action: string; at: string };
};

/**
 * A conditional write's precondition does not hold (RFC 9110 §13.1): `If-Match` names a version the item is no
 * longer at, or `If-None-Match: *` asked for a create and the item exists. Nothing was written; `current` says
 * where the item stands so the caller can reload it and reapply their change.
 */
export class PreconditionFailedError extends DomainError {
  readonly status = 412;
  readonly type = 'precondition-failed';
  constructor(
    message: string,
    field: 'if-match' | 'if-none-match' = 'if-match',
    readonly current?: CurrentVersion,
  ) {
    super(message, field);
  }
}

/** The request is well-formed but breaks the flow's rules (duration, window, targets…). */
export class PolicyError extends DomainError {
  readonly status = 422;
  readonly type = 'policy-violation';
}

export class PayloadTooLargeError extends DomainError {
  readonly status = 413;
  readonly type = 'payload-too-large';
}

/**
 * The integration's target refused or failed what a driver asked of it (credentials, discovery): the caller sees
 * the driver's one-line reason, which never holds a secret (drivers word their errors for people).
 */
export class TargetError extends DomainError {
  readonly status = 502;
  readonly type = 'target-error';
}

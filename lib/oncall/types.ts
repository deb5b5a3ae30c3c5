import * as z from 'zod';

/**
 * Who is on call: one provider (PagerDuty, Opsgenie) answers for a schedule or an escalation policy at a moment.
 * Approvals ask at vote time ("is the voter on call now?"); on-call requestors ask at request time and cap the
 * duration at the shift's `end`. docs/oncall.md describes the setup and the failure behaviour.
 */

/** What an approver set or a flow's requestors name: a schedule, an escalation policy (PagerDuty), a level. */
export const OnCallQuery = z
  .strictObject({
    /** PagerDuty schedule id (P…), Opsgenie schedule id (a UUID) or name. */
    schedule: z.string().min(1).max(200).optional(),
    /** PagerDuty escalation policy id (P…). Opsgenie: not supported (its on-call API is per schedule). */
    escalationPolicy: z.string().min(1).max(200).optional(),
    /** PagerDuty escalation level (1 = first responders); without it every level counts. */
    level: z.number().int().min(1).max(20).optional(),
  })
  .refine((q) => q.schedule !== undefined || q.escalationPolicy !== undefined, {
    error: 'names a schedule or an escalation policy',
  });
export type OnCallQuery = z.infer<typeof OnCallQuery>;

/** One person on call at the moment asked, with the shift that makes them so. */
export const OnCallShift = z.object({
  /** The configured provider's name (stint.config.ts `oncall[].name`). */
  provider: z.string(),
  /** Lower-cased: how Stint maps the provider's user to a directory identity. */
  email: z.email(),
  name: z.string().optional(),
  /** The provider's own user id (PagerDuty P…, Opsgenie UUID). */
  providerUserId: z.string(),
  schedule: z.string().optional(),
  escalationPolicy: z.string().optional(),
  level: z.number().int().optional(),
  /** ISO 8601 UTC. `null`: PagerDuty's permanent on-call (a user targeted directly by an escalation rule). */
  start: z.iso.datetime().nullable(),
  /** ISO 8601 UTC. `null`: never goes off call (PagerDuty's permanent on-call). */
  end: z.iso.datetime().nullable(),
});
export type OnCallShift = z.infer<typeof OnCallShift>;

export interface OnCallProvider {
  readonly name: string;
  readonly kind: 'pagerduty' | 'opsgenie';
  /**
   * Everyone on call for the query at `at`, one entry per (person, schedule/policy, level) shift. Throws an
   * OnCallError subclass when the provider cannot answer: callers fail closed (nobody is on call) for that query.
   */
  whoIsOnCall(query: OnCallQuery, at: Date): Promise<OnCallShift[]>;
}

/**
 * Base of every on-call failure. Not a DomainError on purpose: the provider's 401 is not the Stint caller's 401;
 * a caller that does not catch it gets a generic 500. Messages name the provider and the HTTP status, never the key.
 */
export class OnCallError extends Error {
  override readonly name: string = 'OnCallError';
  constructor(
    readonly provider: string,
    message: string,
    readonly status?: number,
  ) {
    super(`on-call provider ${provider}: ${message}`);
  }
}

/** 401/403: the API key is wrong, revoked, or may not read this schedule (an Opsgenie team key, 40301). */
export class OnCallAuthError extends OnCallError {
  override readonly name = 'OnCallAuthError';
}

/** 429 after at most one short retry. `retryAfterSeconds` from Retry-After (or PagerDuty's ratelimit-reset). */
export class OnCallRateLimitedError extends OnCallError {
  override readonly name = 'OnCallRateLimitedError';
  constructor(
    provider: string,
    message: string,
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(provider, message, 429);
  }
}

/** 5xx, a timeout, a connection error, or an answer that is not what the vendor documents. */
export class OnCallUnavailableError extends OnCallError {
  override readonly name = 'OnCallUnavailableError';
}

/** Another 4xx (400, 404: an unknown schedule or policy), or a query the provider cannot answer. */
export class OnCallQueryError extends OnCallError {
  override readonly name = 'OnCallQueryError';
}

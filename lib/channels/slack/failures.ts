import { logger } from '#lib/observability/logger.ts';
import { isRetryableSlackFailure, SlackApiError } from './client.ts';
import { errorName } from './identity.ts';

/**
 * Thrown by the notify function after it did all it could for one event, when some Slack calls failed in a way that
 * may pass later (rate limit, Slack or network down): the invocation fails, the event is delivered again, and the
 * redelivery sends only what is missing (SlackState `claimSend` / `posts`).
 */
export class SlackDeliveryError extends Error {
  override readonly name = 'SlackDeliveryError';
  constructor(
    readonly requestId: string,
    readonly retryable: number,
  ) {
    super(`${retryable} Slack call(s) for request ${requestId} failed and may pass later: deliver the event again`);
  }
}

/** Counts and logs (ids and Slack's error code only) the failed messages of one notification. */
export class SlackFailures {
  retryable = 0;
  permanent = 0;

  constructor(private readonly requestId: string) {}

  /** One message that could not be sent or updated; `what` is the log message, `ids` say whose. */
  note(what: string, error: unknown, ids: Record<string, string> = {}): void {
    const code = error instanceof SlackApiError ? error.code : errorName(error);
    if (isRetryableSlackFailure(error)) {
      this.retryable += 1;
      logger.warn(what, { requestId: this.requestId, ...ids, error: code, retry: true });
    } else {
      this.permanent += 1;
      logger.warn(what, { requestId: this.requestId, ...ids, error: code, retry: false });
    }
  }

  /** Another invocation is sending this message right now: check again on the redelivery. */
  busy(what: string, ids: Record<string, string> = {}): void {
    this.retryable += 1;
    logger.info(what, { requestId: this.requestId, ...ids, error: 'claimed-by-another-invocation', retry: true });
  }

  throwIfRetryable(): void {
    if (this.retryable > 0) throw new SlackDeliveryError(this.requestId, this.retryable);
  }
}

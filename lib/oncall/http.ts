import type * as z from 'zod';
import { createOutbound } from '#lib/targets/outbound.ts';
import { type Outbound, PermanentDeliveryError, RetryableDeliveryError } from '#lib/targets/types.ts';
import {
  OnCallAuthError,
  OnCallError,
  OnCallQueryError,
  OnCallRateLimitedError,
  OnCallUnavailableError,
} from './types.ts';

/** What a provider client needs from its surroundings; everything but `local` has a production default. */
export type OnCallDeps = {
  /** Local runtime and tests: plain http:// and loopback stand-ins allowed (the outbound guard's local mode). */
  local: boolean;
  /** The outbound HTTP guard (lib/targets/outbound.ts); default: one made with `local`, public addresses only. */
  http?: Outbound;
  /** Whole exchange (DNS, connect, TLS, answer) per request; default 5 s. A hung provider fails closed. */
  timeoutMs?: number;
  /** The longest Retry-After the client waits for before its one retry; default 1 s (longer → no retry). */
  maxRetryWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
};

export const DEFAULT_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_RETRY_WAIT_MS = 1_000;
/** A PagerDuty page of 100 on-calls with full user objects, or a week of an Opsgenie timeline, fits comfortably. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

export type JsonGet = (url: string, what: string) => Promise<unknown>;

/**
 * GET JSON through the outbound guard, mapping every failure to an OnCallError:
 * 401/403 → OnCallAuthError; 429 → one retry when the provider says to wait at most `maxRetryWaitMs` (Retry-After, or
 * PagerDuty's ratelimit-reset), else OnCallRateLimitedError; other 4xx → OnCallQueryError; 5xx, timeouts, connection
 * errors and non-JSON answers → OnCallUnavailableError. The key is in `headers` only; it is redacted from any
 * vendor message quoted in an error, and nothing here logs.
 */
export function jsonGetter(provider: string, deps: OnCallDeps, headers: Record<string, string>, key: string): JsonGet {
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const http =
    deps.http ??
    createOutbound({
      local: deps.local,
      allowPrivateNetwork: false,
      totalTimeoutMs: timeoutMs,
      connectTimeoutMs: Math.min(timeoutMs, 3_000),
      maxResponseBytes: MAX_RESPONSE_BYTES,
    });
  const maxWait = deps.maxRetryWaitMs ?? DEFAULT_MAX_RETRY_WAIT_MS;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  return async (url, what) => {
    for (let attempt = 0; ; attempt++) {
      let response: Awaited<ReturnType<Outbound['send']>>;
      try {
        response = await http.send({ method: 'GET', url, headers });
      } catch (error) {
        if (error instanceof RetryableDeliveryError || error instanceof PermanentDeliveryError) {
          throw new OnCallUnavailableError(provider, `${what}: ${error.message}`);
        }
        throw new OnCallUnavailableError(provider, `${what}: request failed`);
      }
      const { status } = response;
      if (status >= 200 && status < 300) {
        try {
          return JSON.parse(response.body) as unknown;
        } catch {
          throw new OnCallUnavailableError(provider, `${what}: the answer is not JSON`, status);
        }
      }
      const detail = vendorMessage(response.body, key);
      const suffix = detail === undefined ? '' : ` (${detail})`;
      if (status === 401 || status === 403) {
        throw new OnCallAuthError(
          provider,
          `${what}: HTTP ${status}${suffix}; check the API key and its access`,
          status,
        );
      }
      if (status === 429) {
        const waitSeconds = retryAfterSeconds(response.headers);
        if (attempt === 0 && waitSeconds !== undefined && waitSeconds * 1000 <= maxWait) {
          await sleep(waitSeconds * 1000);
          continue;
        }
        throw new OnCallRateLimitedError(provider, `${what}: HTTP 429 (rate limited)`, waitSeconds);
      }
      if (status >= 500 || status === 408) {
        throw new OnCallUnavailableError(provider, `${what}: HTTP ${status}${suffix}`, status);
      }
      throw new OnCallQueryError(provider, `${what}: HTTP ${status}${suffix}`, status);
    }
  };
}

/**
 * Seconds to wait, from `Retry-After` (RFC 9110: delay-seconds or an HTTP-date) or PagerDuty's `ratelimit-reset`
 * ("the number of seconds until the limit is reset", https://developer.pagerduty.com/docs/rest-api-rate-limits).
 */
export function retryAfterSeconds(headers: Record<string, string>, now = Date.now()): number | undefined {
  const raw = headers['retry-after'] ?? headers['ratelimit-reset'];
  if (raw === undefined) return undefined;
  const value = raw.trim();
  if (/^\d+$/.test(value)) return Number(value);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** The vendor's own error message (PagerDuty `error.message`, Opsgenie `message`), short, with the key redacted. */
function vendorMessage(body: string, key: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const record = parsed as Record<string, unknown>;
  const nested = record.error;
  const message =
    typeof nested === 'object' && nested !== null && typeof (nested as Record<string, unknown>).message === 'string'
      ? (nested as Record<string, unknown>).message
      : record.message;
  if (typeof message !== 'string' || message === '') return undefined;
  const clean = key === '' ? message : message.split(key).join('[redacted]');
  return clean.replace(/[\r\n\t]+/g, ' ').slice(0, 200);
}

/** Parses a vendor answer; a missing or wrong required field becomes an OnCallUnavailableError naming it. */
export function parseAnswer<T extends z.ZodType>(
  provider: string,
  schema: T,
  body: unknown,
  what: string,
): z.output<T> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '' : `${issue.path.map(String).join('.')}: `;
  throw new OnCallUnavailableError(
    provider,
    `${what}: unexpected answer (${where}${issue?.message ?? 'invalid'}); fail closed`,
  );
}

export function isOnCallError(error: unknown): error is OnCallError {
  return error instanceof OnCallError;
}

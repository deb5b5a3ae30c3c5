import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Slack's v0 request signing ("Verifying requests from Slack"): Slack sends `X-Slack-Request-Timestamp` (epoch
 * seconds) and `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<raw body>" keyed by the signing secret>`.
 * A request is authentic when the signature matches (compared in constant time) and the timestamp lies within
 * five minutes of now, either way. Replays inside the window are stopped by a ReplayGuard (one use per signature).
 */
export const SIGNATURE_WINDOW_SECONDS = 5 * 60;

export type SlackSignatureFailure = 'missing-signature' | 'missing-timestamp' | 'stale-timestamp' | 'bad-signature';

export type SlackSignatureCheck =
  | { ok: true; signature: string; timestamp: number }
  | { ok: false; reason: SlackSignatureFailure };

/** `v0=<hex>` for a body sent at `timestamp` (epoch seconds). */
export function signSlackRequest(secret: string, timestamp: number | string, rawBody: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
}

/** Case-insensitive header lookup (API Gateway v2 lower-cases names; other callers may not). */
export function header(headers: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

export function verifySlackSignature(input: {
  secret: string;
  headers: Readonly<Record<string, string | undefined>>;
  rawBody: string;
  now: Date;
}): SlackSignatureCheck {
  const signature = header(input.headers, 'x-slack-signature');
  if (signature === undefined || signature === '') return { ok: false, reason: 'missing-signature' };
  const stamp = header(input.headers, 'x-slack-request-timestamp');
  if (stamp === undefined || !/^\d{1,12}$/.test(stamp)) return { ok: false, reason: 'missing-timestamp' };
  const timestamp = Number(stamp);
  if (Math.abs(input.now.getTime() / 1000 - timestamp) > SIGNATURE_WINDOW_SECONDS) {
    return { ok: false, reason: 'stale-timestamp' };
  }
  const expected = Buffer.from(signSlackRequest(input.secret, stamp, input.rawBody), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'bad-signature' };
  return { ok: true, signature, timestamp };
}

/** One use per signature: `claim` is true the first time a signature is seen, false on a replay. */
export interface ReplayGuard {
  claim(signature: string, now: Date): Promise<boolean>;
}

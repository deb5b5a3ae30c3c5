import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Jira Cloud admin webhooks registered with a secret (Jira administration › System › WebHooks, or
 * `POST /rest/webhooks/1.0/webhook`) are signed in the WebSub `method=signature` form: the header
 * `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw request body, keyed by the secret>`
 * (developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks). Only the body is signed: the
 * `X-Atlassian-Webhook-Identifier` header (unique per delivery, unchanged across retries) is not, so replay protection
 * keys on the body's signature instead, and the body's own `timestamp` (epoch milliseconds) bounds its age.
 */
export type JiraSignatureFailure = 'missing-signature' | 'bad-signature';

export type JiraSignatureCheck = { ok: true; digest: string } | { ok: false; reason: JiraSignatureFailure };

/** `sha256=<hex>` for a raw body. */
export function signJiraWebhook(secret: string, rawBody: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody, 'utf8').digest('hex')}`;
}

export function verifyJiraSignature(input: {
  secret: string;
  signature: string | undefined;
  rawBody: string;
}): JiraSignatureCheck {
  if (input.signature === undefined || input.signature.trim() === '') return { ok: false, reason: 'missing-signature' };
  const expected = Buffer.from(signJiraWebhook(input.secret, input.rawBody), 'utf8');
  // Hex is case-insensitive; the algorithm prefix is not.
  const given = Buffer.from(
    input.signature.trim().replace(/^sha256=([0-9A-Fa-f]+)$/, (_, hex: string) => `sha256=${hex.toLowerCase()}`),
    'utf8',
  );
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'bad-signature' };
  return { ok: true, digest: expected.toString('utf8').slice('sha256='.length) };
}

import { Webhook } from 'standardwebhooks';
import * as z from 'zod';
import type { StintEvent } from '#events/schemas.ts';
import { stintFormat } from '../payload.ts';
import { type DeliveryContext, expectSuccess, PermanentDeliveryError, type TargetDriver } from '../types.ts';

/**
 * `webhook`: a generic HTTPS receiver, signed per the Standard Webhooks specification (standardwebhooks.com,
 * "Standard Webhooks" spec v1.0.0, signed with its reference `standardwebhooks` library):
 * - one event per POST, body = the event JSON (`content-type: application/json`);
 * - `webhook-id`: the event id, stable across retries and re-drives, so the receiver de-duplicates on it;
 * - `webhook-timestamp`: integer Unix seconds of this attempt (receivers reject stale ones, replay protection);
 * - `webhook-signature`: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` keyed by the `whsec_…` secret.
 * The secret (secretRef) is the `whsec_…` signing secret the receiver verifies with.
 */
export const WebhookOptions = z.strictObject({});
export type WebhookOptions = z.infer<typeof WebhookOptions>;

function signerFor(secret: string): Webhook {
  if (!secret.startsWith('whsec_')) {
    throw new PermanentDeliveryError('webhook: the secret must be a Standard Webhooks signing secret ("whsec_…")');
  }
  try {
    return new Webhook(secret);
  } catch {
    // Never echo the secret: say what is wrong with it only.
    throw new PermanentDeliveryError('webhook: the signing secret is not valid base64 after "whsec_"');
  }
}

async function deliver(events: StintEvent[], ctx: DeliveryContext): Promise<void> {
  WebhookOptions.parse(ctx.target.options);
  const signer = signerFor(ctx.secret);
  for (const event of events) {
    const body = JSON.stringify(stintFormat(event, ctx.target.format));
    const now = ctx.now();
    const response = await ctx.http.send({
      method: 'POST',
      url: ctx.target.endpoint,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Stint-Webhooks/1',
        'webhook-id': event.id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': signer.sign(event.id, now, body),
      },
      body,
    });
    expectSuccess(response, `webhook ${ctx.target.name}`);
  }
}

export const webhookDriver: TargetDriver = {
  kind: 'webhook',
  optionsSchema: WebhookOptions,
  maxBatch: 1,
  deliver,
};

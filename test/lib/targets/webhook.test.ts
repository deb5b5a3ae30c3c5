import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import type { StintEvent } from '#events/schemas.ts';
import { buildSamples } from '#lib/events/samples.ts';
import { webhookDriver } from '#lib/targets/kinds/webhook.ts';
import { OcsfUserAccessManagement } from '#lib/targets/ocsf.ts';
import { PermanentDeliveryError, RetryableDeliveryError } from '#lib/targets/types.ts';
import { type Answer, contextFor, header, nth, type Receiver, rejectionOf, startReceiver } from './receiver.ts';

// A Standard Webhooks signing secret: "whsec_" + base64 of 32 random-looking bytes.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const samples = buildSamples();
const events: StintEvent[] = [samples['request.created'], samples['request.approved'], samples['grant.active']];

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

async function receiving(answer: Answer = { status: 204 }): Promise<Receiver> {
  receiver = await startReceiver(() => answer);
  return receiver;
}

function target(url: string, overrides: Record<string, unknown> = {}) {
  return {
    name: 'hooks',
    kind: 'webhook' as const,
    endpoint: `${url}/hooks/stint`,
    secretRef: 'env:HOOK',
    ...overrides,
  };
}

describe('webhook kind (Standard Webhooks)', () => {
  it('sends one signed POST per event that the receiver verifies with standardwebhooks', async () => {
    const { url, received } = await receiving();
    const before = Math.floor(Date.now() / 1000);
    await webhookDriver.deliver(events, contextFor(target(url), SECRET));
    const after = Math.floor(Date.now() / 1000);

    expect(received).toHaveLength(3);
    const verifier = new Webhook(SECRET);
    events.forEach((event, i) => {
      const got = nth(received, i);
      expect(got.method).toBe('POST');
      expect(got.path).toBe('/hooks/stint');
      expect(header(got, 'content-type')).toBe('application/json');
      expect(header(got, 'webhook-id')).toBe(event.id);
      const timestamp = Number(header(got, 'webhook-timestamp'));
      expect(Number.isInteger(timestamp)).toBe(true);
      expect(timestamp).toBeGreaterThanOrEqual(before);
      expect(timestamp).toBeLessThanOrEqual(after);
      expect(header(got, 'webhook-signature')).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
      const verified = verifier.verify(got.body.toString('utf8'), {
        'webhook-id': header(got, 'webhook-id'),
        'webhook-timestamp': header(got, 'webhook-timestamp'),
        'webhook-signature': header(got, 'webhook-signature'),
      });
      expect(verified).toEqual(event);
      expect(JSON.parse(got.body.toString('utf8'))).toEqual(event);
    });
  });

  it('produces signatures that fail verification for a changed body or another secret', async () => {
    const { url, received } = await receiving();
    await webhookDriver.deliver(events.slice(0, 1), contextFor(target(url), SECRET));
    const got = nth(received, 0);
    const headers = {
      'webhook-id': header(got, 'webhook-id'),
      'webhook-timestamp': header(got, 'webhook-timestamp'),
      'webhook-signature': header(got, 'webhook-signature'),
    };
    const body = got.body.toString('utf8');
    expect(() => new Webhook(SECRET).verify(body.replace('PENDING', 'APPROVED'), headers)).toThrow(
      'No matching signature found',
    );
    expect(() => new Webhook('whsec_c2VjcmV0LW9mLWFub3RoZXItcmVjZWl2ZXI=').verify(body, headers)).toThrow(
      'No matching signature found',
    );
  });

  it('keeps the webhook-id of an event across re-deliveries, so receivers de-duplicate', async () => {
    const { url, received } = await receiving();
    const ctx = contextFor(target(url), SECRET);
    await webhookDriver.deliver(events.slice(1, 2), ctx);
    await webhookDriver.deliver(events.slice(1, 2), ctx);
    expect(received.map((r) => header(r, 'webhook-id'))).toEqual([events[1]?.id, events[1]?.id]);
  });

  it('delivers one event per call (its batching limit)', () => {
    expect(webhookDriver.maxBatch).toBe(1);
    expect(webhookDriver.kind).toBe('webhook');
  });

  it('throws a retryable error on 503', async () => {
    const { url } = await receiving({ status: 503, body: 'maintenance' });
    const error = await rejectionOf(webhookDriver.deliver(events.slice(0, 1), contextFor(target(url), SECRET)));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({ status: 503, answer: 'maintenance', message: 'webhook hooks: HTTP 503' });
  });

  it('throws a permanent error with the answer on 400 and stops at the failing event', async () => {
    const { url, received } = await receiving({ status: 400, body: '{"error":"unknown event type"}' });
    const error = await rejectionOf(webhookDriver.deliver(events, contextFor(target(url), SECRET)));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({ status: 400, answer: '{"error":"unknown event type"}' });
    expect(received).toHaveLength(1);
  });

  it('sends OCSF (User Access Management, 3005) when the target asks for it, still signed', async () => {
    const { url, received } = await receiving();
    await webhookDriver.deliver(events.slice(0, 1), contextFor(target(url, { format: 'ocsf' }), SECRET));
    const got = nth(received, 0);
    const verified = new Webhook(SECRET).verify(got.body.toString('utf8'), {
      'webhook-id': header(got, 'webhook-id'),
      'webhook-timestamp': header(got, 'webhook-timestamp'),
      'webhook-signature': header(got, 'webhook-signature'),
    });
    expect(OcsfUserAccessManagement.parse(verified).metadata.uid).toBe(events[0]?.id);
    expect(header(got, 'webhook-id')).toBe(events[0]?.id);
  });

  it('refuses a secret that is not a whsec_ signing secret without echoing it', async () => {
    const { url, received } = await receiving();
    const error = await rejectionOf(
      webhookDriver.deliver(events.slice(0, 1), contextFor(target(url), 'hunter2-plain-password')),
    );
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/whsec_/);
    expect(error.message).not.toContain('hunter2');
    expect(received).toHaveLength(0);
  });
});

import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { StintEvent } from '#events/schemas.ts';
import { buildSamples } from '#lib/events/samples.ts';
import { SumoLogicOptions, sumoLogicDriver } from '#lib/targets/kinds/sumo-logic.ts';
import { PermanentDeliveryError, RetryableDeliveryError } from '#lib/targets/types.ts';
import { type Answer, contextFor, header, nth, type Receiver, rejectionOf, startReceiver } from './receiver.ts';

const CODE = 'ZaVnC4dhaV2ZH4NTSpRJQ_ZBHvWLMAQ7SYKjUQo0A0yYSqXtJxlgPxNDVEYkUe7kwMc0cHW8S9h6';
const samples = buildSamples();
const all: StintEvent[] = Object.values(samples);
const three: StintEvent[] = [samples['request.created'], samples['grant.revoked'], samples['flow.updated']];

const SumoLine = z.looseObject({ id: z.string() });

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

async function receiving(answer: (index: number) => Answer = () => ({ status: 200 })): Promise<Receiver> {
  receiver = await startReceiver((_, index) => answer(index));
  return receiver;
}

/** The endpoint names the collection host; the secret is the whole upload URL. */
function setup(url: string, options: Record<string, unknown> = {}) {
  const target = { name: 'sumo', kind: 'sumo-logic' as const, endpoint: url, secretRef: 'env:SUMO_URL', options };
  return contextFor(target, `${url}/receiver/v1/http/${CODE}`);
}

const linesOf = (body: Buffer): unknown[] =>
  body
    .toString('utf8')
    .split('\n')
    .map((line) => JSON.parse(line));

describe('sumo-logic kind (HTTP Logs and Metrics Source)', () => {
  it('posts gzipped newline-delimited event JSON to the upload URL with the metadata headers', async () => {
    const { url, received } = await receiving();
    const options = {
      category: 'security/stint',
      sourceName: 'stint-audit',
      sourceHost: 'stint-prod',
      fields: { env: 'prod', team: 'security' },
    };
    await sumoLogicDriver.deliver(three, setup(url, options));

    expect(received).toHaveLength(1);
    const got = nth(received, 0);
    expect(got.method).toBe('POST');
    expect(got.path).toBe(`/receiver/v1/http/${CODE}`);
    expect(header(got, 'x-sumo-category')).toBe('security/stint');
    expect(header(got, 'x-sumo-name')).toBe('stint-audit');
    expect(header(got, 'x-sumo-host')).toBe('stint-prod');
    expect(header(got, 'x-sumo-fields')).toBe('env=prod,team=security');
    expect(header(got, 'content-encoding')).toBe('gzip');
    // No metric Content-Type (that would make Sumo parse metrics) and no credential header: the URL is the secret.
    expect(got.headers['content-type']).toBeUndefined();
    expect(got.headers.authorization).toBeUndefined();
    const text = gunzipSync(got.body).toString('utf8');
    expect(text.split('\n')).toHaveLength(3);
    expect(text.split('\n').map((line) => JSON.parse(line))).toEqual(three);
  });

  it('sends plain text and only the headers configured when gzip is off', async () => {
    const { url, received } = await receiving();
    await sumoLogicDriver.deliver(three.slice(0, 2), setup(url, { gzip: false }));
    const got = nth(received, 0);
    expect(got.headers['content-encoding']).toBeUndefined();
    expect(Object.keys(got.headers).filter((h) => h.startsWith('x-sumo'))).toEqual([]);
    expect(linesOf(got.body)).toEqual(three.slice(0, 2));
  });

  it('keeps each request under 1 MB of uncompressed data (the documented maximum), losing no event', async () => {
    const { url, received } = await receiving();
    const many = Array.from({ length: 1000 }, (_, i) => {
      const event = all[i % all.length];
      if (event === undefined) throw new Error('no sample');
      return { ...event, id: `${event.id}#${i}` };
    });
    await sumoLogicDriver.deliver(many, setup(url));
    expect(received.length).toBeGreaterThan(1);
    const texts = received.map((r) => gunzipSync(r.body));
    for (const text of texts) expect(text.byteLength).toBeLessThanOrEqual(1_000_000);
    const ids = texts.flatMap((t) => linesOf(t).map((line) => SumoLine.parse(line).id));
    expect(ids).toEqual(many.map((e) => e.id));
  });

  it('honours a smaller maxBatchBytes', async () => {
    const { url, received } = await receiving();
    await sumoLogicDriver.deliver(all, setup(url, { gzip: false, maxBatchBytes: 4096 }));
    expect(received.length).toBeGreaterThan(1);
    for (const request of received) expect(request.body.byteLength).toBeLessThanOrEqual(4096);
    expect(received.flatMap((r) => linesOf(r.body).map((line) => SumoLine.parse(line).id))).toEqual(
      all.map((e) => e.id),
    );
  });

  it('defaults to gzip and 1 MB batches', () => {
    expect(SumoLogicOptions.parse({})).toEqual({ gzip: true, maxBatchBytes: 1_000_000 });
    expect(() => SumoLogicOptions.parse({ maxBatchBytes: 2_000_000 })).toThrow();
  });

  it('throws a retryable error on 503 and on 429', async () => {
    const { url } = await receiving((i) => (i === 0 ? { status: 503 } : { status: 429, body: 'slow down' }));
    const first = await rejectionOf(sumoLogicDriver.deliver(three, setup(url)));
    expect(first).toBeInstanceOf(RetryableDeliveryError);
    expect(first).toMatchObject({ status: 503, message: 'sumo-logic sumo: HTTP 503' });
    const second = await rejectionOf(sumoLogicDriver.deliver(three, setup(url)));
    expect(second).toBeInstanceOf(RetryableDeliveryError);
    expect(second).toMatchObject({ status: 429, answer: 'slow down' });
  });

  it('throws a permanent error with the answer on 400, never naming the upload URL', async () => {
    const { url } = await receiving(() => ({ status: 400, body: 'bad request' }));
    const error = await rejectionOf(sumoLogicDriver.deliver(three, setup(url)));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({ status: 400, answer: 'bad request', message: 'sumo-logic sumo: HTTP 400' });
    expect(error.message).not.toContain(CODE);
  });

  it('refuses an upload URL on another host than the endpoint, without echoing it', async () => {
    const { url, received } = await receiving();
    const ctx = {
      ...setup(url),
      secret: `https://collectors.attacker.example/receiver/v1/http/${CODE}`,
    };
    const error = await rejectionOf(sumoLogicDriver.deliver(three, ctx));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/not on the endpoint's host 127\.0\.0\.1:\d+/);
    expect(error.message).not.toContain(CODE);
    expect(received).toHaveLength(0);
  });

  it('refuses a secret that is not an HTTP source upload URL', async () => {
    const { url } = await receiving();
    const notUrl = await rejectionOf(sumoLogicDriver.deliver(three, { ...setup(url), secret: CODE }));
    expect(notUrl).toBeInstanceOf(PermanentDeliveryError);
    expect(notUrl.message).toBe('sumo-logic: the secret must be the HTTP source upload URL');
    expect(notUrl.message).not.toContain(CODE);
    const otherPath = await rejectionOf(sumoLogicDriver.deliver(three, { ...setup(url), secret: `${url}/api/v1/x` }));
    expect(otherPath.message).toBe('sumo-logic: the upload URL in the secret is not an HTTP source URL');
  });
});

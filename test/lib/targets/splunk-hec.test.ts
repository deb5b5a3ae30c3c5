import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { StintEvent } from '#events/schemas.ts';
import { buildSamples } from '#lib/events/samples.ts';
import { hecEventUrl, SplunkHecOptions, splunkHecDriver } from '#lib/targets/kinds/splunk-hec.ts';
import { PermanentDeliveryError, RetryableDeliveryError } from '#lib/targets/types.ts';
import { type Answer, contextFor, header, nth, type Receiver, rejectionOf, startReceiver } from './receiver.ts';

const TOKEN = '6d2c1f54-2f0e-4b9a-9c61-3b0e5a1f8c77';
const SUCCESS: Answer = {
  status: 200,
  body: '{"text":"Success","code":0}',
  headers: { 'content-type': 'application/json' },
};
const samples = buildSamples();
const all: StintEvent[] = Object.values(samples);
const three: StintEvent[] = [samples['request.created'], samples['grant.active'], samples['grant.expired']];

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

async function receiving(answer: (index: number) => Answer = () => SUCCESS): Promise<Receiver> {
  receiver = await startReceiver((_, index) => answer(index));
  return receiver;
}

function target(url: string, options: Record<string, unknown> = {}) {
  return { name: 'splunk', kind: 'splunk-hec' as const, endpoint: url, secretRef: 'env:HEC_TOKEN', options };
}

const HecObject = z.looseObject({ event: z.looseObject({ id: z.string() }) });
const eventIdsOf = (body: Buffer) => splitConcatenated(body.toString('utf8')).map((o) => HecObject.parse(o).event.id);

/** Splits HEC's batch form (JSON objects back to back, no array, no separator) into the objects. */
function splitConcatenated(text: string): unknown[] {
  const objects: unknown[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth === 0) objects.push(JSON.parse(text.slice(start, i + 1)));
    } else if (depth === 0) throw new Error(`unexpected ${JSON.stringify(c)} between events at ${i}`);
  }
  if (depth !== 0 || inString) throw new Error('truncated batch');
  return objects;
}

describe('splunk-hec kind (HTTP Event Collector)', () => {
  it('posts the events to /services/collector/event with the Splunk token scheme, as concatenated event objects', async () => {
    const { url, received } = await receiving();
    await splunkHecDriver.deliver(three, contextFor(target(url), TOKEN));

    expect(received).toHaveLength(1);
    const got = nth(received, 0);
    expect(got.method).toBe('POST');
    expect(got.path).toBe('/services/collector/event');
    expect(header(got, 'authorization')).toBe(`Splunk ${TOKEN}`);
    expect(header(got, 'content-type')).toBe('application/json');
    expect(got.headers['x-splunk-request-channel']).toBeUndefined();
    const body = got.body.toString('utf8');
    expect(body.startsWith('{"time":')).toBe(true);
    expect(body).not.toMatch(/^\[/);
    const objects = splitConcatenated(body);
    expect(objects).toHaveLength(3);
    three.forEach((event, i) => {
      const object = objects[i];
      expect(Object.keys(z.record(z.string(), z.unknown()).parse(object))).toEqual([
        'time',
        'source',
        'sourcetype',
        'event',
      ]);
      expect(object).toEqual({
        time: Date.parse(event.time) / 1000,
        source: 'stint',
        sourcetype: 'stint:audit',
        event,
      });
    });
  });

  it('sends epoch seconds with milliseconds as the event time', async () => {
    const { url, received } = await receiving();
    const event = { ...samples['request.created'], time: '2026-03-03T09:00:00.250Z' };
    await splunkHecDriver.deliver([event], contextFor(target(url), TOKEN));
    expect(splitConcatenated(nth(received, 0).body.toString('utf8'))).toEqual([
      expect.objectContaining({ time: 1772528400.25 }),
    ]);
  });

  it('sets host, index, sourcetype and the acknowledgement channel from the options', async () => {
    const { url, received } = await receiving();
    const channel = '0b6f1c8e-8d3a-4f5e-9a2b-7c1d2e3f4a5b';
    const options = { host: 'stint-prod', index: 'security_audit', sourcetype: 'stint:json', channel };
    await splunkHecDriver.deliver(three.slice(0, 1), contextFor(target(url, options), TOKEN));
    const got = nth(received, 0);
    expect(header(got, 'x-splunk-request-channel')).toBe(channel);
    expect(splitConcatenated(got.body.toString('utf8'))).toEqual([
      {
        time: Date.parse(three[0]?.time ?? '') / 1000,
        host: 'stint-prod',
        source: 'stint',
        sourcetype: 'stint:json',
        index: 'security_audit',
        event: three[0],
      },
    ]);
  });

  it('splits by maxBatchEvents, in order', async () => {
    const { url, received } = await receiving();
    await splunkHecDriver.deliver(all.slice(0, 5), contextFor(target(url, { maxBatchEvents: 2 }), TOKEN));
    const batches = received.map((r) => eventIdsOf(r.body));
    expect(batches.map((b) => b.length)).toEqual([2, 2, 1]);
    expect(batches.flat()).toEqual(all.slice(0, 5).map((e) => e.id));
  });

  it('keeps every request within maxBatchBytes and loses no event', async () => {
    const { url, received } = await receiving();
    await splunkHecDriver.deliver(all, contextFor(target(url, { maxBatchBytes: 4096 }), TOKEN));
    expect(received.length).toBeGreaterThan(1);
    for (const request of received) expect(request.body.byteLength).toBeLessThanOrEqual(4096);
    expect(received.flatMap((r) => eventIdsOf(r.body))).toEqual(all.map((e) => e.id));
  });

  it('defaults to 100 events and 1 MB per request', () => {
    expect(SplunkHecOptions.parse({})).toEqual({
      sourcetype: 'stint:audit',
      source: 'stint',
      maxBatchEvents: 100,
      maxBatchBytes: 1_000_000,
    });
    expect(splunkHecDriver.maxBatch).toBe(100);
  });

  it('retries on code 9 "Server is busy" (HTTP 503)', async () => {
    const { url } = await receiving(() => ({ status: 503, body: '{"text":"Server is busy","code":9}' }));
    const error = await rejectionOf(splunkHecDriver.deliver(three, contextFor(target(url), TOKEN)));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({
      message: 'splunk-hec splunk: HTTP 503, HEC code 9 "Server is busy"',
      status: 503,
      answer: '{"text":"Server is busy","code":9}',
    });
  });

  it('treats code 6 "Invalid data format" (HTTP 400) as permanent, naming the bad event', async () => {
    const answer = '{"text":"Invalid data format","code":6,"invalid-event-number":1}';
    const { url } = await receiving(() => ({ status: 400, body: answer }));
    const error = await rejectionOf(splunkHecDriver.deliver(three, contextFor(target(url), TOKEN)));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({
      message: 'splunk-hec splunk: HTTP 400, HEC code 6 "Invalid data format" (event #1)',
      status: 400,
      answer,
    });
  });

  it('treats code 4 "Invalid token" (HTTP 403) as permanent', async () => {
    const { url } = await receiving(() => ({ status: 403, body: '{"text":"Invalid token","code":4}' }));
    const error = await rejectionOf(splunkHecDriver.deliver(three, contextFor(target(url), TOKEN)));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).not.toContain(TOKEN);
  });

  it('does not take a non-zero code for success even with HTTP 200', async () => {
    const { url } = await receiving(() => ({ status: 200, body: '{"text":"Incorrect index","code":7}' }));
    const error = await rejectionOf(splunkHecDriver.deliver(three, contextFor(target(url), TOKEN)));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/HEC code 7 "Incorrect index"/);
  });

  it('retries a load balancer 503 without a HEC answer, and fails a plain 400 permanently', async () => {
    const { url } = await receiving((i) => (i === 0 ? { status: 503, body: '<html>down</html>' } : { status: 400 }));
    const first = await rejectionOf(splunkHecDriver.deliver(three, contextFor(target(url), TOKEN)));
    expect(first).toBeInstanceOf(RetryableDeliveryError);
    expect(first).toMatchObject({ status: 503, answer: '<html>down</html>' });
    const second = await rejectionOf(splunkHecDriver.deliver(three, contextFor(target(url), TOKEN)));
    expect(second).toBeInstanceOf(PermanentDeliveryError);
    expect(second).toMatchObject({ status: 400 });
  });

  it('builds the event URL from the endpoint, keeping a path already given', () => {
    expect(hecEventUrl('https://splunk.example.com:8088')).toBe(
      'https://splunk.example.com:8088/services/collector/event',
    );
    expect(hecEventUrl('https://splunk.example.com/')).toBe('https://splunk.example.com/services/collector/event');
    expect(hecEventUrl('https://proxy.example.com/splunk/')).toBe(
      'https://proxy.example.com/splunk/services/collector/event',
    );
    expect(hecEventUrl('https://h.example.com/services/collector')).toBe(
      'https://h.example.com/services/collector/event',
    );
    expect(hecEventUrl('https://h.example.com/services/collector/event')).toBe(
      'https://h.example.com/services/collector/event',
    );
  });
});

import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { ValidationError } from '#lib/domain/errors.ts';
import { TargetConfig, type TargetConfigInput } from '#lib/targets/config.ts';
import {
  checkBulkResponse,
  ELASTIC_FILTER_PATH,
  ELASTIC_MAX_BYTES,
  elasticBulkUrl,
  elasticDriver,
} from '#lib/targets/kinds/elastic.ts';
import { PermanentDeliveryError, RetryableDeliveryError } from '#lib/targets/types.ts';
import { type Answer, context, deliveryError, manyEvents, type Received, samples, startVendor } from './siem-server.ts';

const API_KEY = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==';
const INDEX = 'logs-stint.audit-default';

function target(endpoint: string, options: Record<string, unknown> = {}): TargetConfigInput {
  return {
    name: 'elastic',
    kind: 'elastic',
    endpoint,
    secretRef: 'env:ELASTIC_API_KEY',
    options: { index: INDEX, ...options },
  };
}

const Action = z.strictObject({ create: z.strictObject({ _index: z.string(), _id: z.string() }) });

/** Parses a bulk body exactly as documented: action line, source line, …, and a final newline. */
function operations(request: Received): { index: string; id: string; doc: Record<string, unknown> }[] {
  expect(request.body.endsWith('\n')).toBe(true);
  const lines = request.body.slice(0, -1).split('\n');
  expect(lines.length % 2).toBe(0);
  const ops: { index: string; id: string; doc: Record<string, unknown> }[] = [];
  for (let i = 0; i < lines.length; i += 2) {
    const action = Action.parse(JSON.parse(lines[i] ?? ''));
    ops.push({ index: action.create._index, id: action.create._id, doc: JSON.parse(lines[i + 1] ?? '') });
  }
  return ops;
}

type ItemOutcome = { status: number; error?: { type: string; reason: string } };

/**
 * An Elasticsearch stand-in: keeps documents by `_id`, answers `create` of a known id with 409
 * version_conflict_engine_exception, and lets a test fail chosen items. Answers in the filtered shape.
 */
async function fakeElastic(fail: (id: string, attempt: number) => ItemOutcome | undefined = () => undefined) {
  const store = new Map<string, Record<string, unknown>>();
  const attempts = new Map<string, number>();
  const vendor = await startVendor((request): Answer => {
    const items = operations(request).map(({ id, doc }) => {
      const attempt = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, attempt);
      const failure = fail(id, attempt);
      if (failure !== undefined) return { create: failure };
      if (store.has(id)) {
        return {
          create: {
            status: 409,
            error: { type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict` },
          },
        };
      }
      store.set(id, doc);
      return { create: { status: 201 } };
    });
    const errors = items.some((i) => i.create.status >= 300);
    return { status: 200, body: JSON.stringify(errors ? { errors, items } : { errors }) };
  });
  return { ...vendor, store };
}

describe('elastic wire format', () => {
  it('posts NDJSON create actions with the event id as _id and @timestamp, authorized by ApiKey', async () => {
    const elastic = await fakeElastic();
    const events = samples();

    await elasticDriver.deliver(events, context(target(elastic.url), API_KEY));

    expect(elastic.received).toHaveLength(1);
    const [request] = elastic.received;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/_bulk');
    expect(request?.query).toEqual({ filter_path: ELASTIC_FILTER_PATH });
    expect(request?.headers.authorization).toBe(`ApiKey ${API_KEY}`);
    expect(request?.headers['content-type']).toBe('application/x-ndjson');
    expect(request?.headers['content-encoding']).toBeUndefined();
    const ops = request === undefined ? [] : operations(request);
    expect(ops.map((o) => o.id)).toEqual(events.map((e) => e.id));
    ops.forEach((op, i) => {
      const event = events[i];
      expect(op.index).toBe(INDEX);
      expect(op.doc).toEqual({ '@timestamp': event?.time, ...event });
    });
    // Samples of alternative outcomes share a request version, hence an id: the later ones answer 409, delivered.
    expect(elastic.store.size).toBe(new Set(events.map((e) => e.id)).size);
    expect(elastic.store.size).toBeLessThan(events.length);
  });

  it('keeps the endpoint path prefix and passes the ingest pipeline', async () => {
    const elastic = await fakeElastic();

    await elasticDriver.deliver(
      manyEvents(1),
      context(target(`${elastic.url}/es/`, { pipeline: 'stint-audit' }), API_KEY),
    );

    expect(elastic.received[0]?.path).toBe('/es/_bulk');
    expect(elastic.received[0]?.query).toEqual({ filter_path: ELASTIC_FILTER_PATH, pipeline: 'stint-audit' });
  });

  it('sends at most 100 operations per request, in order', async () => {
    const elastic = await fakeElastic();
    const events = manyEvents(250);

    await elasticDriver.deliver(events, context(target(elastic.url), API_KEY));

    expect(elastic.received.map((r) => operations(r).length)).toEqual([100, 100, 50]);
    expect(elastic.received.flatMap((r) => operations(r).map((o) => o.id))).toEqual(events.map((e) => e.id));
  });

  it('keeps each request under the bulk byte limit', async () => {
    const elastic = await fakeElastic();
    const events = manyEvents(60, 200_000);

    await elasticDriver.deliver(events, context(target(elastic.url), API_KEY));

    expect(elastic.received.length).toBeGreaterThan(1);
    for (const request of elastic.received) {
      expect(Buffer.byteLength(request.body, 'utf8')).toBeLessThanOrEqual(ELASTIC_MAX_BYTES);
    }
    expect(elastic.store.size).toBe(60);
  });
});

describe('elastic bulk answers', () => {
  it('treats 409 version conflicts on create as already delivered', async () => {
    const elastic = await fakeElastic();
    const events = manyEvents(3);
    await elasticDriver.deliver(events.slice(0, 2), context(target(elastic.url), API_KEY));

    await elasticDriver.deliver(events, context(target(elastic.url), API_KEY));

    const second = elastic.received[1];
    expect(second === undefined ? [] : operations(second).map((o) => o.id)).toEqual(events.map((e) => e.id));
    expect([...elastic.store.keys()]).toEqual(events.map((e) => e.id));
  });

  it('retries a batch with a 429 item, and the retry stores every event once', async () => {
    const elastic = await fakeElastic((id, attempt) =>
      id === 'request:01JTEST:1' && attempt === 1
        ? { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'rejected execution' } }
        : undefined,
    );
    const events = manyEvents(3);
    const ctx = context(target(elastic.url), API_KEY);

    const error = await deliveryError(elasticDriver.deliver(events, ctx));
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({ status: 429 });
    expect(JSON.parse(error.answer ?? '')).toEqual([
      { id: 'request:01JTEST:1', status: 429, type: 'es_rejected_execution_exception', reason: 'rejected execution' },
    ]);
    expect(elastic.store.size).toBe(2);

    await elasticDriver.deliver(events, ctx);

    expect([...elastic.store.keys()].sort()).toEqual(events.map((e) => e.id).sort());
  });

  it('retries a batch with a 503 item', async () => {
    const elastic = await fakeElastic((id) =>
      id === 'request:01JTEST:0'
        ? { status: 503, error: { type: 'unavailable_shards_exception', reason: 'primary shard is not active' } }
        : undefined,
    );

    const error = await deliveryError(elasticDriver.deliver(manyEvents(2), context(target(elastic.url), API_KEY)));

    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({ status: 503 });
  });

  it('fails permanently on a 400 item with the item error as the answer', async () => {
    const reason = "failed to parse field [request.status] of type [long] in document with id 'request:01JTEST:2'";
    const elastic = await fakeElastic((id) =>
      id === 'request:01JTEST:2' ? { status: 400, error: { type: 'document_parsing_exception', reason } } : undefined,
    );

    const error = await deliveryError(elasticDriver.deliver(manyEvents(3), context(target(elastic.url), API_KEY)));

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({ status: 400 });
    expect(String(error)).toMatch(/1 of 3 events refused \(400 document_parsing_exception\)/);
    expect(JSON.parse(error.answer ?? '')).toEqual([
      { id: 'request:01JTEST:2', status: 400, type: 'document_parsing_exception', reason },
    ]);
    expect(elastic.store.size).toBe(2);
  });

  it('retries first when a batch has both a retryable and a permanent item', async () => {
    const elastic = await fakeElastic((id) => {
      if (id === 'request:01JTEST:0')
        return { status: 400, error: { type: 'mapper_parsing_exception', reason: 'bad' } };
      if (id === 'request:01JTEST:1')
        return { status: 503, error: { type: 'node_not_connected_exception', reason: 'x' } };
      return undefined;
    });

    const error = await deliveryError(elasticDriver.deliver(manyEvents(2), context(target(elastic.url), API_KEY)));

    expect(error).toBeInstanceOf(RetryableDeliveryError);
  });

  it.each([503, 429, 502])('throws RetryableDeliveryError on HTTP %i', async (status) => {
    const vendor = await startVendor(() => ({
      status,
      body: '{"error":{"type":"cluster_block_exception"},"status":503}',
    }));

    const error = await deliveryError(elasticDriver.deliver(manyEvents(1), context(target(vendor.url), API_KEY)));

    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({ status });
  });

  it.each([400, 401, 403, 404])('throws PermanentDeliveryError with the answer on HTTP %i', async (status) => {
    const answer = `{"error":{"type":"security_exception","reason":"unable to authenticate"},"status":${status}}`;
    const vendor = await startVendor(() => ({ status, body: answer }));

    const error = await deliveryError(elasticDriver.deliver(manyEvents(1), context(target(vendor.url), API_KEY)));

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({ status, answer });
  });

  it('reads a capped response: success when it starts with errors:false, retry otherwise', () => {
    const ok = { status: 200, headers: {}, body: '{"errors":false,"items":[{"create":{"status":201}},{"crea' };
    const bad = { status: 200, headers: {}, body: '{"errors":true,"items":[{"create":{"status":400,"err' };

    expect(() => checkBulkResponse(ok, ['a', 'b'], 'elastic t')).not.toThrow();
    expect(() => checkBulkResponse(bad, ['a', 'b'], 'elastic t')).toThrow(RetryableDeliveryError);
  });

  it('retries when the answer has fewer results than operations', () => {
    const body = JSON.stringify({ errors: true, items: [{ create: { status: 201 } }] });

    expect(() => checkBulkResponse({ status: 200, headers: {}, body }, ['a', 'b'], 'elastic t')).toThrow(
      /1 results for 2 operations/,
    );
  });
});

describe('elastic configuration', () => {
  const config = (endpoint: string, options: Record<string, unknown>) =>
    TargetConfig.parse({ name: 'es', kind: 'elastic', endpoint, secretRef: 'env:ES', options });

  it('builds the bulk URL from the endpoint', () => {
    expect(elasticBulkUrl(config('https://my-deployment.es.eu-west-1.aws.found.io', { index: INDEX }))).toBe(
      `https://my-deployment.es.eu-west-1.aws.found.io/_bulk?filter_path=${encodeURIComponent(ELASTIC_FILTER_PATH)}`,
    );
  });

  it.each([
    [{ index: 'Logs-Stint' }, /must be lowercase/],
    [{ index: '_hidden' }, /must not start with/],
    [{ index: 'a,b' }, /must not contain/],
    [{ index: 'logs stint' }, /must not contain/],
    [{}, /options.index/],
    [{ index: INDEX, refresh: true }, /options/],
  ])('refuses options %j', (options, message) => {
    const check = () => elasticDriver.checkTarget(config('https://es.example.com', options));
    expect(check).toThrow(ValidationError);
    expect(check).toThrow(message);
  });

  it('refuses an endpoint with a query or credentials', () => {
    expect(() => elasticDriver.checkTarget(config('https://es.example.com/?x=1', { index: INDEX }))).toThrow(
      /no query/,
    );
    expect(() => elasticDriver.checkTarget(config('https://elastic:pw@es.example.com', { index: INDEX }))).toThrow(
      /credentials/,
    );
  });
});

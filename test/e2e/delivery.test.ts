import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { redrive, sqsClient } from '../../scripts/redrive.ts';
import { call, until } from '../support/http.ts';

/**
 * Audit delivery end to end on the local runtime: the bus → a rule per target → the target's queue →
 * the kind's delivery function → a vendor stand-in over HTTP; retries, the DLQ and `npm run redrive`.
 */
type Vendor = { url: string; server: Server; answer: () => number; received: string[]; calls: number };

const HecEvent = z.object({ event: z.object({ id: z.string(), type: z.string() }) });

/** A Splunk HEC stand-in: records the ids of the events it accepted (200), answers `answer()` otherwise. */
async function splunkStandIn(answer: () => number): Promise<Vendor> {
  const vendor: Vendor = { url: '', server: createServer(), answer, received: [], calls: 0 };
  vendor.server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      vendor.calls++;
      const status = vendor.answer();
      if (status === 200 && req.headers.authorization === 'Splunk e2e-token') {
        const body = Buffer.concat(chunks).toString('utf8');
        for (const part of body.split(/(?<=\})\s*(?=\{"time")/))
          vendor.received.push(HecEvent.parse(JSON.parse(part)).event.id);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}');
      } else {
        res.writeHead(status, { 'content-type': 'application/json' }).end('{"text":"Invalid data format","code":6}');
      }
    });
  });
  await new Promise<void>((resolve) => vendor.server.listen(0, '127.0.0.1', resolve));
  const address = vendor.server.address();
  vendor.url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  return vendor;
}

let stint: Stint;
let flaky: Vendor;
let strict: Vendor;
let strictFixed = false;
let flakyCalls = 0;

beforeAll(async () => {
  flaky = await splunkStandIn(() => (++flakyCalls <= 3 ? 503 : 200));
  strict = await splunkStandIn(() => (strictFixed ? 200 : 400));
  const dir = await clusterParentDir('stint-e2e-delivery');
  stint = await startStint({
    pgDataDir: join(dir, 'pg'),
    pgPort: await freePort(),
    port: await freePort(),
    scheduleEveryMs: 1000,
    env: { E2E_SPLUNK_TOKEN: 'e2e-token' },
    config: {
      targets: [
        {
          name: 'flaky',
          kind: 'splunk-hec',
          endpoint: flaky.url,
          secretRef: 'env:E2E_SPLUNK_TOKEN',
          allowPrivateNetwork: true,
        },
        {
          name: 'strict',
          kind: 'splunk-hec',
          endpoint: strict.url,
          secretRef: 'env:E2E_SPLUNK_TOKEN',
          allowPrivateNetwork: true,
          filter: { types: ['request.created'] },
        },
      ],
    },
  });
}, 180_000);

afterAll(async () => {
  await stint?.stop();
  flaky?.server.close();
  strict?.server.close();
});

describe('audit delivery', () => {
  it('delivers every event once per event id through a target that answers 503 for a while, DLQ empty', async () => {
    const token = await stint.token({ sub: 'alice', email: 'alice@example.com', groups: [] });
    const created = await call(stint.url, 'POST', '/requests', {
      token,
      body: { flowId: 'demo-readonly', durationMinutes: 5, justification: 'delivery test' },
    });
    const { id } = created.json as { id: string };
    await until(
      () => call(stint.url, 'GET', `/requests/${id}`, { token }),
      (r) => (r.json as { status: string }).status === 'ACTIVE',
    );
    await call(stint.url, 'POST', `/requests/${id}/revoke`, { token, body: {} });
    const expected = await until(
      async () =>
        stint.runtime
          .events()
          .filter(
            (e) => z.object({ request: z.object({ id: z.string() }) }).safeParse(e.detail).data?.request.id === id,
          ),
      (events) => events.length === 5,
    );
    const ids = expected.map((e) => z.object({ id: z.string() }).parse(e.detail).id);
    await until(
      async () => flaky.received,
      (received) => ids.every((eventId) => received.includes(eventId)),
    );
    expect(flakyCalls).toBeGreaterThan(3);
    for (const eventId of ids) expect(flaky.received.filter((r) => r === eventId)).toHaveLength(1);
    expect(stint.runtime.queues().find((q) => q.name === 'Stint-target-flaky-dlq')?.visible).toBe(0);
  });

  it('puts an event a target refuses (400) in its DLQ with the answer, and redrive delivers it once fixed', async () => {
    const token = await stint.token({ sub: 'bob', email: 'bob@example.com', groups: [] });
    const created = await call(stint.url, 'POST', '/requests', {
      token,
      body: { flowId: 'demo-readonly', durationMinutes: 5, justification: 'strict target' },
    });
    const { id } = created.json as { id: string };
    await until(
      async () => stint.runtime.queues().find((q) => q.name === 'Stint-target-strict-dlq')?.visible ?? 0,
      (visible) => visible >= 1,
    );
    expect(strict.received).toEqual([]);

    const sqs = sqsClient(true, { PORT: String(stint.runtime.port) });
    const dlqUrl = `${stint.url}/000000000000/Stint-target-strict-dlq`;
    const peek = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlqUrl, MessageAttributeNames: ['All'], VisibilityTimeout: 0 }),
    );
    const message = peek.Messages?.[0];
    expect(message?.MessageAttributes?.['stint-status']?.StringValue).toBe('400');
    expect(message?.MessageAttributes?.['stint-answer']?.StringValue).toBe('{"text":"Invalid data format","code":6}');

    strictFixed = true;
    const result = await redrive(sqs, {
      target: 'strict',
      stackName: 'Stint',
      wait: () => new Promise((r) => setTimeout(r, 50)),
    });
    expect(result.total).toBeGreaterThanOrEqual(1);
    const createdEventId = `request:${id}:1`;
    await until(
      async () => strict.received,
      (received) => received.includes(createdEventId),
    );
    expect(stint.runtime.queues().find((q) => q.name === 'Stint-target-strict-dlq')?.visible).toBe(0);
  });
});

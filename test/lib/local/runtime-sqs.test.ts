import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteItemCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  QueueDoesNotExist,
  SendMessageBatchCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { StintBusEvent } from '#lib/local/eventbridge.ts';
import { type LocalRuntime, startLocalRuntime } from '#lib/local/runtime.ts';
import { synthFixtureTemplate } from '../../fixtures/local/stack.ts';

const repoRoot = new URL('../../../', import.meta.url).pathname;
const stateDir = mkdtempSync(join(tmpdir(), 'stint-runtime-sqs-'));
let runtime: LocalRuntime;
const start = (port?: number) =>
  startLocalRuntime({
    template: synthFixtureTemplate(),
    stateDir,
    repoRoot,
    port: port ?? 0,
    scheduleEveryMs: 3_600_000,
    sqsMaxRetryDelayMs: 20,
    log: () => {},
  });

// SDK clients as a redrive command would create them: endpoints from AWS_ENDPOINT_URL_* (set by the runtime).
let sqs: SQSClient;
let eventbridge: EventBridgeClient;
let dynamodb: DynamoDBClient;
beforeAll(async () => {
  runtime = await start();
  sqs = new SQSClient({});
  eventbridge = new EventBridgeClient({});
  dynamodb = new DynamoDBClient({});
});
afterAll(async () => {
  for (const c of [sqs, eventbridge, dynamodb]) c.destroy();
  await runtime.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

const Delivered = z.object({
  key: z.string(),
  eventId: z.string(),
  queue: z.string(),
  receiveCount: z.string(),
  groupId: z.string().nullable(),
});
type Delivered = z.infer<typeof Delivered>;
const delivered = (e: StintBusEvent) => (e.source === 'fixture.delivered' ? Delivered.parse(e.detail) : undefined);

/** Resolves with the deliveries (acknowledged on the bus) matching `test`, once there are `count` of them. */
function deliveries(test: (d: Delivered) => boolean, count: number): Promise<Delivered[]> {
  const found = () =>
    runtime
      .events()
      .map(delivered)
      .filter((d): d is Delivered => d !== undefined && test(d));
  return new Promise((resolve) => {
    const check = () => {
      const all = found();
      if (all.length < count) return false;
      resolve(all);
      return true;
    };
    if (check()) return;
    const off = runtime.subscribe(() => {
      if (check()) off();
    });
  });
}

const audit = (key: string) =>
  eventbridge.send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: 'stint',
          Source: 'fixture.audit',
          DetailType: 'request.created',
          Detail: JSON.stringify({ key }),
        },
      ],
    }),
  );
const brokenKey = (key: string) => ({ pk: { S: `BROKEN#${key}` }, sk: { S: 'BROKEN' } });
const tableName = () => z.string().parse(runtime.environmentOf('test/fixtures/local/handlers/register').TABLE_NAME);
const queueUrl = async (name: string) =>
  z.string().parse((await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl);
const queue = (name: string) => runtime.queues().find((q) => q.name === name);

describe('audit delivery through SQS in the local runtime', () => {
  it('carries an event from each target rule through its queue to the delivery function', async () => {
    const both = deliveries((d) => d.key === 'k1', 2);
    const put = await audit('k1');
    const eventId = put.Entries?.[0]?.EventId;
    const got = (await both).sort((a, b) => a.queue.localeCompare(b.queue));
    expect(got).toEqual([
      { key: 'k1', eventId, queue: 'fixture-target-audit', receiveCount: '1', groupId: null },
      { key: 'k1', eventId, queue: 'fixture-target-itsm.fifo', receiveCount: '1', groupId: 'itsm' },
    ]);
    await runtime.queuesIdle();
    expect(runtime.stats().sqs['fixture-target-audit']).toMatchObject({ sent: 1, deleted: 1, visible: 0, inFlight: 0 });
  });

  it('retries a record the target refuses, then moves it to the dead-letter queue after maxReceiveCount', async () => {
    await dynamodb.send(new PutItemCommand({ TableName: tableName(), Item: brokenKey('k2') }));
    const invocations = runtime.stats().invocations;
    await audit('k2');
    await runtime.queuesIdle();

    expect(runtime.queues()).toEqual(
      expect.arrayContaining([
        { name: 'fixture-target-audit', visible: 0, inFlight: 0, delayed: 0, dlq: 'fixture-target-audit-dlq' },
        { name: 'fixture-target-audit-dlq', visible: 1, inFlight: 0, delayed: 0 },
        { name: 'fixture-target-itsm.fifo', visible: 0, inFlight: 0, delayed: 0, dlq: 'fixture-target-itsm-dlq.fifo' },
        { name: 'fixture-target-itsm-dlq.fifo', visible: 1, inFlight: 0, delayed: 0 },
      ]),
    );
    const deliverFn = Object.keys(invocations).find((k) => k.startsWith('DeliverFn')) ?? 'DeliverFn';
    // Three receives on each queue, each a failed invocation of the delivery function.
    expect((runtime.stats().invocations[deliverFn] ?? 0) - (invocations[deliverFn] ?? 0)).toBe(6);
    expect(runtime.events().some((e) => delivered(e)?.key === 'k2')).toBe(false);
  });

  it('keeps the dead-lettered messages across a restart; StartMessageMoveTask drains them back and they are delivered', async () => {
    const port = runtime.port;
    await runtime.stop();
    runtime = await start(port);
    expect(queue('fixture-target-audit-dlq')?.visible).toBe(1);
    expect(queue('fixture-target-itsm-dlq.fifo')?.visible).toBe(1);

    await dynamodb.send(new DeleteItemCommand({ TableName: tableName(), Key: brokenKey('k2') }));
    const redelivered = deliveries((d) => d.key === 'k2', 2);
    for (const dlq of ['fixture-target-audit-dlq', 'fixture-target-itsm-dlq.fifo']) {
      const attrs = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: await queueUrl(dlq), AttributeNames: ['QueueArn'] }),
      );
      const SourceArn = z.string().parse(attrs.Attributes?.QueueArn);
      await sqs.send(new StartMessageMoveTaskCommand({ SourceArn }));
      const tasks = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn }));
      expect(tasks.Results?.[0]).toMatchObject({ Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 1 });
    }
    expect((await redelivered).map((d) => [d.queue, d.receiveCount]).sort()).toEqual([
      ['fixture-target-audit', '1'],
      ['fixture-target-itsm.fifo', '1'],
    ]);
    await runtime.queuesIdle();
    expect(runtime.queues().every((q) => q.visible === 0 && q.inFlight === 0)).toBe(true);
  });

  it('delivers a FIFO queue in order within each message group', async () => {
    const url = await queueUrl('fixture-target-itsm.fifo');
    const body = (key: string) => JSON.stringify({ id: `evt-${key}`, detail: { key } });
    const keys = ['g1-1', 'g2-1', 'g1-2', 'g1-3', 'g2-2', 'g1-4', 'g2-3'];
    const all = deliveries((d) => d.key.startsWith('g'), keys.length);
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: keys.map((key) => ({ Id: key, MessageBody: body(key), MessageGroupId: key.slice(0, 2) })),
      }),
    );
    const order = (await all).map((d) => [d.groupId, d.key]);
    expect(order.filter(([g]) => g === 'g1').map(([, k]) => k)).toEqual(['g1-1', 'g1-2', 'g1-3', 'g1-4']);
    expect(order.filter(([g]) => g === 'g2').map(([, k]) => k)).toEqual(['g2-1', 'g2-2', 'g2-3']);
  });

  it('answers an unknown queue with the SDK QueueDoesNotExist exception', async () => {
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: 'fixture-target-nope' }))).rejects.toBeInstanceOf(
      QueueDoesNotExist,
    );
  });
});

import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { StintEvent } from '#events/schemas.ts';
import { buildSamples } from '#lib/events/samples.ts';
import { TargetConfig } from '#lib/targets/config.ts';
import { Delivery, dlqNameOf, targetOfQueueArn } from '#lib/targets/deliver.ts';
import { createOutbound } from '#lib/targets/outbound.ts';
import { PermanentDeliveryError, RetryableDeliveryError, type TargetDriver } from '#lib/targets/types.ts';

/** SQS has no local stand-in at this level: the DLQ sends are checked on a mocked client. */
const sqsMock = mockClient(SQSClient);
const samples = Object.values(buildSamples()) as StintEvent[];

const splunk = TargetConfig.parse({
  name: 'splunk',
  kind: 'splunk-hec',
  endpoint: 'https://splunk.example.com:8088',
  secretRef: 'env:SPLUNK_TOKEN',
});
const queueArn = (name: string) => `arn:aws:sqs:eu-west-1:123456789012:Stint-target-${name}`;

function record(n: number, event: StintEvent | string, arn = queueArn('splunk')): SQSRecord {
  const body =
    typeof event === 'string'
      ? event
      : JSON.stringify({ id: `eb-${n}`, 'detail-type': event.type, source: 'stint', detail: event });
  return {
    messageId: `m${n}`,
    receiptHandle: `r${n}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'events',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: arn,
    awsRegion: 'eu-west-1',
  };
}

/** A driver that records what it was given and fails as told, to exercise the orchestration. */
class TestDriver implements TargetDriver {
  readonly kind = 'splunk-hec' as const;
  readonly optionsSchema = z.object({});
  readonly maxBatch = 2;
  readonly calls: string[][] = [];
  failOnCall: Record<number, Error> = {};
  async deliver(events: StintEvent[]): Promise<void> {
    this.calls.push(events.map((e) => e.id));
    const failure = this.failOnCall[this.calls.length];
    if (failure !== undefined) throw failure;
  }
}

let driver: TestDriver;
let delivery: Delivery;
beforeEach(() => {
  sqsMock.reset();
  sqsMock
    .on(GetQueueUrlCommand)
    .callsFake((input: { QueueName: string }) => ({ QueueUrl: `https://sqs.local/123/${input.QueueName}` }));
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'dlq-1' });
  driver = new TestDriver();
  delivery = new Delivery(driver, {
    targets: [splunk],
    sqs: new SQSClient({ region: 'eu-west-1' }),
    resolveSecret: async () => 'token',
    outbound: () => createOutbound({ local: true, allowPrivateNetwork: true }),
    tickets: () => ({ get: async () => undefined, put: async () => undefined }),
  });
});

function batch(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

describe('Delivery', () => {
  it('delivers events in order, in chunks of the kind’s batch limit', async () => {
    const events = samples.slice(0, 5);
    const result = await delivery.handle(batch(...events.map((e, i) => record(i, e))));
    expect(result.batchItemFailures).toEqual([]);
    expect(driver.calls).toEqual([[events[0]?.id, events[1]?.id], [events[2]?.id, events[3]?.id], [events[4]?.id]]);
  });

  it('keeps a retryably failed chunk and everything after it in the queue, in order', async () => {
    driver.failOnCall = { 2: new RetryableDeliveryError('HTTP 503', 503) };
    const result = await delivery.handle(batch(...samples.slice(0, 5).map((e, i) => record(i, e))));
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['m2', 'm3', 'm4']);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('moves a permanently refused chunk to the target’s DLQ with the answer and carries on', async () => {
    driver.failOnCall = { 1: new PermanentDeliveryError('HTTP 400', 400, '{"text":"Invalid data format","code":6}') };
    const result = await delivery.handle(batch(...samples.slice(0, 3).map((e, i) => record(i, e))));
    expect(result.batchItemFailures).toEqual([]);
    expect(driver.calls).toHaveLength(2);
    const sends = sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(sends.map((s) => s.QueueUrl)).toEqual([
      'https://sqs.local/123/Stint-target-splunk-dlq',
      'https://sqs.local/123/Stint-target-splunk-dlq',
    ]);
    expect(sends[0]?.MessageAttributes?.['stint-answer']?.StringValue).toBe('{"text":"Invalid data format","code":6}');
    expect(sends[0]?.MessageAttributes?.['stint-status']?.StringValue).toBe('400');
    expect(sends[0]?.MessageBody).toBe(record(0, samples[0] as StintEvent).body);
  });

  it('builds the ticket store only when a driver asks for it: a SIEM function has no table', async () => {
    const noTable = new Delivery(driver, {
      targets: [splunk],
      sqs: new SQSClient({ region: 'eu-west-1' }),
      resolveSecret: async () => 'token',
      outbound: () => createOutbound({ local: true, allowPrivateNetwork: true }),
      tickets: () => {
        throw new Error('Configuration error: environment variable STINT_TABLE_NAME is not set for this function');
      },
    });
    const result = await noTable.handle(batch(record(0, samples[0] as StintEvent)));
    expect(result.batchItemFailures).toEqual([]);
    expect(driver.calls).toEqual([[samples[0]?.id]]);
  });

  it('dead-letters a message that is not a Stint event instead of dropping it', async () => {
    const result = await delivery.handle(batch(record(0, '{"not":"an event"}'), record(1, samples[0] as StintEvent)));
    expect(result.batchItemFailures).toEqual([]);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(1);
    expect(driver.calls).toEqual([[samples[0]?.id]]);
  });

  it('keeps messages from a queue no configured target owns', async () => {
    const result = await delivery.handle(batch(record(0, samples[0] as StintEvent, queueArn('nobody'))));
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm0' }]);
    expect(driver.calls).toEqual([]);
  });
});

describe('queue naming', () => {
  it.each([
    ['arn:aws:sqs:eu-west-1:1:Stint-target-splunk', { name: 'splunk', queue: 'Stint-target-splunk', fifo: false }],
    [
      'arn:aws:sqs:eu-west-1:1:Stint-target-jira-ops.fifo',
      { name: 'jira-ops', queue: 'Stint-target-jira-ops.fifo', fifo: true },
    ],
    ['arn:aws:sqs:eu-west-1:1:other-queue', undefined],
  ])('reads the target of %s', (arn, expected) => {
    expect(targetOfQueueArn(arn)).toEqual(expected);
  });

  it('names the DLQ after the queue, FIFO included', () => {
    expect(dlqNameOf('Stint-target-splunk')).toBe('Stint-target-splunk-dlq');
    expect(dlqNameOf('Stint-target-jira.fifo')).toBe('Stint-target-jira-dlq.fifo');
  });
});

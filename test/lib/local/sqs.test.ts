import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  EmptyBatchRequest,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  QueueDoesNotExist,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  ResourceNotFoundException,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  SQSServiceException,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalEventBridge } from '#lib/local/eventbridge.ts';
import type { AwsService } from '#lib/local/http.ts';
import {
  LocalSqs,
  type LocalSqsOptions,
  type QueueDefinition,
  queueArn,
  queuesFromTemplate,
  type SqsLambdaRecord,
} from '#lib/local/sqs.ts';
import { loadTemplate } from '#lib/local/template.ts';
import { sdkConfig, serveAws } from './aws-server.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stint-sqs-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A LocalSqs behind an SDK client, as handlers reach it through the runtime's port. */
async function serve(definitions: QueueDefinition[], options: Partial<LocalSqsOptions> = {}) {
  const services: Record<string, AwsService> = {};
  const server = await serveAws(services);
  const sqs = new LocalSqs(definitions, { endpoint: server.url, maxRetryDelayMs: 5, ...options });
  services.AmazonSQS = sqs;
  const client = new SQSClient(sdkConfig(server.url));
  cleanups.push(async () => {
    client.destroy();
    await sqs.stop();
    await server.close();
  });
  return { sqs, client, url: (name: string) => `${server.url}/000000000000/${name}` };
}

const redrive = (dlq: string, maxReceiveCount: number) => ({
  redrivePolicy: { deadLetterTargetArn: queueArn(dlq), maxReceiveCount },
});
const attributes = async (client: SQSClient, url: string) =>
  (await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};

describe('LocalSqs over the SQS JSON protocol', () => {
  it('sends, receives and deletes a message with attributes, the SDK checking every MD5 digest', async () => {
    const { client, url } = await serve([{ name: 'audit' }]);
    const sent = await client.send(
      new SendMessageCommand({
        QueueUrl: url('audit'),
        MessageBody: '{"id":"e1"}',
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: 'audit' },
          attempt: { DataType: 'Number', StringValue: '3' },
          raw: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2, 3]) },
        },
      }),
    );
    const got = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: url('audit'),
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    expect(got.Messages).toHaveLength(1);
    const m = got.Messages?.[0];
    expect(m).toMatchObject({
      MessageId: sent.MessageId,
      Body: '{"id":"e1"}',
      MD5OfMessageAttributes: sent.MD5OfMessageAttributes,
      Attributes: { ApproximateReceiveCount: '1', SenderId: '000000000000' },
      MessageAttributes: {
        kind: { DataType: 'String', StringValue: 'audit' },
        attempt: { DataType: 'Number', StringValue: '3' },
        raw: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2, 3]) },
      },
    });
    expect(Number(m?.Attributes?.SentTimestamp)).toBeGreaterThan(0);
    expect(await attributes(client, url('audit'))).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '1',
      QueueArn: 'arn:aws:sqs:local:000000000000:audit',
    });

    await client.send(new DeleteMessageCommand({ QueueUrl: url('audit'), ReceiptHandle: m?.ReceiptHandle }));
    expect(await attributes(client, url('audit'))).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
  });

  it('makes an undeleted message visible again after its visibility timeout; only the latest receipt deletes it', async () => {
    const { client, url } = await serve([{ name: 'q' }]);
    await client.send(new SendMessageCommand({ QueueUrl: url('q'), MessageBody: 'x' }));
    const receive = () =>
      client.send(
        new ReceiveMessageCommand({ QueueUrl: url('q'), VisibilityTimeout: 0, MessageSystemAttributeNames: ['All'] }),
      );
    const first = (await receive()).Messages?.[0];
    const second = (await receive()).Messages?.[0];
    expect([first?.Attributes?.ApproximateReceiveCount, second?.Attributes?.ApproximateReceiveCount]).toEqual([
      '1',
      '2',
    ]);

    await client.send(new DeleteMessageCommand({ QueueUrl: url('q'), ReceiptHandle: first?.ReceiptHandle }));
    expect((await attributes(client, url('q'))).ApproximateNumberOfMessages).toBe('1');
    await client.send(new DeleteMessageCommand({ QueueUrl: url('q'), ReceiptHandle: second?.ReceiptHandle }));
    expect((await attributes(client, url('q'))).ApproximateNumberOfMessages).toBe('0');
  });

  it('long-polls: a receive with WaitTimeSeconds returns a message sent while it waits', async () => {
    const { client, url } = await serve([{ name: 'q' }]);
    const waiting = client.send(new ReceiveMessageCommand({ QueueUrl: url('q'), WaitTimeSeconds: 20 }));
    await client.send(new SendMessageCommand({ QueueUrl: url('q'), MessageBody: 'late' }));
    expect((await waiting).Messages?.map((m) => m.Body)).toEqual(['late']);
  });

  it('raises the SDK exception classes for a missing queue, a bad receipt handle and an empty batch', async () => {
    const { client, url } = await serve([{ name: 'q' }]);
    await expect(client.send(new GetQueueUrlCommand({ QueueName: 'nope' }))).rejects.toBeInstanceOf(QueueDoesNotExist);
    await expect(client.send(new SendMessageCommand({ QueueUrl: url('nope'), MessageBody: 'x' }))).rejects.toThrow(
      QueueDoesNotExist,
    );
    await expect(
      client.send(new DeleteMessageCommand({ QueueUrl: url('q'), ReceiptHandle: 'not-a-handle' })),
    ).rejects.toBeInstanceOf(ReceiptHandleIsInvalid);
    await expect(client.send(new SendMessageBatchCommand({ QueueUrl: url('q'), Entries: [] }))).rejects.toBeInstanceOf(
      EmptyBatchRequest,
    );
    await expect(client.send(new StartMessageMoveTaskCommand({ SourceArn: queueArn('nope') }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    const unmodelled = await client
      .send(new SendMessageCommand({ QueueUrl: url('q'), MessageBody: 'x', MessageDeduplicationId: 'd' }))
      .catch((e: unknown) => e);
    expect(unmodelled).toBeInstanceOf(SQSServiceException);
    expect(unmodelled).toMatchObject({ name: 'InvalidParameterValue' });
    expect((await client.send(new GetQueueUrlCommand({ QueueName: 'q' }))).QueueUrl).toBe(url('q'));
  });

  it('moves a message received maxReceiveCount times to the dead-letter queue, and a move task brings it back', async () => {
    const { client, url } = await serve([{ name: 'main', ...redrive('main-dlq', 2) }, { name: 'main-dlq' }]);
    await client.send(new SendMessageCommand({ QueueUrl: url('main'), MessageBody: 'poison' }));
    const receive = () =>
      client.send(
        new ReceiveMessageCommand({
          QueueUrl: url('main'),
          VisibilityTimeout: 0,
          MessageSystemAttributeNames: ['All'],
        }),
      );
    expect((await receive()).Messages).toHaveLength(1);
    expect((await receive()).Messages).toHaveLength(1);
    expect((await receive()).Messages ?? []).toEqual([]);
    expect((await attributes(client, url('main-dlq'))).ApproximateNumberOfMessages).toBe('1');
    expect((await attributes(client, url('main'))).RedrivePolicy).toBe(
      JSON.stringify({ deadLetterTargetArn: queueArn('main-dlq'), maxReceiveCount: 2 }),
    );
    expect((await client.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: url('main-dlq') }))).queueUrls).toEqual(
      [url('main')],
    );

    await expect(client.send(new StartMessageMoveTaskCommand({ SourceArn: queueArn('main') }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
    });
    const task = await client.send(new StartMessageMoveTaskCommand({ SourceArn: queueArn('main-dlq') }));
    expect(task.TaskHandle).toEqual(expect.any(String));
    const listed = await client.send(new ListMessageMoveTasksCommand({ SourceArn: queueArn('main-dlq') }));
    expect(listed.Results).toEqual([
      expect.objectContaining({
        Status: 'COMPLETED',
        SourceArn: queueArn('main-dlq'),
        ApproximateNumberOfMessagesMoved: 1,
        ApproximateNumberOfMessagesToMove: 1,
      }),
    ]);
    expect((await attributes(client, url('main-dlq'))).ApproximateNumberOfMessages).toBe('0');
    const back = (await receive()).Messages?.[0];
    expect([back?.Body, back?.Attributes?.ApproximateReceiveCount]).toEqual(['poison', '1']);
  });

  it('fails a move task for a message whose source queue is unknown, leaving it in the dead-letter queue', async () => {
    const { client, url } = await serve([{ name: 'main', ...redrive('dlq', 2) }, { name: 'dlq' }]);
    await client.send(new SendMessageCommand({ QueueUrl: url('dlq'), MessageBody: 'sent straight to the DLQ' }));
    await client.send(new StartMessageMoveTaskCommand({ SourceArn: queueArn('dlq') }));
    const listed = await client.send(new ListMessageMoveTasksCommand({ SourceArn: queueArn('dlq') }));
    expect(listed.Results?.[0]).toMatchObject({ Status: 'FAILED', FailureReason: 'CouldNotDetermineMessageSource' });
    expect((await attributes(client, url('dlq'))).ApproximateNumberOfMessages).toBe('1');
  });

  it('keeps a FIFO message group in order with one message in flight, and deduplicates for five minutes', async () => {
    let now = 1_000_000;
    const { client, url } = await serve([{ name: 'itsm.fifo', fifo: true }], { now: () => now });
    const q = url('itsm.fifo');
    const send = (body: string, group: string, dedup?: string) =>
      client.send(
        new SendMessageCommand({
          QueueUrl: q,
          MessageBody: body,
          MessageGroupId: group,
          ...(dedup === undefined ? {} : { MessageDeduplicationId: dedup }),
        }),
      );
    await expect(send('a1', 'a')).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    const a1 = await send('a1', 'a', 'd-a1');
    await send('a2', 'a', 'd-a2');
    await send('b1', 'b', 'd-b1');
    const again = await send('a1 again', 'a', 'd-a1');
    expect(again.MessageId).toBe(a1.MessageId);
    expect(again.SequenceNumber).toBe(a1.SequenceNumber);
    expect((await attributes(client, q)).ApproximateNumberOfMessages).toBe('3');

    const receive = async (max: number) =>
      (await client.send(new ReceiveMessageCommand({ QueueUrl: q, MaxNumberOfMessages: max }))).Messages ?? [];
    const first = await receive(1);
    expect(first.map((m) => m.Body)).toEqual(['a1']);
    expect((await receive(10)).map((m) => m.Body)).toEqual(['b1']);
    expect(await receive(10)).toEqual([]);
    await client.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: first[0]?.ReceiptHandle }));
    expect((await receive(10)).map((m) => m.Body)).toEqual(['a2']);

    now += 5 * 60 * 1000;
    const later = await send('a1', 'a', 'd-a1');
    expect(later.MessageId).not.toBe(a1.MessageId);
  });

  it('keeps messages and receive counts across a restart on the same folder', async () => {
    const dir = tempDir();
    const defs = [{ name: 'main', ...redrive('main-dlq', 5) }, { name: 'main-dlq' }];
    const before = await serve(defs, { dir });
    await before.client.send(new SendMessageCommand({ QueueUrl: before.url('main'), MessageBody: 'one' }));
    await before.client.send(new SendMessageCommand({ QueueUrl: before.url('main'), MessageBody: 'two' }));
    const received = await before.client.send(
      new ReceiveMessageCommand({ QueueUrl: before.url('main'), MaxNumberOfMessages: 1, VisibilityTimeout: 600 }),
    );
    expect(received.Messages?.map((m) => m.Body)).toEqual(['one']);
    await before.sqs.stop();

    const after = await serve(defs, { dir });
    expect(after.sqs.queues()).toEqual([
      { name: 'main', visible: 2, inFlight: 0, delayed: 0, dlq: 'main-dlq' },
      { name: 'main-dlq', visible: 0, inFlight: 0, delayed: 0 },
    ]);
    const again = await after.client.send(
      new ReceiveMessageCommand({
        QueueUrl: after.url('main'),
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    expect(again.Messages?.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount])).toEqual([
      ['one', '2'],
      ['two', '1'],
    ]);
  });
});

describe('LocalSqs event source mappings', () => {
  it('delivers Lambda SQS records, deletes the successes and retries reported failures until the DLQ', async () => {
    const { sqs, client, url } = await serve([
      { name: 'main', visibilityTimeout: 30, ...redrive('main-dlq', 3) },
      { name: 'main-dlq' },
    ]);
    const attempts: SqsLambdaRecord[] = [];
    sqs.addEventSource({
      id: 'Esm',
      queueArn: queueArn('main'),
      batchSize: 10,
      reportBatchItemFailures: true,
      deliver: async ({ Records }) => {
        attempts.push(...Records);
        return {
          batchItemFailures: Records.filter((r) => r.body === 'bad').map((r) => ({ itemIdentifier: r.messageId })),
        };
      },
    });
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: url('main'),
        Entries: ['ok1', 'bad', 'ok2'].map((body, i) => ({
          Id: `m${i}`,
          MessageBody: body,
          MessageAttributes: { kind: { DataType: 'String', StringValue: body } },
        })),
      }),
    );
    sqs.start();
    await sqs.idle();

    expect(
      attempts
        .filter((r) => r.body !== 'bad')
        .map((r) => r.body)
        .sort(),
    ).toEqual(['ok1', 'ok2']);
    expect(attempts.filter((r) => r.body === 'bad').map((r) => r.attributes.ApproximateReceiveCount)).toEqual([
      '1',
      '2',
      '3',
    ]);
    expect(attempts[0]).toEqual({
      messageId: expect.any(String),
      receiptHandle: expect.any(String),
      body: 'ok1',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d+$/),
        SenderId: '000000000000',
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d+$/),
      },
      messageAttributes: {
        kind: { stringValue: 'ok1', stringListValues: [], binaryListValues: [], dataType: 'String' },
      },
      md5OfBody: expect.stringMatching(/^[0-9a-f]{32}$/),
      md5OfMessageAttributes: expect.stringMatching(/^[0-9a-f]{32}$/),
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:local:000000000000:main',
      awsRegion: 'local',
    });
    expect(sqs.queues()).toEqual([
      { name: 'main', visible: 0, inFlight: 0, delayed: 0, dlq: 'main-dlq' },
      { name: 'main-dlq', visible: 1, inFlight: 0, delayed: 0 },
    ]);
    expect(sqs.stats().main).toMatchObject({ sent: 3, deleted: 2, deadLettered: 1, received: 5 });
  });

  it('retries a whole batch when the function throws or reports an id that is not in the batch', async () => {
    const { sqs, client, url } = await serve([{ name: 'q' }]);
    let calls = 0;
    sqs.addEventSource({
      id: 'Esm',
      queueArn: queueArn('q'),
      batchSize: 10,
      reportBatchItemFailures: true,
      concurrency: 1,
      deliver: async () => {
        calls += 1;
        if (calls === 1) throw new Error('boom');
        if (calls === 2) return { batchItemFailures: [{ itemIdentifier: 'not-in-batch' }] };
        return { batchItemFailures: [] };
      },
    });
    await client.send(new SendMessageCommand({ QueueUrl: url('q'), MessageBody: 'x' }));
    sqs.start();
    await sqs.idle();
    expect(calls).toBe(3);
  });

  it('keeps a visibility the function set itself before failing a record', async () => {
    // Without the function's ChangeMessageVisibility(0) the retry would wait min(120 s, 600 s) and time out.
    const { sqs, client, url } = await serve([{ name: 'q', visibilityTimeout: 120 }], { maxRetryDelayMs: 600_000 });
    const counts: string[] = [];
    sqs.addEventSource({
      id: 'Esm',
      queueArn: queueArn('q'),
      batchSize: 1,
      reportBatchItemFailures: true,
      concurrency: 1,
      deliver: async ({ Records: [r] }) => {
        if (r === undefined) return undefined;
        counts.push(r.attributes.ApproximateReceiveCount ?? '');
        if (counts.length > 1) return { batchItemFailures: [] };
        await client.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: url('q'),
            ReceiptHandle: r.receiptHandle,
            VisibilityTimeout: 0,
          }),
        );
        return { batchItemFailures: [{ itemIdentifier: r.messageId }] };
      },
    });
    await client.send(new SendMessageCommand({ QueueUrl: url('q'), MessageBody: 'x' }));
    sqs.start();
    await sqs.idle();
    expect(counts).toEqual(['1', '2']);
  });

  it('delivers a FIFO queue in order per message group, holding a group back while its message is retried', async () => {
    const { sqs, client, url } = await serve([{ name: 'itsm.fifo', fifo: true, contentBasedDeduplication: true }]);
    const attempts: string[] = [];
    let failedOnce = false;
    sqs.addEventSource({
      id: 'Esm',
      queueArn: queueArn('itsm.fifo'),
      batchSize: 1,
      reportBatchItemFailures: false,
      concurrency: 3,
      deliver: async ({ Records }) => {
        const body = Records[0]?.body ?? '';
        attempts.push(body);
        if (body === 'a2' && !failedOnce) {
          failedOnce = true;
          throw new Error('transient');
        }
      },
    });
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: url('itsm.fifo'),
        Entries: ['a1', 'b1', 'a2', 'b2', 'a3'].map((body) => ({
          Id: body,
          MessageBody: body,
          MessageGroupId: body.slice(0, 1),
        })),
      }),
    );
    sqs.start();
    await sqs.idle();
    expect(attempts.filter((b) => b.startsWith('a'))).toEqual(['a1', 'a2', 'a2', 'a3']);
    expect(attempts.filter((b) => b.startsWith('b'))).toEqual(['b1', 'b2']);
  });
});

describe('EventBridge rule targets that are queues', () => {
  const template = loadTemplate(
    {
      Resources: {
        Bus: { Type: 'AWS::Events::EventBus', Properties: { Name: 'stint' } },
        Audit: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'stint-target-audit' } },
        Itsm: {
          Type: 'AWS::SQS::Queue',
          Properties: { QueueName: 'stint-target-itsm.fifo', FifoQueue: true, ContentBasedDeduplication: true },
        },
        NoDedup: { Type: 'AWS::SQS::Queue', Properties: { FifoQueue: true } },
        RuleDlq: { Type: 'AWS::SQS::Queue', Properties: {} },
        Failing: { Type: 'AWS::Lambda::Function', Properties: {}, Metadata: { 'stint:entry': 'x.ts' } },
        Rule: {
          Type: 'AWS::Events::Rule',
          Properties: {
            EventBusName: { Ref: 'Bus' },
            EventPattern: { source: ['stint'] },
            Targets: [
              { Arn: { 'Fn::GetAtt': ['Audit', 'Arn'] }, Id: 'audit' },
              { Arn: { 'Fn::GetAtt': ['Itsm', 'Arn'] }, Id: 'itsm', SqsParameters: { MessageGroupId: 'itsm' } },
              {
                Arn: { 'Fn::GetAtt': ['NoDedup', 'Arn'] },
                Id: 'nodedup',
                SqsParameters: { MessageGroupId: 'g' },
                RetryPolicy: { MaximumRetryAttempts: 1 },
                DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['RuleDlq', 'Arn'] } },
              },
              {
                Arn: { 'Fn::GetAtt': ['Failing', 'Arn'] },
                Id: 'failing',
                RetryPolicy: { MaximumRetryAttempts: 5, MaximumEventAgeInSeconds: 0 },
                DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['RuleDlq', 'Arn'] } },
              },
            ],
          },
        },
      },
    },
    { endpoint: 'http://127.0.0.1:1' },
  );

  it('resolves queue names, ARNs and URLs from the template', () => {
    expect(template.resolve({ Ref: 'Audit' })).toBe('http://127.0.0.1:1/000000000000/stint-target-audit');
    expect(template.resolve({ 'Fn::GetAtt': ['Itsm', 'Arn'] })).toBe(
      'arn:aws:sqs:local:000000000000:stint-target-itsm.fifo',
    );
    expect(template.resolve({ 'Fn::GetAtt': ['NoDedup', 'QueueName'] })).toBe('NoDedup.fifo');
    expect(template.resolve({ 'Fn::GetAtt': ['RuleDlq', 'QueueUrl'] })).toBe('http://127.0.0.1:1/000000000000/RuleDlq');
    expect(queuesFromTemplate(template).map((q) => [q.name, q.fifo, q.contentBasedDeduplication])).toEqual([
      ['stint-target-audit', false, false],
      ['stint-target-itsm.fifo', true, true],
      ['NoDedup.fifo', true, false],
      ['RuleDlq', false, false],
    ]);
  });

  it('sends the whole event as the message body, with the static MessageGroupId for a FIFO queue', async () => {
    const { sqs, client, url } = await serve(queuesFromTemplate(template));
    let invocations = 0;
    const eb = new LocalEventBridge(template, {
      invoke: async () => {
        invocations += 1;
        throw new RangeError('target down');
      },
      sqs,
      retryBaseMs: 1,
    });
    cleanups.push(() => eb.stop());
    const [entry] = eb.putEvents([
      { Source: 'stint', DetailType: 'request.created', Detail: '{"id":"r1"}', EventBusName: 'stint' },
    ]).Entries;
    await eb.idle();
    const event = eb.events()[0];
    expect(event?.id).toBe(entry && 'EventId' in entry ? entry.EventId : undefined);
    const { bus: _bus, ...delivered } = event ?? { bus: '' };

    const audit = await client.send(new ReceiveMessageCommand({ QueueUrl: url('stint-target-audit') }));
    expect(JSON.parse(audit.Messages?.[0]?.Body ?? '')).toEqual(delivered);
    const itsm = await client.send(
      new ReceiveMessageCommand({ QueueUrl: url('stint-target-itsm.fifo'), MessageSystemAttributeNames: ['All'] }),
    );
    expect(itsm.Messages?.[0]?.Attributes?.MessageGroupId).toBe('itsm');
    expect(JSON.parse(itsm.Messages?.[0]?.Body ?? '')).toEqual(delivered);

    // A FIFO queue without content-based deduplication refuses EventBridge's SendMessage (no deduplication id):
    // retried, then sent to the target's dead-letter queue with EventBridge's error attributes.
    const dead = await client.send(
      new ReceiveMessageCommand({ QueueUrl: url('RuleDlq'), MessageAttributeNames: ['All'], MaxNumberOfMessages: 10 }),
    );
    const byTarget = (suffix: string) =>
      dead.Messages?.find((m) => m.MessageAttributes?.TARGET_ARN?.StringValue?.endsWith(suffix));
    expect(dead.Messages).toHaveLength(2);
    expect(JSON.parse(byTarget('NoDedup.fifo')?.Body ?? '')).toEqual(delivered);
    expect(byTarget('NoDedup.fifo')?.MessageAttributes).toMatchObject({
      ERROR_CODE: { StringValue: 'InvalidParameterValue' },
      EXHAUSTED_RETRY_CONDITION: { StringValue: 'MaximumRetryAttempts' },
      RETRY_ATTEMPTS: { DataType: 'Number', StringValue: '1' },
      RULE_ARN: { StringValue: 'arn:aws:events:local:000000000000:rule/Rule' },
      TARGET_ARN: { StringValue: 'arn:aws:sqs:local:000000000000:NoDedup.fifo' },
    });
    // A Lambda target past its maximum event age is not retried again.
    expect(invocations).toBe(1);
    expect(byTarget(':function:Failing')?.MessageAttributes).toMatchObject({
      ERROR_CODE: { StringValue: 'RangeError' },
      ERROR_MESSAGE: { StringValue: 'target down' },
      EXHAUSTED_RETRY_CONDITION: { StringValue: 'MaximumEventAgeInSeconds' },
    });
    expect(eb.deadLetters()).toEqual([]);
  });
});

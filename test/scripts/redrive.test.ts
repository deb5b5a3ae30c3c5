import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseCliArgs, RedriveError, redrive, sqsClient } from '../../scripts/redrive.ts';

const sqs = mockClient(SQSClient);
const client = new SQSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
const ACCOUNT = 'https://sqs.eu-west-1.amazonaws.com/123456789012';
const arnOf = (name: string) => `arn:aws:sqs:eu-west-1:123456789012:${name}`;

/** The account's queues: name → approximate number of messages. */
function queues(existing: Record<string, number>): void {
  sqs.on(GetQueueUrlCommand).callsFake((input: { QueueName: string }) => {
    if (!(input.QueueName in existing)) {
      throw new QueueDoesNotExist({ message: 'The specified queue does not exist.', $metadata: {} });
    }
    return { QueueUrl: `${ACCOUNT}/${input.QueueName}` };
  });
  sqs.on(GetQueueAttributesCommand).callsFake((input: { QueueUrl: string }) => {
    const name = input.QueueUrl.split('/').pop() ?? '';
    return { Attributes: { QueueArn: arnOf(name), ApproximateNumberOfMessages: String(existing[name]) } };
  });
}

async function errorOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RedriveError) return error.message;
    throw error;
  }
  throw new Error('expected a RedriveError');
}

beforeEach(() => {
  sqs.reset();
});

describe('npm run redrive', () => {
  it('moves a SIEM target’s DLQ back into its queue with a message move task and reports the count', async () => {
    queues({ 'Stint-target-splunk': 0, 'Stint-target-splunk-dlq': 3 });
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'handle-1' });
    sqs
      .on(ListMessageMoveTasksCommand)
      .resolvesOnce({ Results: [{ TaskHandle: 'handle-1', Status: 'RUNNING', ApproximateNumberOfMessagesMoved: 1 }] })
      .resolves({ Results: [{ Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 3 }] });
    const lines: string[] = [];
    let polls = 0;

    const result = await redrive(client, {
      target: 'splunk',
      stackName: 'Stint',
      log: (line) => lines.push(line),
      wait: async () => {
        polls++;
      },
    });

    expect(result).toEqual({
      queue: 'Stint-target-splunk',
      moved: [{ from: 'Stint-target-splunk-dlq', count: 3 }],
      total: 3,
    });
    expect(sqs.commandCalls(StartMessageMoveTaskCommand).map((c) => c.args[0].input)).toEqual([
      { SourceArn: arnOf('Stint-target-splunk-dlq'), DestinationArn: arnOf('Stint-target-splunk') },
    ]);
    expect(sqs.commandCalls(ListMessageMoveTasksCommand)[0]?.args[0].input).toEqual({
      SourceArn: arnOf('Stint-target-splunk-dlq'),
      MaxResults: 10,
    });
    expect(polls).toBe(1);
    expect(lines.at(-1)).toBe('moved 3 message(s) from Stint-target-splunk-dlq to Stint-target-splunk');
  });

  it('finds an ITSM target’s FIFO queue and also empties the standard DLQ its rule writes to, in its group', async () => {
    queues({ 'Stint-target-tickets.fifo': 0, 'Stint-target-tickets-dlq.fifo': 2, 'Stint-target-tickets-dlq': 1 });
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'handle-2' });
    sqs
      .on(ListMessageMoveTasksCommand)
      .resolves({ Results: [{ Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 2 }] });
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [{ MessageId: 'm-1', ReceiptHandle: 'r-1', Body: '{"id":"evt-1"}' }] })
      .resolves({ Messages: [] });
    sqs.on(SendMessageCommand).resolves({ MessageId: 'new-1' });
    sqs.on(DeleteMessageCommand).resolves({});

    const result = await redrive(client, { target: 'tickets', stackName: 'Stint', wait: async () => {} });

    expect(result.moved).toEqual([
      { from: 'Stint-target-tickets-dlq.fifo', count: 2 },
      { from: 'Stint-target-tickets-dlq', count: 1 },
    ]);
    expect(result.total).toBe(3);
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)[0]?.args[0].input).toEqual({
      SourceArn: arnOf('Stint-target-tickets-dlq.fifo'),
      DestinationArn: arnOf('Stint-target-tickets.fifo'),
    });
    expect(sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input)).toEqual([
      {
        QueueUrl: `${ACCOUNT}/Stint-target-tickets.fifo`,
        MessageBody: '{"id":"evt-1"}',
        MessageGroupId: 'tickets',
        MessageDeduplicationId: 'm-1',
      },
    ]);
    expect(sqs.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input)).toEqual([
      { QueueUrl: `${ACCOUNT}/Stint-target-tickets-dlq`, ReceiptHandle: 'r-1' },
    ]);
  });

  it('refuses an unknown target, naming the queues it looked for and the configured targets', async () => {
    queues({ 'Stint-target-splunk': 0, 'Stint-target-splunk-dlq': 0 });
    expect(
      await errorOf(redrive(client, { target: 'splnk', stackName: 'Stint', configuredTargets: ['splunk', 'tickets'] })),
    ).toBe(
      'unknown target "splnk": no queue Stint-target-splnk or Stint-target-splnk.fifo in stack Stint ' +
        '(targets in infra/stint.config.ts: splunk, tickets)',
    );
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(0);
  });

  it('says there is nothing to redrive when the dead-letter queues are empty, and starts no task', async () => {
    queues({ 'Stint-target-tickets.fifo': 4, 'Stint-target-tickets-dlq.fifo': 0, 'Stint-target-tickets-dlq': 0 });
    expect(await errorOf(redrive(client, { target: 'tickets', stackName: 'Stint' }))).toBe(
      'nothing to redrive: Stint-target-tickets-dlq.fifo and Stint-target-tickets-dlq empty',
    );
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(0);
  });

  it('reports a failed move task with SQS’s reason', async () => {
    queues({ 'Stint-target-splunk': 0, 'Stint-target-splunk-dlq': 5 });
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'handle-3' });
    sqs.on(ListMessageMoveTasksCommand).resolves({
      Results: [{ Status: 'FAILED', ApproximateNumberOfMessagesMoved: 2, FailureReason: 'AccessDenied' }],
    });
    expect(await errorOf(redrive(client, { target: 'splunk', stackName: 'Stint', wait: async () => {} }))).toBe(
      'moving from Stint-target-splunk-dlq failed after 2 message(s): AccessDenied',
    );
  });

  it('uses the stack name it is given for every queue name', async () => {
    queues({ 'Stint-Prod-target-splunk': 0, 'Stint-Prod-target-splunk-dlq': 1 });
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'h' });
    sqs
      .on(ListMessageMoveTasksCommand)
      .resolves({ Results: [{ Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 1 }] });
    const result = await redrive(client, { target: 'splunk', stackName: 'Stint-Prod', wait: async () => {} });
    expect(result.queue).toBe('Stint-Prod-target-splunk');
  });
});

describe('redrive command line', () => {
  it('reads the target, --stack and --local', () => {
    expect(parseCliArgs(['tickets', '--stack', 'Stint-Prod', '--local'])).toEqual({
      target: 'tickets',
      stackName: 'Stint-Prod',
      local: true,
    });
    expect(parseCliArgs(['splunk'])).toEqual({ target: 'splunk', stackName: undefined, local: false });
  });

  it.each([[[]], [['a', 'b']], [['splunk', '--region', 'x']], [['Splunk']]])('refuses %j with the usage', (argv) => {
    expect(() => parseCliArgs(argv)).toThrow(/usage: npm run redrive -- <target> \[--stack <name>\] \[--local\]/);
  });

  it('points --local at the local runtime’s port with dummy credentials and region "local"', async () => {
    const local = sqsClient(true, { PORT: '9100' });
    expect(await local.config.region()).toBe('local');
    expect(await local.config.credentials()).toMatchObject({ accessKeyId: 'local', secretAccessKey: 'local' });
    const endpoint = await local.config.endpoint?.();
    expect(endpoint?.hostname).toBe('127.0.0.1');
    expect(endpoint?.port).toBe(9100);
    expect((await sqsClient(true, {}).config.endpoint?.())?.port).toBe(8787);
  });
});

/**
 * Moves a target's dead-lettered audit events back to its queue, once the target is fixed:
 *
 *   npm run redrive -- <target> [--stack <name>] [--local]
 *
 * In AWS (the CLI's credentials and region) it starts an SQS message move task from the target's dead-letter
 * queue to its queue and waits for it to finish. `--local` talks to the running local runtime instead.
 * Queue names are those of infra/constructs/delivery.ts: `<stack>-target-<name>[.fifo]`,
 * `<stack>-target-<name>-dlq[.fifo]`, and for ITSM (FIFO) targets the standard `<stack>-target-<name>-dlq`
 * their EventBridge rule dead-letters into (EventBridge takes no FIFO dead-letter queue).
 */

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import * as z from 'zod';

/** A redrive that cannot start or did not finish; the message says why, for a person. */
export class RedriveError extends Error {
  override readonly name = 'RedriveError';
}

export type RedriveOptions = {
  readonly target: string;
  readonly stackName: string;
  /** Target names in infra/stint.config.ts, to help when the target is unknown. */
  readonly configuredTargets?: readonly string[];
  /** Between polls of the move task. */
  readonly wait?: () => Promise<void>;
  readonly log?: (line: string) => void;
};

export type RedriveResult = {
  /** The target's queue the messages went back to. */
  readonly queue: string;
  readonly moved: { readonly from: string; readonly count: number }[];
  readonly total: number;
};

type Queue = { name: string; url: string; arn: string; messages: number };

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/** GetQueueUrl, or undefined when the queue does not exist. */
async function queueUrl(sqs: SQSClient, name: string): Promise<string | undefined> {
  try {
    const out = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    return out.QueueUrl;
  } catch (error) {
    if (
      error instanceof Error &&
      (error.name === 'QueueDoesNotExist' || error.name === 'AWS.SimpleQueueService.NonExistentQueue')
    ) {
      return undefined;
    }
    throw error;
  }
}

async function describeQueue(sqs: SQSClient, name: string, url: string): Promise<Queue> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn', 'ApproximateNumberOfMessages'] }),
  );
  const attributes = z
    .object({ QueueArn: z.string(), ApproximateNumberOfMessages: z.coerce.number().int().min(0) })
    .safeParse(out.Attributes);
  if (!attributes.success) throw new RedriveError(`${name}: SQS returned no QueueArn / ApproximateNumberOfMessages`);
  return { name, url, arn: attributes.data.QueueArn, messages: attributes.data.ApproximateNumberOfMessages };
}

/** Redrives the target's dead-letter queue(s) into its queue; resolves once every move has finished. */
export async function redrive(sqs: SQSClient, options: RedriveOptions): Promise<RedriveResult> {
  const { target, stackName } = options;
  const log = options.log ?? (() => {});
  const wait = options.wait ?? (() => new Promise<void>((resolve) => setTimeout(resolve, 2000)));
  const base = `${stackName}-target-${target}`;

  let queueName = base;
  let url = await queueUrl(sqs, queueName);
  if (url === undefined) {
    queueName = `${base}.fifo`;
    url = await queueUrl(sqs, queueName);
  }
  if (url === undefined) {
    const configured = options.configuredTargets ?? [];
    throw new RedriveError(
      `unknown target "${target}": no queue ${base} or ${base}.fifo in stack ${stackName}` +
        (configured.length === 0 ? '' : ` (targets in infra/stint.config.ts: ${configured.join(', ')})`),
    );
  }
  const fifo = queueName.endsWith('.fifo');
  const queue = await describeQueue(sqs, queueName, url);

  // The queue's own dead-letter queue first (a message move task), then, for a FIFO target, the standard
  // queue its rule dead-letters into (moved message by message: it is no SQS queue's dead-letter queue).
  const sources: { queue: Queue; move: 'task' | 'copy' }[] = [];
  const dlqName = fifo ? `${base}-dlq.fifo` : `${base}-dlq`;
  const dlqUrl = await queueUrl(sqs, dlqName);
  if (dlqUrl === undefined) throw new RedriveError(`target "${target}" has no dead-letter queue ${dlqName}`);
  sources.push({ queue: await describeQueue(sqs, dlqName, dlqUrl), move: 'task' });
  if (fifo) {
    const ruleDlqUrl = await queueUrl(sqs, `${base}-dlq`);
    if (ruleDlqUrl !== undefined)
      sources.push({ queue: await describeQueue(sqs, `${base}-dlq`, ruleDlqUrl), move: 'copy' });
  }

  const waiting = sources.filter((s) => s.queue.messages > 0);
  if (waiting.length === 0) {
    throw new RedriveError(`nothing to redrive: ${sources.map((s) => s.queue.name).join(' and ')} empty`);
  }

  const moved: { from: string; count: number }[] = [];
  for (const source of waiting) {
    log(`moving about ${source.queue.messages} message(s) from ${source.queue.name} to ${queue.name}…`);
    const count =
      source.move === 'task'
        ? await moveTask(sqs, source.queue, queue, wait)
        : await copy(sqs, source.queue, queue, target);
    log(`moved ${count} message(s) from ${source.queue.name} to ${queue.name}`);
    moved.push({ from: source.queue.name, count });
  }
  return { queue: queue.name, moved, total: moved.reduce((sum, m) => sum + m.count, 0) };
}

/** StartMessageMoveTask, then ListMessageMoveTasks until the task has finished. */
async function moveTask(sqs: SQSClient, source: Queue, destination: Queue, wait: () => Promise<void>): Promise<number> {
  const started = await sqs.send(
    new StartMessageMoveTaskCommand({ SourceArn: source.arn, DestinationArn: destination.arn }),
  );
  const handle = started.TaskHandle;
  for (;;) {
    const { Results = [] } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: source.arn, MaxResults: 10 }));
    // A running task lists its handle; a finished one does not, and the most recent task comes first.
    const task = Results.find((r) => handle !== undefined && r.TaskHandle === handle) ?? Results[0];
    if (task?.Status !== undefined && TERMINAL.has(task.Status)) {
      const count = task.ApproximateNumberOfMessagesMoved ?? 0;
      if (task.Status === 'FAILED') {
        throw new RedriveError(
          `moving from ${source.name} failed after ${count} message(s): ${task.FailureReason ?? 'no reason given'}`,
        );
      }
      if (task.Status === 'CANCELLED')
        throw new RedriveError(`moving from ${source.name} was cancelled after ${count} message(s)`);
      return count;
    }
    await wait();
  }
}

/** Receive, send to the FIFO queue in the target's message group, delete; until the source is empty. */
async function copy(sqs: SQSClient, source: Queue, destination: Queue, target: string): Promise<number> {
  let count = 0;
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: source.url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 60,
      }),
    );
    if (Messages.length === 0) return count;
    for (const message of Messages) {
      if (message.Body === undefined || message.ReceiptHandle === undefined || message.MessageId === undefined)
        continue;
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: destination.url,
          MessageBody: message.Body,
          MessageGroupId: target,
          MessageDeduplicationId: message.MessageId,
        }),
      );
      await sqs.send(new DeleteMessageCommand({ QueueUrl: source.url, ReceiptHandle: message.ReceiptHandle }));
      count++;
    }
  }
}

export type CliArgs = { target: string; stackName: string | undefined; local: boolean };

/** `<target> [--stack <name>] [--local]`. */
export function parseCliArgs(argv: string[]): CliArgs {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new RedriveError(`${error instanceof Error ? error.message : 'bad arguments'}\n${USAGE}`);
  }
  const [target, ...extra] = parsed.positionals;
  if (target === undefined || extra.length > 0) throw new RedriveError(USAGE);
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(target)) throw new RedriveError(`"${target}" is not a target name\n${USAGE}`);
  return { target, stackName: parsed.values.stack, local: parsed.values.local ?? false };
}

const USAGE = 'usage: npm run redrive -- <target> [--stack <name>] [--local]';

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { stack: { type: 'string' }, local: { type: 'boolean' } },
  });
}

/** The SQS client: the CLI's credentials and region, or the local runtime on PORT (default 8787). */
export function sqsClient(local: boolean, env: NodeJS.ProcessEnv): SQSClient {
  if (!local) return new SQSClient({});
  const port = z.coerce.number().int().min(1).max(65535).default(8787).parse(env.PORT);
  return new SQSClient({
    endpoint: `http://127.0.0.1:${port}`, // the local runtime listens on IPv4 loopback
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

function isConnectionRefused(error: unknown): boolean {
  return z.object({ code: z.literal('ECONNREFUSED') }).safeParse(error).success;
}

async function main(): Promise<void> {
  let local = false;
  try {
    const args = parseCliArgs(process.argv.slice(2));
    local = args.local;
    // Only the names are read: a configuration that would not synth can still be redriven.
    const { default: rawConfig } = await import('#infra/stint.config.ts');
    const config = z
      .object({ stackName: z.string(), targets: z.array(z.object({ name: z.string() })).optional() })
      .parse(rawConfig);
    const result = await redrive(sqsClient(args.local, process.env), {
      target: args.target,
      stackName: args.stackName ?? config.stackName,
      configuredTargets: (config.targets ?? []).map((t) => t.name),
      log: (line) => console.log(line),
    });
    console.log(`redrive of ${args.target}: ${result.total} message(s) back in ${result.queue}`);
  } catch (error) {
    if (local && isConnectionRefused(error)) {
      console.error('redrive failed: the local runtime is not answering on its port; start it with `npm start`');
      process.exitCode = 1;
      return;
    }
    console.error(error instanceof RedriveError ? error.message : `redrive failed: ${String(error)}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();

import { createHash, randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import * as z from 'zod';
import { journalLines } from './durable.ts';
import type { AwsResponse, AwsService } from './http.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION, type LocalTemplate } from './template.ts';

/**
 * Amazon SQS, locally: the template's queues (standard and FIFO, redrive policies to dead-letter queues) behind
 * the SQS JSON protocol the AWS SDK v3 speaks (`X-Amz-Target: AmazonSQS.<Operation>`, JSON 1.0, errors in the
 * awsQueryCompatible shape so the SDK raises its own exception classes), SQS → Lambda event source mappings, and
 * dead-letter redrive with StartMessageMoveTask. Queue contents are journaled per queue (JSONL, compacted) before
 * a send is acknowledged, so a restart loses no message; what is in flight becomes visible again at restart.
 *
 * Semantics follow the Amazon SQS Developer Guide and API Reference: visibility timeout and receipt handles
 * (a stale handle deletes nothing), ApproximateReceiveCount, a message received `maxReceiveCount` times moves
 * to the dead-letter queue on its next receive, FIFO message groups (one group's messages are never in flight
 * out of order) with the 5-minute deduplication interval, and message-move tasks from a DLQ back to its
 * source queues.
 */
const JSON_10 = 'application/x-amz-json-1.0';
const DEDUPLICATION_INTERVAL_MS = 5 * 60 * 1000;
const MAX_MESSAGE_BYTES = 1024 * 1024;
const MAX_VISIBILITY_S = 12 * 60 * 60;
/** What an event source mapping holds a batch invisible for while its function runs (Lambda's 15-minute max). */
const ESM_HOLD_MS = 15 * 60 * 1000;
const MAX_TIMER_MS = 2 ** 31 - 1;

export type QueueDefinition = {
  name: string;
  fifo?: boolean;
  contentBasedDeduplication?: boolean;
  /** Seconds (default 30). */
  visibilityTimeout?: number;
  /** Seconds (default 345600, four days). */
  messageRetentionPeriod?: number;
  delaySeconds?: number;
  redrivePolicy?: { deadLetterTargetArn: string; maxReceiveCount: number };
};

const bool = (v: unknown) => v === true || v === 'true';
const num = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]);
const RedrivePolicy = z.object({ deadLetterTargetArn: z.string(), maxReceiveCount: num });
const QueueProps = z
  .object({
    FifoQueue: z.union([z.boolean(), z.string()]).optional(),
    ContentBasedDeduplication: z.union([z.boolean(), z.string()]).optional(),
    VisibilityTimeout: num.optional(),
    MessageRetentionPeriod: num.optional(),
    DelaySeconds: num.optional(),
    RedrivePolicy: z.union([z.string().transform((s) => RedrivePolicy.parse(JSON.parse(s))), RedrivePolicy]).optional(),
  })
  .loose();

/** The template's `AWS::SQS::Queue` resources, named as the template names them (see LocalTemplate.queueName). */
export function queuesFromTemplate(template: LocalTemplate): QueueDefinition[] {
  return template.ofType('AWS::SQS::Queue').map(([id, res]) => {
    const p = QueueProps.parse(template.resolve(res.Properties));
    return {
      name: template.queueName(id),
      fifo: bool(p.FifoQueue),
      contentBasedDeduplication: bool(p.ContentBasedDeduplication),
      ...(p.VisibilityTimeout === undefined ? {} : { visibilityTimeout: p.VisibilityTimeout }),
      ...(p.MessageRetentionPeriod === undefined ? {} : { messageRetentionPeriod: p.MessageRetentionPeriod }),
      ...(p.DelaySeconds === undefined ? {} : { delaySeconds: p.DelaySeconds }),
      ...(p.RedrivePolicy === undefined ? {} : { redrivePolicy: p.RedrivePolicy }),
    };
  });
}

export const queueArn = (name: string) => `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${name}`;

// ---------------------------------------------------------------------------------------------------------------
// Errors: the awsQueryCompatible JSON shape. The SDK reads the query error code from `x-amzn-query-error`
// (`<code>;Sender`) and finds the modelled exception whose awsQueryError code it is (QueueDoesNotExist ↔
// AWS.SimpleQueueService.NonExistentQueue); codes the model does not have become SQSServiceException by name.
// ---------------------------------------------------------------------------------------------------------------
const ERRORS = {
  QueueDoesNotExist: ['AWS.SimpleQueueService.NonExistentQueue', 400],
  ReceiptHandleIsInvalid: ['ReceiptHandleIsInvalid', 404],
  MessageNotInflight: ['AWS.SimpleQueueService.MessageNotInflight', 400],
  EmptyBatchRequest: ['AWS.SimpleQueueService.EmptyBatchRequest', 400],
  TooManyEntriesInBatchRequest: ['AWS.SimpleQueueService.TooManyEntriesInBatchRequest', 400],
  BatchEntryIdsNotDistinct: ['AWS.SimpleQueueService.BatchEntryIdsNotDistinct', 400],
  InvalidBatchEntryId: ['AWS.SimpleQueueService.InvalidBatchEntryId', 400],
  PurgeQueueInProgress: ['AWS.SimpleQueueService.PurgeQueueInProgress', 403],
  ResourceNotFoundException: ['ResourceNotFoundException', 404],
  UnsupportedOperation: ['AWS.SimpleQueueService.UnsupportedOperation', 400],
  InvalidAttributeName: ['InvalidAttributeName', 400],
  InvalidMessageContents: ['InvalidMessageContents', 400],
  InvalidParameterValue: ['InvalidParameterValue', 400],
  MissingParameter: ['MissingParameter', 400],
} as const satisfies Record<string, readonly [string, number]>;
type ErrorName = keyof typeof ERRORS;

export class SqsError extends Error {
  constructor(
    readonly code: ErrorName,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

function errorResponse(err: SqsError): AwsResponse {
  const [queryCode, status] = ERRORS[err.code];
  return {
    status,
    headers: {
      'content-type': JSON_10,
      'x-amzn-query-error': `${queryCode};${status >= 500 ? 'Receiver' : 'Sender'}`,
    },
    body: JSON.stringify({ __type: `com.amazonaws.sqs#${err.code}`, message: err.message }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Messages and their journal
// ---------------------------------------------------------------------------------------------------------------
const MessageAttributeValue = z.object({
  DataType: z.string().min(1),
  StringValue: z.string().optional(),
  /** Base64, as the JSON protocol carries blobs. */
  BinaryValue: z.string().optional(),
  StringListValues: z.array(z.string()).optional(),
  BinaryListValues: z.array(z.string()).optional(),
});
export type MessageAttributeValue = z.infer<typeof MessageAttributeValue>;
const MessageAttributes = z.record(z.string(), MessageAttributeValue);

const StoredMessage = z.object({
  id: z.string(),
  body: z.string(),
  attributes: MessageAttributes,
  sentAt: z.number(),
  /** Delivery delay: not receivable before this time. */
  availableAt: z.number(),
  receiveCount: z.number(),
  firstReceiveAt: z.number().optional(),
  groupId: z.string().optional(),
  dedupId: z.string().optional(),
  seq: z.string().optional(),
  deadLetterSourceArn: z.string().optional(),
});
type StoredMessage = z.infer<typeof StoredMessage>;
/** In memory only: in flight until `invisibleUntil`, deletable with the latest `receipt`. */
type Msg = StoredMessage & { invisibleUntil: number; receipt?: string };

const JournalLine = z.union([
  z.object({ put: StoredMessage }),
  z.object({ rcv: z.string(), n: z.number(), f: z.number() }),
  z.object({ del: z.string() }),
  z.object({ dd: z.string(), id: z.string(), seq: z.string().optional(), at: z.number() }),
]);
type JournalLine = z.infer<typeof JournalLine>;

const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex');

/** MD5OfMessageAttributes as SQS computes it (Developer Guide, "Calculating the MD5 message digest for message attributes"). */
export function md5OfMessageAttributes(attributes: Record<string, MessageAttributeValue>): string | undefined {
  const names = Object.keys(attributes).sort();
  if (names.length === 0) return undefined;
  const parts: Buffer[] = [];
  const field = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  };
  for (const name of names) {
    const a = attributes[name];
    if (a === undefined) continue;
    field(Buffer.from(name));
    field(Buffer.from(a.DataType));
    if (a.BinaryValue !== undefined) {
      parts.push(Buffer.from([2]));
      field(Buffer.from(a.BinaryValue, 'base64'));
    } else {
      parts.push(Buffer.from([1]));
      field(Buffer.from(a.StringValue ?? ''));
    }
  }
  return md5(Buffer.concat(parts));
}

// Characters SQS accepts in a message (#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF).
const INVALID_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

class LocalQueue {
  readonly arn: string;
  readonly url: string;
  readonly messages = new Map<string, Msg>();
  readonly dedupe = new Map<string, { id: string; seq?: string; at: number }>();
  readonly counters = { sent: 0, received: 0, deleted: 0, deadLettered: 0 };
  readonly createdAt: number;
  lastPurgeAt = Number.NEGATIVE_INFINITY;
  #seq = 0;
  #fd: number | undefined;
  #lines = 0;

  constructor(
    readonly def: Required<Omit<QueueDefinition, 'redrivePolicy'>> & Pick<QueueDefinition, 'redrivePolicy'>,
    endpoint: string,
    private readonly file: string | undefined,
    now: number,
  ) {
    this.arn = queueArn(def.name);
    this.url = `${endpoint}/${LOCAL_ACCOUNT}/${def.name}`;
    this.createdAt = now;
    if (file === undefined) return;
    if (existsSync(file)) this.#load(readFileSync(file, 'utf8'));
    this.#compact(now);
  }

  get name(): string {
    return this.def.name;
  }

  nextSequenceNumber(now: number): string {
    this.#seq = (this.#seq + 1) % 1_000_000;
    return `${now}${String(this.#seq).padStart(6, '0')}`.padStart(20, '0');
  }

  isVisible(m: Msg, now: number): boolean {
    return now >= m.availableAt && now >= m.invisibleUntil;
  }

  isInFlight(m: Msg, now: number): boolean {
    return m.receipt !== undefined && now < m.invisibleUntil;
  }

  counts(now: number): { visible: number; inFlight: number; delayed: number } {
    this.expire(now);
    let visible = 0;
    let inFlight = 0;
    let delayed = 0;
    for (const m of this.messages.values()) {
      if (this.isInFlight(m, now)) inFlight++;
      else if (now < m.availableAt) delayed++;
      else visible++;
    }
    return { visible, inFlight, delayed };
  }

  /** The earliest future time a message becomes receivable, if any. */
  nextChangeAt(now: number): number | undefined {
    let next: number | undefined;
    for (const m of this.messages.values()) {
      const at = Math.max(m.availableAt, m.invisibleUntil);
      if (at > now && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  add(m: StoredMessage): Msg {
    const msg: Msg = { ...m, invisibleUntil: 0 };
    this.messages.set(m.id, msg);
    this.write({ put: m });
    return msg;
  }

  remove(id: string): void {
    if (this.messages.delete(id)) this.write({ del: id });
  }

  markReceived(m: Msg, now: number, visibilityMs: number): void {
    m.receiveCount += 1;
    m.firstReceiveAt ??= now;
    m.receipt = Buffer.from(`${this.name}\n${m.id}\n${randomUUID()}`).toString('base64');
    m.invisibleUntil = now + visibilityMs;
    this.counters.received += 1;
    this.write({ rcv: m.id, n: m.receiveCount, f: m.firstReceiveAt });
  }

  remember(dedupId: string, id: string, seq: string | undefined, now: number): void {
    this.dedupe.set(dedupId, { id, ...(seq === undefined ? {} : { seq }), at: now });
    this.write({ dd: dedupId, id, ...(seq === undefined ? {} : { seq }), at: now });
  }

  expire(now: number): void {
    const retentionMs = this.def.messageRetentionPeriod * 1000;
    for (const m of this.messages.values()) if (now - m.sentAt > retentionMs) this.remove(m.id);
    for (const [k, d] of this.dedupe) if (now - d.at >= DEDUPLICATION_INTERVAL_MS) this.dedupe.delete(k);
  }

  write(line: JournalLine): void {
    if (this.#fd === undefined) return;
    writeSync(this.#fd, `${JSON.stringify(line)}\n`);
    this.#lines += 1;
    if (this.#lines > 1000 && this.#lines > 4 * (this.messages.size + this.dedupe.size)) this.#compact(Date.now());
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** Rewrites the journal with only what is still owed, then appends from there. */
  #compact(now: number): void {
    const file = this.file;
    if (file === undefined) return;
    this.close();
    this.expire(now);
    const lines: string[] = [];
    for (const m of this.messages.values()) {
      const { invisibleUntil: _i, receipt: _r, ...stored } = m;
      lines.push(JSON.stringify({ put: stored }));
    }
    for (const [dd, d] of this.dedupe) lines.push(JSON.stringify({ dd, ...d }));
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, lines.map((l) => `${l}\n`).join(''));
    renameSync(tmp, file);
    this.#lines = lines.length;
    this.#fd = openSync(file, 'a');
  }

  #load(text: string): void {
    for (const l of journalLines(text, JournalLine)) {
      if ('put' in l) this.messages.set(l.put.id, { ...l.put, invisibleUntil: 0 });
      else if ('rcv' in l) {
        const m = this.messages.get(l.rcv);
        if (m !== undefined) {
          m.receiveCount = l.n;
          m.firstReceiveAt = l.f;
        }
      } else if ('del' in l) this.messages.delete(l.del);
      else this.dedupe.set(l.dd, { id: l.id, ...(l.seq === undefined ? {} : { seq: l.seq }), at: l.at });
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------------
const QueueUrl = z.object({ QueueUrl: z.string() });
const SendEntry = z.object({
  MessageBody: z.string().optional(),
  DelaySeconds: z.number().int().optional(),
  MessageAttributes: MessageAttributes.optional(),
  MessageSystemAttributes: z.record(z.string(), MessageAttributeValue).optional(),
  MessageDeduplicationId: z.string().optional(),
  MessageGroupId: z.string().optional(),
});
export type SendMessageInput = z.infer<typeof SendEntry>;
const Requests = {
  SendMessage: QueueUrl.extend(SendEntry.shape),
  SendMessageBatch: QueueUrl.extend({ Entries: z.array(SendEntry.extend({ Id: z.string() })) }),
  ReceiveMessage: QueueUrl.extend({
    AttributeNames: z.array(z.string()).optional(),
    MessageSystemAttributeNames: z.array(z.string()).optional(),
    MessageAttributeNames: z.array(z.string()).optional(),
    MaxNumberOfMessages: z.number().int().optional(),
    VisibilityTimeout: z.number().int().optional(),
    WaitTimeSeconds: z.number().int().optional(),
    ReceiveRequestAttemptId: z.string().optional(),
  }),
  DeleteMessage: QueueUrl.extend({ ReceiptHandle: z.string() }),
  DeleteMessageBatch: QueueUrl.extend({ Entries: z.array(z.object({ Id: z.string(), ReceiptHandle: z.string() })) }),
  ChangeMessageVisibility: QueueUrl.extend({ ReceiptHandle: z.string(), VisibilityTimeout: z.number().int() }),
  ChangeMessageVisibilityBatch: QueueUrl.extend({
    Entries: z.array(z.object({ Id: z.string(), ReceiptHandle: z.string(), VisibilityTimeout: z.number().int() })),
  }),
  GetQueueUrl: z.object({ QueueName: z.string(), QueueOwnerAWSAccountId: z.string().optional() }),
  GetQueueAttributes: QueueUrl.extend({ AttributeNames: z.array(z.string()).optional() }),
  ListQueues: z.object({ QueueNamePrefix: z.string().optional(), MaxResults: z.number().int().optional() }),
  ListDeadLetterSourceQueues: QueueUrl.extend({ MaxResults: z.number().int().optional() }),
  PurgeQueue: QueueUrl,
  StartMessageMoveTask: z.object({
    SourceArn: z.string(),
    DestinationArn: z.string().optional(),
    MaxNumberOfMessagesPerSecond: z.number().int().optional(),
  }),
  ListMessageMoveTasks: z.object({ SourceArn: z.string(), MaxResults: z.number().int().optional() }),
  CancelMessageMoveTask: z.object({ TaskHandle: z.string() }),
} as const;
type Operation = keyof typeof Requests;
const isOperation = (op: string): op is Operation => Object.hasOwn(Requests, op);

type MoveTask = {
  handle: string;
  sourceArn: string;
  destinationArn?: string;
  maxPerSecond?: number;
  status: 'RUNNING' | 'COMPLETED' | 'CANCELLING' | 'CANCELLED' | 'FAILED';
  moved: number;
  toMove: number;
  startedAt: number;
  failureReason?: string;
};

const QUEUE_ATTRIBUTES = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'QueueArn',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'RedrivePolicy',
  'FifoQueue',
  'ContentBasedDeduplication',
  'SqsManagedSseEnabled',
] as const;

const MESSAGE_SYSTEM_ATTRIBUTES = [
  'SenderId',
  'SentTimestamp',
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'SequenceNumber',
  'MessageDeduplicationId',
  'MessageGroupId',
  'DeadLetterQueueSourceArn',
] as const;

// ---------------------------------------------------------------------------------------------------------------
// Event source mappings (SQS → Lambda)
// ---------------------------------------------------------------------------------------------------------------
/** A record as Lambda delivers it from SQS (Lambda Developer Guide, "Using Lambda with Amazon SQS"). */
export type SqsLambdaRecord = {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: Record<string, string>;
  messageAttributes: Record<
    string,
    {
      stringValue?: string;
      binaryValue?: string;
      stringListValues: string[];
      binaryListValues: string[];
      dataType: string;
    }
  >;
  md5OfBody: string;
  md5OfMessageAttributes?: string;
  eventSource: 'aws:sqs';
  eventSourceARN: string;
  awsRegion: string;
};

export type SqsEventSource = {
  /** The event source mapping's logical id. */
  readonly id: string;
  readonly queueArn: string;
  readonly batchSize: number;
  readonly reportBatchItemFailures: boolean;
  /** Lambda's FilterCriteria: a record no filter matches is deleted without invoking the function. */
  readonly filter?: (record: SqsLambdaRecord) => boolean;
  /** Batches delivered at once (Lambda scales pollers; locally a small fixed number, default 2). */
  readonly concurrency?: number;
  /** Invokes the function with `{ Records }`; resolves to its result. */
  readonly deliver: (event: { Records: SqsLambdaRecord[] }) => Promise<unknown>;
};

const BatchResponse = z.object({
  batchItemFailures: z.array(z.object({ itemIdentifier: z.string().min(1) })),
});

export type LocalSqsOptions = {
  /** Where the runtime serves SQS: queue URLs are `<endpoint>/000000000000/<name>`. */
  endpoint: string;
  /** Folder for the queue journals; undefined keeps everything in memory. */
  dir?: string;
  /**
   * After a failed delivery by an event source mapping, a message becomes visible again after the queue's
   * visibility timeout in AWS; locally after min(visibility timeout, this) so retries take seconds (default 2000).
   */
  maxRetryDelayMs?: number;
  now?: () => number;
  onError?: (message: string) => void;
};

export type QueueSummary = { name: string; visible: number; inFlight: number; delayed: number; dlq?: string };
export type QueueStats = QueueSummary & { sent: number; received: number; deleted: number; deadLettered: number };

export class LocalSqs implements AwsService {
  readonly #queues = new Map<string, LocalQueue>();
  readonly #sources: SqsEventSource[] = [];
  readonly #tasks: MoveTask[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #pollers = new Set<Promise<void>>();
  #delivering = 0;
  #idleWaiters: (() => void)[] = [];
  #started = false;
  #stopped = false;
  readonly #now: () => number;
  readonly #endpoint: string;

  constructor(
    definitions: readonly QueueDefinition[],
    private readonly options: LocalSqsOptions,
  ) {
    this.#now = options.now ?? Date.now;
    this.#endpoint = options.endpoint.replace(/\/$/, '');
    if (options.dir !== undefined) mkdirSync(options.dir, { recursive: true });
    for (const d of definitions) {
      if (d.fifo === true && !d.name.endsWith('.fifo')) {
        throw new SqsError('InvalidParameterValue', `FIFO queue name ${d.name} must end with .fifo`);
      }
      if (d.fifo !== true && d.name.endsWith('.fifo')) {
        throw new SqsError('InvalidParameterValue', `Queue ${d.name} ends with .fifo but is not a FIFO queue`);
      }
      if (this.#queues.has(d.name)) throw new SqsError('InvalidParameterValue', `Two queues are named ${d.name}`);
      const def = {
        name: d.name,
        fifo: d.fifo ?? false,
        contentBasedDeduplication: d.contentBasedDeduplication ?? false,
        visibilityTimeout: d.visibilityTimeout ?? 30,
        messageRetentionPeriod: d.messageRetentionPeriod ?? 345_600,
        delaySeconds: d.delaySeconds ?? 0,
        ...(d.redrivePolicy === undefined ? {} : { redrivePolicy: d.redrivePolicy }),
      };
      const file = options.dir === undefined ? undefined : join(options.dir, `${d.name}.jsonl`);
      this.#queues.set(d.name, new LocalQueue(def, this.#endpoint, file, this.#now()));
    }
    for (const q of this.#queues.values()) {
      const dlq = q.def.redrivePolicy?.deadLetterTargetArn;
      if (dlq === undefined) continue;
      const target = this.#byArn(dlq);
      if (target === undefined) options.onError?.(`${q.name}: dead-letter queue ${dlq} is not a local queue`);
      else if (target.def.fifo !== q.def.fifo) {
        throw new SqsError('InvalidParameterValue', `${q.name}: a dead-letter queue must be of the same type`);
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Programmatic API (the runtime, EventBridge targets, tests)
  // -------------------------------------------------------------------------------------------------------------

  /** Whether a queue ARN names a local queue. */
  hasQueue(arn: string): boolean {
    return this.#byArn(arn) !== undefined;
  }

  isFifo(arn: string): boolean {
    return this.#byArn(arn)?.def.fifo ?? false;
  }

  queueUrl(name: string): string {
    return this.#named(name).url;
  }

  /** SendMessage to the queue with this ARN (EventBridge targets and rule dead-letter queues use it). */
  sendToArn(arn: string, input: SendMessageInput): { MessageId: string; SequenceNumber?: string } {
    const q = this.#byArn(arn);
    if (q === undefined) throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
    const r = this.#send(q, input);
    return { MessageId: r.MessageId, ...(r.SequenceNumber === undefined ? {} : { SequenceNumber: r.SequenceNumber }) };
  }

  addEventSource(source: SqsEventSource): void {
    if (this.#byArn(source.queueArn) === undefined) {
      throw new SqsError('QueueDoesNotExist', `${source.id}: ${source.queueArn} is not a local queue`);
    }
    this.#sources.push(source);
    if (this.#started) this.#startPollers(source);
  }

  /** Starts the event source mappings' pollers (once every function can be invoked). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const s of this.#sources) this.#startPollers(s);
  }

  queues(): QueueSummary[] {
    const now = this.#now();
    return [...this.#queues.values()].map((q) => {
      const dlq = q.def.redrivePolicy === undefined ? undefined : this.#byArn(q.def.redrivePolicy.deadLetterTargetArn);
      return { name: q.name, ...q.counts(now), ...(dlq === undefined ? {} : { dlq: dlq.name }) };
    });
  }

  stats(): Record<string, QueueStats> {
    const out: Record<string, QueueStats> = {};
    for (const s of this.queues()) {
      const q = this.#named(s.name);
      out[s.name] = { ...s, ...q.counters };
    }
    return out;
  }

  /** Resolves once every queue an event source mapping reads is empty and no batch is being delivered. */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake();
    await Promise.all([...this.#pollers]);
    for (const q of this.#queues.values()) q.close();
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  // -------------------------------------------------------------------------------------------------------------
  // The JSON protocol
  // -------------------------------------------------------------------------------------------------------------
  async handle(target: string, body: Buffer, _headers: IncomingHttpHeaders): Promise<AwsResponse> {
    if (this.#stopped) {
      return {
        status: 503,
        headers: { 'content-type': JSON_10 },
        body: JSON.stringify({ __type: 'ServiceUnavailable', message: 'The local runtime is stopping' }),
      };
    }
    const op = target.replace(/^AmazonSQS\./, '');
    if (!isOperation(op)) {
      return errorResponse(new SqsError('UnsupportedOperation', `${op} is not supported by the local runtime`));
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString() || '{}');
    } catch {
      return errorResponse(new SqsError('InvalidParameterValue', 'The request body is not JSON'));
    }
    const parsed = Requests[op].safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.join('.') ?? '';
      const missing = issue?.code === 'invalid_type' && issue.input === undefined;
      return errorResponse(
        new SqsError(
          missing ? 'MissingParameter' : 'InvalidParameterValue',
          missing ? `The request must contain the parameter ${field}.` : `Value for parameter ${field} is invalid.`,
        ),
      );
    }
    try {
      const result = await this.#dispatch(op, parsed.data);
      return { status: 200, headers: { 'content-type': JSON_10 }, body: JSON.stringify(result) };
    } catch (err) {
      if (err instanceof SqsError) return errorResponse(err);
      throw err;
    }
  }

  async #dispatch(op: Operation, input: unknown): Promise<object> {
    switch (op) {
      case 'SendMessage': {
        const { QueueUrl: url, ...entry } = Requests.SendMessage.parse(input);
        return this.#send(this.#byUrl(url), entry);
      }
      case 'SendMessageBatch': {
        const r = Requests.SendMessageBatch.parse(input);
        const q = this.#byUrl(r.QueueUrl);
        this.#checkBatch(r.Entries);
        const total = r.Entries.reduce((n, e) => n + Buffer.byteLength(e.MessageBody ?? ''), 0);
        if (total > MAX_MESSAGE_BYTES) {
          throw new SqsError('InvalidParameterValue', 'Batch requests cannot be longer than 1048576 bytes.');
        }
        const Successful: object[] = [];
        const Failed: object[] = [];
        for (const { Id, ...entry } of r.Entries) {
          try {
            Successful.push({ Id, ...this.#send(q, entry) });
          } catch (err) {
            if (!(err instanceof SqsError)) throw err;
            Failed.push({ Id, SenderFault: true, Code: ERRORS[err.code][0], Message: err.message });
          }
        }
        return { Successful, Failed };
      }
      case 'ReceiveMessage':
        return this.#receiveApi(Requests.ReceiveMessage.parse(input));
      case 'DeleteMessage': {
        const r = Requests.DeleteMessage.parse(input);
        this.#delete(this.#byUrl(r.QueueUrl), r.ReceiptHandle);
        return {};
      }
      case 'DeleteMessageBatch': {
        const r = Requests.DeleteMessageBatch.parse(input);
        const q = this.#byUrl(r.QueueUrl);
        this.#checkBatch(r.Entries);
        return this.#batch(r.Entries, (e) => this.#delete(q, e.ReceiptHandle));
      }
      case 'ChangeMessageVisibility': {
        const r = Requests.ChangeMessageVisibility.parse(input);
        this.#changeVisibility(this.#byUrl(r.QueueUrl), r.ReceiptHandle, r.VisibilityTimeout);
        return {};
      }
      case 'ChangeMessageVisibilityBatch': {
        const r = Requests.ChangeMessageVisibilityBatch.parse(input);
        const q = this.#byUrl(r.QueueUrl);
        this.#checkBatch(r.Entries);
        return this.#batch(r.Entries, (e) => this.#changeVisibility(q, e.ReceiptHandle, e.VisibilityTimeout));
      }
      case 'GetQueueUrl': {
        const r = Requests.GetQueueUrl.parse(input);
        const q = this.#queues.get(r.QueueName);
        if (q === undefined || (r.QueueOwnerAWSAccountId ?? LOCAL_ACCOUNT) !== LOCAL_ACCOUNT) {
          throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
        }
        return { QueueUrl: q.url };
      }
      case 'GetQueueAttributes': {
        const r = Requests.GetQueueAttributes.parse(input);
        return { Attributes: this.#attributes(this.#byUrl(r.QueueUrl), r.AttributeNames ?? []) };
      }
      case 'ListQueues': {
        const r = Requests.ListQueues.parse(input);
        const urls = [...this.#queues.values()]
          .filter((q) => q.name.startsWith(r.QueueNamePrefix ?? ''))
          .map((q) => q.url)
          .slice(0, r.MaxResults ?? 1000);
        return urls.length === 0 ? {} : { QueueUrls: urls };
      }
      case 'ListDeadLetterSourceQueues': {
        const r = Requests.ListDeadLetterSourceQueues.parse(input);
        const dlq = this.#byUrl(r.QueueUrl);
        return { queueUrls: this.#sourcesOf(dlq).map((q) => q.url) };
      }
      case 'PurgeQueue': {
        const q = this.#byUrl(Requests.PurgeQueue.parse(input).QueueUrl);
        const now = this.#now();
        if (now - q.lastPurgeAt < 60_000) {
          throw new SqsError(
            'PurgeQueueInProgress',
            `Only one PurgeQueue operation on ${q.name} is allowed every 60 seconds.`,
          );
        }
        q.lastPurgeAt = now;
        for (const id of [...q.messages.keys()]) q.remove(id);
        this.#settled();
        return {};
      }
      case 'StartMessageMoveTask':
        return this.#startMoveTask(Requests.StartMessageMoveTask.parse(input));
      case 'ListMessageMoveTasks': {
        const r = Requests.ListMessageMoveTasks.parse(input);
        this.#sourceQueueForMove(r.SourceArn);
        const max = r.MaxResults ?? 1;
        if (max < 1 || max > 10) throw new SqsError('InvalidParameterValue', 'MaxResults must be between 1 and 10.');
        const Results = this.#tasks
          .filter((t) => t.sourceArn === r.SourceArn)
          .slice(-max)
          .reverse()
          .map((t) => ({
            ...(t.status === 'RUNNING' ? { TaskHandle: t.handle } : {}),
            Status: t.status,
            SourceArn: t.sourceArn,
            ...(t.destinationArn === undefined ? {} : { DestinationArn: t.destinationArn }),
            ...(t.maxPerSecond === undefined ? {} : { MaxNumberOfMessagesPerSecond: t.maxPerSecond }),
            ApproximateNumberOfMessagesMoved: t.moved,
            ApproximateNumberOfMessagesToMove: t.toMove,
            ...(t.failureReason === undefined ? {} : { FailureReason: t.failureReason }),
            StartedTimestamp: t.startedAt,
          }));
        return { Results };
      }
      case 'CancelMessageMoveTask': {
        const r = Requests.CancelMessageMoveTask.parse(input);
        const task = this.#tasks.find((t) => t.handle === r.TaskHandle);
        if (task === undefined || task.status !== 'RUNNING') {
          throw new SqsError('ResourceNotFoundException', 'The task handle does not name a running task.');
        }
        return { ApproximateNumberOfMessagesMoved: task.moved };
      }
    }
  }

  #checkBatch(entries: readonly { Id: string }[]): void {
    if (entries.length === 0)
      throw new SqsError('EmptyBatchRequest', 'There should be at least one entry in the request.');
    if (entries.length > 10) {
      throw new SqsError('TooManyEntriesInBatchRequest', 'Maximum number of entries per request are 10.');
    }
    const ids = new Set<string>();
    for (const { Id } of entries) {
      if (!/^[A-Za-z0-9_-]{1,80}$/.test(Id)) {
        throw new SqsError(
          'InvalidBatchEntryId',
          `A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.`,
        );
      }
      if (ids.has(Id)) throw new SqsError('BatchEntryIdsNotDistinct', `Id ${Id} repeated.`);
      ids.add(Id);
    }
  }

  #batch<E extends { Id: string }>(entries: readonly E[], run: (e: E) => void): object {
    const Successful: object[] = [];
    const Failed: object[] = [];
    for (const e of entries) {
      try {
        run(e);
        Successful.push({ Id: e.Id });
      } catch (err) {
        if (!(err instanceof SqsError)) throw err;
        Failed.push({ Id: e.Id, SenderFault: true, Code: ERRORS[err.code][0], Message: err.message });
      }
    }
    return { Successful, Failed };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Semantics
  // -------------------------------------------------------------------------------------------------------------
  #send(
    q: LocalQueue,
    input: SendMessageInput,
  ): { MessageId: string; MD5OfMessageBody: string; MD5OfMessageAttributes?: string; SequenceNumber?: string } {
    if (this.#stopped) throw new Error(`SendMessage to ${q.name} after the local SQS stopped`);
    const body = input.MessageBody;
    if (body === undefined)
      throw new SqsError('MissingParameter', 'The request must contain the parameter MessageBody.');
    if (body.length === 0) throw new SqsError('InvalidParameterValue', 'The message body must not be empty.');
    if (INVALID_CHARACTER.test(body)) {
      throw new SqsError(
        'InvalidMessageContents',
        'Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF',
      );
    }
    const attributes = input.MessageAttributes ?? {};
    this.#checkAttributes(attributes);
    const size =
      Buffer.byteLength(body) +
      Object.entries(attributes).reduce(
        (n, [k, a]) =>
          n +
          Buffer.byteLength(k) +
          Buffer.byteLength(a.DataType) +
          Buffer.byteLength(a.StringValue ?? '') +
          Buffer.from(a.BinaryValue ?? '', 'base64').length,
        0,
      );
    if (size > MAX_MESSAGE_BYTES) {
      throw new SqsError(
        'InvalidParameterValue',
        `One or more parameters are invalid. Reason: Message must be shorter than ${MAX_MESSAGE_BYTES} bytes.`,
      );
    }
    const now = this.#now();
    q.expire(now);
    let groupId = input.MessageGroupId;
    let dedupId: string | undefined;
    let seq: string | undefined;
    if (q.def.fifo) {
      if (groupId === undefined) {
        throw new SqsError('MissingParameter', 'The request must contain the parameter MessageGroupId.');
      }
      if (input.DelaySeconds !== undefined && input.DelaySeconds !== 0) {
        throw new SqsError(
          'InvalidParameterValue',
          'Value for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.',
        );
      }
      dedupId = input.MessageDeduplicationId;
      if (dedupId === undefined) {
        if (!q.def.contentBasedDeduplication) {
          throw new SqsError(
            'InvalidParameterValue',
            'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
          );
        }
        dedupId = createHash('sha256').update(body).digest('hex');
      }
      const seen = q.dedupe.get(dedupId);
      const bodyMd5 = md5(body);
      const attributesMd5 = md5OfMessageAttributes(attributes);
      if (seen !== undefined) {
        // Accepted, not delivered again (the 5-minute deduplication interval).
        return {
          MessageId: seen.id,
          MD5OfMessageBody: bodyMd5,
          ...(attributesMd5 === undefined ? {} : { MD5OfMessageAttributes: attributesMd5 }),
          ...(seen.seq === undefined ? {} : { SequenceNumber: seen.seq }),
        };
      }
      seq = q.nextSequenceNumber(now);
    } else {
      if (input.MessageDeduplicationId !== undefined) {
        throw new SqsError(
          'InvalidParameterValue',
          'Value for parameter MessageDeduplicationId is invalid. Reason: The request include parameter that is not valid for this queue type.',
        );
      }
      if (groupId !== undefined && groupId.length === 0) groupId = undefined;
    }
    const delay = input.DelaySeconds ?? q.def.delaySeconds;
    if (delay < 0 || delay > 900) {
      throw new SqsError(
        'InvalidParameterValue',
        'Value for parameter DelaySeconds is invalid. Reason: must be between 0 and 900.',
      );
    }
    const id = randomUUID();
    q.add({
      id,
      body,
      attributes,
      sentAt: now,
      availableAt: now + delay * 1000,
      receiveCount: 0,
      ...(groupId === undefined ? {} : { groupId }),
      ...(dedupId === undefined ? {} : { dedupId }),
      ...(seq === undefined ? {} : { seq }),
    });
    if (dedupId !== undefined) q.remember(dedupId, id, seq, now);
    q.counters.sent += 1;
    this.#wake();
    const attributesMd5 = md5OfMessageAttributes(attributes);
    return {
      MessageId: id,
      MD5OfMessageBody: md5(body),
      ...(attributesMd5 === undefined ? {} : { MD5OfMessageAttributes: attributesMd5 }),
      ...(seq === undefined ? {} : { SequenceNumber: seq }),
    };
  }

  #checkAttributes(attributes: Record<string, MessageAttributeValue>): void {
    const names = Object.keys(attributes);
    if (names.length > 10) {
      throw new SqsError(
        'InvalidParameterValue',
        `Number of message attributes [${names.length}] exceeds the allowed maximum [10].`,
      );
    }
    for (const [name, a] of Object.entries(attributes)) {
      if (!/^[A-Za-z0-9_.-]{1,256}$/.test(name) || /^(aws\.|amazon\.)/i.test(name) || name.includes('..')) {
        throw new SqsError('InvalidParameterValue', `Message attribute name '${name}' is invalid.`);
      }
      const type = a.DataType.split('.')[0];
      if (type === 'Binary' ? a.BinaryValue === undefined : a.StringValue === undefined) {
        throw new SqsError(
          'InvalidParameterValue',
          `Message attribute '${name}' must contain a non-empty value of message attribute type '${a.DataType}'.`,
        );
      }
      if (type !== 'String' && type !== 'Number' && type !== 'Binary') {
        throw new SqsError('InvalidParameterValue', `The type of message attribute '${name}' is invalid.`);
      }
      if (type === 'Number' && !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(a.StringValue ?? '')) {
        throw new SqsError('InvalidParameterValue', `Can't cast the value of message attribute '${name}' to a number.`);
      }
    }
  }

  /** Receives up to `max` messages (FIFO: never past an in-flight message of the same group). */
  #receive(q: LocalQueue, max: number, visibilityMs: number): Msg[] {
    const now = this.#now();
    q.expire(now);
    const out: Msg[] = [];
    // FIFO: a group is blocked from its first message that is not receivable (in flight, or not yet visible) on,
    // so no message is received while an earlier one of its group is in flight.
    const blocked = new Set<string>();
    const redrive = q.def.redrivePolicy;
    const dlq = redrive === undefined ? undefined : this.#byArn(redrive.deadLetterTargetArn);
    for (const m of [...q.messages.values()]) {
      if (out.length >= max) break;
      const group = q.def.fifo ? m.groupId : undefined;
      if (group !== undefined && blocked.has(group)) continue;
      if (!q.isVisible(m, now)) {
        if (group !== undefined) blocked.add(group);
        continue;
      }
      if (redrive !== undefined && dlq !== undefined && m.receiveCount >= redrive.maxReceiveCount) {
        this.#moveToDeadLetterQueue(q, m, dlq, now);
        continue;
      }
      q.markReceived(m, now, visibilityMs);
      out.push(m);
    }
    return out;
  }

  #moveToDeadLetterQueue(q: LocalQueue, m: Msg, dlq: LocalQueue, now: number): void {
    q.remove(m.id);
    q.counters.deadLettered += 1;
    dlq.add({
      id: m.id,
      body: m.body,
      attributes: m.attributes,
      // Retention keeps counting from the original enqueue (Developer Guide, dead-letter queues).
      sentAt: m.sentAt,
      availableAt: now,
      receiveCount: 0,
      ...(m.groupId === undefined ? {} : { groupId: m.groupId }),
      // Into a FIFO DLQ the deduplication id becomes the message id, so two messages never collide there.
      ...(dlq.def.fifo ? { dedupId: m.id, seq: dlq.nextSequenceNumber(now) } : {}),
      deadLetterSourceArn: q.arn,
    });
    dlq.counters.sent += 1;
    this.options.onError?.(`${q.name}: message ${m.id} moved to ${dlq.name} after ${m.receiveCount} receive(s)`);
    this.#wake();
  }

  async #receiveApi(r: z.infer<(typeof Requests)['ReceiveMessage']>): Promise<object> {
    const q = this.#byUrl(r.QueueUrl);
    const max = r.MaxNumberOfMessages ?? 1;
    if (max < 1 || max > 10) {
      throw new SqsError(
        'InvalidParameterValue',
        'Value for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10.',
      );
    }
    const visibility = r.VisibilityTimeout ?? q.def.visibilityTimeout;
    if (visibility < 0 || visibility > MAX_VISIBILITY_S) {
      throw new SqsError('InvalidParameterValue', 'Value for parameter VisibilityTimeout is invalid.');
    }
    const wait = r.WaitTimeSeconds ?? 0;
    if (wait < 0 || wait > 20) {
      throw new SqsError(
        'InvalidParameterValue',
        'Value for parameter WaitTimeSeconds is invalid. Reason: Must be between 0 and 20.',
      );
    }
    const deadline = this.#now() + wait * 1000;
    let messages = this.#receive(q, max, visibility * 1000);
    while (messages.length === 0 && !this.#stopped && this.#now() < deadline) {
      await this.#waitForChange(q, deadline - this.#now());
      messages = this.#receive(q, max, visibility * 1000);
    }
    this.#settled();
    const systemNames = new Set([...(r.AttributeNames ?? []), ...(r.MessageSystemAttributeNames ?? [])]);
    const wanted = (name: string) => systemNames.has('All') || systemNames.has(name);
    const attributeNames = r.MessageAttributeNames ?? [];
    const wantedAttribute = (name: string) =>
      attributeNames.some(
        (n) => n === 'All' || n === '.*' || n === name || (n.endsWith('.*') && name.startsWith(n.slice(0, -1))),
      );
    return {
      Messages: messages.map((m) => {
        const system = Object.fromEntries(Object.entries(this.#systemAttributes(m)).filter(([k]) => wanted(k)));
        const attrs = Object.fromEntries(Object.entries(m.attributes).filter(([k]) => wantedAttribute(k)));
        const attrsMd5 = md5OfMessageAttributes(attrs);
        return {
          MessageId: m.id,
          ReceiptHandle: m.receipt,
          MD5OfBody: md5(m.body),
          Body: m.body,
          ...(Object.keys(system).length === 0 ? {} : { Attributes: system }),
          ...(attrsMd5 === undefined ? {} : { MD5OfMessageAttributes: attrsMd5, MessageAttributes: attrs }),
        };
      }),
    };
  }

  #systemAttributes(m: Msg): Partial<Record<(typeof MESSAGE_SYSTEM_ATTRIBUTES)[number], string>> {
    return {
      SenderId: LOCAL_ACCOUNT,
      SentTimestamp: String(m.sentAt),
      ApproximateReceiveCount: String(m.receiveCount),
      ApproximateFirstReceiveTimestamp: String(m.firstReceiveAt ?? m.sentAt),
      ...(m.seq === undefined ? {} : { SequenceNumber: m.seq }),
      ...(m.dedupId === undefined ? {} : { MessageDeduplicationId: m.dedupId }),
      ...(m.groupId === undefined ? {} : { MessageGroupId: m.groupId }),
      ...(m.deadLetterSourceArn === undefined ? {} : { DeadLetterQueueSourceArn: m.deadLetterSourceArn }),
    };
  }

  #messageByReceipt(q: LocalQueue, handle: string): Msg | undefined {
    const [queue, id, nonce] = Buffer.from(handle, 'base64').toString().split('\n');
    if (queue === undefined || id === undefined || nonce === undefined) {
      throw new SqsError(
        'ReceiptHandleIsInvalid',
        `The input receipt handle "${handle}" is not a valid receipt handle.`,
      );
    }
    if (queue !== q.name) {
      throw new SqsError('ReceiptHandleIsInvalid', `The input receipt handle "${handle}" is not valid for this queue.`);
    }
    return q.messages.get(id);
  }

  /** DeleteMessage: only the latest receipt handle deletes; a stale one succeeds and deletes nothing (as in AWS). */
  #delete(q: LocalQueue, handle: string): void {
    const m = this.#messageByReceipt(q, handle);
    if (m === undefined || m.receipt !== handle) return;
    q.remove(m.id);
    q.counters.deleted += 1;
    this.#settled();
  }

  #changeVisibility(q: LocalQueue, handle: string, seconds: number): void {
    if (seconds < 0 || seconds > MAX_VISIBILITY_S) {
      throw new SqsError('InvalidParameterValue', `Value ${seconds} for parameter VisibilityTimeout is invalid.`);
    }
    const m = this.#messageByReceipt(q, handle);
    if (m === undefined || m.receipt !== handle) {
      throw new SqsError(
        'InvalidParameterValue',
        `Value ${handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.`,
      );
    }
    const now = this.#now();
    if (!q.isInFlight(m, now)) throw new SqsError('MessageNotInflight', 'The message is not in flight.');
    m.invisibleUntil = now + seconds * 1000;
    this.#wake();
  }

  #attributes(q: LocalQueue, names: readonly string[]): Record<string, string> {
    const all = names.includes('All');
    for (const n of names) {
      if (n !== 'All' && !(QUEUE_ATTRIBUTES as readonly string[]).includes(n)) {
        throw new SqsError('InvalidAttributeName', `Unknown Attribute ${n}.`);
      }
    }
    const counts = q.counts(this.#now());
    const values: Partial<Record<(typeof QUEUE_ATTRIBUTES)[number], string>> = {
      ApproximateNumberOfMessages: String(counts.visible),
      ApproximateNumberOfMessagesNotVisible: String(counts.inFlight),
      ApproximateNumberOfMessagesDelayed: String(counts.delayed),
      CreatedTimestamp: String(Math.floor(q.createdAt / 1000)),
      LastModifiedTimestamp: String(Math.floor(q.createdAt / 1000)),
      DelaySeconds: String(q.def.delaySeconds),
      MaximumMessageSize: String(MAX_MESSAGE_BYTES),
      MessageRetentionPeriod: String(q.def.messageRetentionPeriod),
      QueueArn: q.arn,
      ReceiveMessageWaitTimeSeconds: '0',
      VisibilityTimeout: String(q.def.visibilityTimeout),
      SqsManagedSseEnabled: 'true',
      ...(q.def.redrivePolicy === undefined ? {} : { RedrivePolicy: JSON.stringify(q.def.redrivePolicy) }),
      ...(q.def.fifo ? { FifoQueue: 'true', ContentBasedDeduplication: String(q.def.contentBasedDeduplication) } : {}),
    };
    return Object.fromEntries(Object.entries(values).filter(([k]) => all || names.includes(k)));
  }

  #sourcesOf(dlq: LocalQueue): LocalQueue[] {
    return [...this.#queues.values()].filter((q) => q.def.redrivePolicy?.deadLetterTargetArn === dlq.arn);
  }

  #sourceQueueForMove(arn: string): LocalQueue {
    const q = this.#byArn(arn);
    if (q === undefined) {
      throw new SqsError(
        'ResourceNotFoundException',
        "The resource that you specified for the SourceArn parameter doesn't exist.",
      );
    }
    return q;
  }

  /**
   * StartMessageMoveTask: moves every message available in the DLQ now, oldest first, to DestinationArn or to
   * each message's original source queue. AWS runs the task asynchronously; locally it has completed by the time
   * the call returns (ListMessageMoveTasks then reports COMPLETED, or FAILED with the reason).
   */
  #startMoveTask(r: z.infer<(typeof Requests)['StartMessageMoveTask']>): { TaskHandle: string } {
    const source = this.#sourceQueueForMove(r.SourceArn);
    if (this.#sourcesOf(source).length === 0) {
      throw new SqsError('InvalidParameterValue', 'Source queue must be configured as a Dead Letter Queue.');
    }
    const destination = r.DestinationArn === undefined ? undefined : this.#byArn(r.DestinationArn);
    if (r.DestinationArn !== undefined && destination === undefined) {
      throw new SqsError(
        'ResourceNotFoundException',
        "The resource that you specified for the DestinationArn parameter doesn't exist.",
      );
    }
    if (destination !== undefined && destination.def.fifo !== source.def.fifo) {
      throw new SqsError(
        'InvalidParameterValue',
        'The source queue and the destination queue must be of the same type.',
      );
    }
    if (this.#tasks.some((t) => t.sourceArn === source.arn && t.status === 'RUNNING')) {
      throw new SqsError(
        'UnsupportedOperation',
        'There is already a task running. Only one active task is allowed for a source queue arn at a given time.',
      );
    }
    const now = this.#now();
    source.expire(now);
    const available = [...source.messages.values()].filter((m) => source.isVisible(m, now));
    const task: MoveTask = {
      handle: Buffer.from(JSON.stringify({ taskId: randomUUID(), sourceArn: source.arn })).toString('base64'),
      sourceArn: source.arn,
      ...(r.DestinationArn === undefined ? {} : { destinationArn: r.DestinationArn }),
      ...(r.MaxNumberOfMessagesPerSecond === undefined ? {} : { maxPerSecond: r.MaxNumberOfMessagesPerSecond }),
      status: 'RUNNING',
      moved: 0,
      toMove: available.length,
      startedAt: now,
    };
    this.#tasks.push(task);
    for (const m of available) {
      const to = destination ?? (m.deadLetterSourceArn === undefined ? undefined : this.#byArn(m.deadLetterSourceArn));
      if (to === undefined) {
        task.status = 'FAILED';
        task.failureReason = 'CouldNotDetermineMessageSource';
        break;
      }
      source.remove(m.id);
      const id = randomUUID();
      to.add({
        id,
        body: m.body,
        attributes: m.attributes,
        sentAt: now, // the move resets the retention period
        availableAt: now,
        receiveCount: 0,
        ...(m.groupId === undefined ? {} : { groupId: m.groupId }),
        ...(to.def.fifo ? { dedupId: id, seq: to.nextSequenceNumber(now) } : {}),
      });
      to.counters.sent += 1;
      task.moved += 1;
    }
    if (task.status === 'RUNNING') task.status = 'COMPLETED';
    this.#wake();
    return { TaskHandle: task.handle };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Pollers
  // -------------------------------------------------------------------------------------------------------------
  #startPollers(source: SqsEventSource): void {
    const n = Math.max(1, Math.min(source.concurrency ?? 2, 10));
    for (let i = 0; i < n; i++) {
      const p = this.#poll(source).catch((err: unknown) =>
        this.options.onError?.(`${source.id}: poller stopped: ${err instanceof Error ? err.message : String(err)}`),
      );
      this.#pollers.add(p);
      void p.finally(() => this.#pollers.delete(p));
    }
  }

  async #poll(source: SqsEventSource): Promise<void> {
    const q = this.#byArn(source.queueArn);
    if (q === undefined) return;
    // Lambda reads at most 10 messages per batch from a FIFO queue.
    const max = q.def.fifo ? Math.min(source.batchSize, 10) : source.batchSize;
    const retryDelayMs = Math.min(q.def.visibilityTimeout * 1000, this.options.maxRetryDelayMs ?? 2000);
    while (!this.#stopped) {
      const batch = this.#receive(q, max, ESM_HOLD_MS);
      if (batch.length === 0) {
        this.#settled();
        await this.#waitForChange(q, Number.POSITIVE_INFINITY);
        continue;
      }
      this.#delivering += 1;
      try {
        await this.#deliverBatch(source, q, batch, retryDelayMs);
      } finally {
        this.#delivering -= 1;
        this.#settled();
      }
    }
  }

  async #deliverBatch(source: SqsEventSource, q: LocalQueue, batch: Msg[], retryDelayMs: number): Promise<void> {
    const records = batch.map((m) => this.#record(q, m));
    const kept = source.filter === undefined ? records : records.filter(source.filter);
    // Records no filter matches are deleted (Lambda event filtering for SQS).
    for (const r of records) if (!kept.includes(r)) this.#delete(q, r.receiptHandle);
    if (kept.length === 0) return;
    const held = new Map(batch.map((m) => [m.id, m.invisibleUntil]));
    let failed: Set<string>;
    try {
      const result = await source.deliver({ Records: kept });
      failed = this.#failures(source, kept, result);
    } catch (err) {
      this.options.onError?.(
        `${source.id}: batch of ${kept.length} from ${q.name} failed: ${err instanceof Error ? err.name : 'Error'}`,
      );
      failed = new Set(kept.map((r) => r.messageId));
    }
    const now = this.#now();
    for (const r of kept) {
      if (!failed.has(r.messageId)) {
        this.#delete(q, r.receiptHandle);
        continue;
      }
      const m = q.messages.get(r.messageId);
      if (m === undefined || m.receipt !== r.receiptHandle) continue;
      // A visibility the function set itself (ChangeMessageVisibility, e.g. a backoff) is kept, within the local bound.
      const changed = m.invisibleUntil !== held.get(m.id);
      m.invisibleUntil = changed ? Math.min(m.invisibleUntil, now + retryDelayMs) : now + retryDelayMs;
    }
    if (failed.size > 0) this.#wake();
  }

  /** Message ids to keep: all on an error; with ReportBatchItemFailures, the reported ones (a bad report fails all). */
  #failures(source: SqsEventSource, records: SqsLambdaRecord[], result: unknown): Set<string> {
    if (!source.reportBatchItemFailures || result === undefined || result === null) return new Set();
    const parsed = BatchResponse.safeParse(result);
    const all = new Set(records.map((r) => r.messageId));
    if (!parsed.success) return all;
    const ids = parsed.data.batchItemFailures.map((f) => f.itemIdentifier);
    if (ids.some((id) => !all.has(id))) return all;
    return new Set(ids);
  }

  #record(q: LocalQueue, m: Msg): SqsLambdaRecord {
    const md5Attributes = md5OfMessageAttributes(m.attributes);
    const system = this.#systemAttributes(m);
    return {
      messageId: m.id,
      receiptHandle: m.receipt ?? '',
      body: m.body,
      attributes: Object.fromEntries(Object.entries(system).filter((e): e is [string, string] => e[1] !== undefined)),
      messageAttributes: Object.fromEntries(
        Object.entries(m.attributes).map(([k, a]) => [
          k,
          {
            ...(a.StringValue === undefined ? {} : { stringValue: a.StringValue }),
            ...(a.BinaryValue === undefined ? {} : { binaryValue: a.BinaryValue }),
            stringListValues: a.StringListValues ?? [],
            binaryListValues: a.BinaryListValues ?? [],
            dataType: a.DataType,
          },
        ]),
      ),
      md5OfBody: md5(m.body),
      ...(md5Attributes === undefined ? {} : { md5OfMessageAttributes: md5Attributes }),
      eventSource: 'aws:sqs',
      eventSourceARN: q.arn,
      awsRegion: LOCAL_REGION,
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Waiting
  // -------------------------------------------------------------------------------------------------------------
  /** Resolves on any queue change, when the queue's next message becomes visible, or after `maxMs`. */
  #waitForChange(q: LocalQueue, maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#stopped) return resolve();
      const now = this.#now();
      const next = q.nextChangeAt(now);
      const delay = Math.min(next === undefined ? Number.POSITIVE_INFINITY : next - now, maxMs);
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      if (Number.isFinite(delay)) timer = setTimeout(done, Math.min(Math.max(0, delay), MAX_TIMER_MS));
      this.#waiters.add(done);
    });
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  #isIdle(): boolean {
    if (this.#delivering > 0) return false;
    const now = this.#now();
    return this.#sources.every((s) => {
      const q = this.#byArn(s.queueArn);
      if (q === undefined) return true;
      const c = q.counts(now);
      return c.visible + c.inFlight + c.delayed === 0;
    });
  }

  #settled(): void {
    if (this.#idleWaiters.length === 0 || !this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Lookup
  // -------------------------------------------------------------------------------------------------------------
  #named(name: string): LocalQueue {
    const q = this.#queues.get(name);
    if (q === undefined) throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
    return q;
  }

  #byArn(arn: string): LocalQueue | undefined {
    const m = /^arn:aws:sqs:[^:]*:([^:]*):(.+)$/.exec(arn);
    if (m === null || m[1] !== LOCAL_ACCOUNT) return undefined;
    return this.#queues.get(m[2] ?? '');
  }

  /** A queue URL (`<any origin>/<account>/<name>`, as SDK clients send it). */
  #byUrl(url: string): LocalQueue {
    let path: string;
    try {
      path = new URL(url).pathname;
    } catch {
      throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
    }
    const [, account, name] = path.split('/');
    const q = account === LOCAL_ACCOUNT && name !== undefined ? this.#queues.get(name) : undefined;
    if (q === undefined) throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
    return q;
  }
}

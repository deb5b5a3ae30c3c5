import { closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import * as z from 'zod';
import { journalLines, Sleeps } from './durable.ts';

/**
 * DynamoDB Streams → Lambda event source mapping, locally: per mapping, records are delivered in order, in
 * batches; a failed batch (or, with ReportBatchItemFailures, the records from the first failed one on) is
 * retried with backoff, a bounded number of times, then moved to a local dead-letter list.
 *
 * Undelivered records are appended to a journal file before the write that produced them is acknowledged, so
 * a crash or restart loses no event; the journal is compacted on open.
 */
const AttributeMap = z.record(z.string(), z.unknown());
export const StreamRecord = z.object({
  eventID: z.string(),
  eventName: z.enum(['INSERT', 'MODIFY', 'REMOVE']),
  eventVersion: z.literal('1.1'),
  eventSource: z.literal('aws:dynamodb'),
  awsRegion: z.string(),
  dynamodb: z.object({
    ApproximateCreationDateTime: z.number(),
    Keys: AttributeMap,
    NewImage: AttributeMap.optional(),
    OldImage: AttributeMap.optional(),
    SequenceNumber: z.string(),
    SizeBytes: z.number(),
    StreamViewType: z.enum(['KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES']),
  }),
  eventSourceARN: z.string(),
});
export type StreamRecord = z.infer<typeof StreamRecord>;

/** A write in flight: if the process dies before its record is journaled, the restart re-derives it. */
export const WriteIntent = z.object({
  table: z.string(),
  key: AttributeMap,
  old: AttributeMap.nullable(),
});
export type WriteIntent = z.infer<typeof WriteIntent>;

const JournalLine = z.union([
  z.object({ c: z.string(), r: StreamRecord }),
  z.object({ a: z.string(), id: z.string() }),
  z.object({ i: z.string(), w: WriteIntent }),
  z.object({ d: z.string() }),
]);

export type StreamConsumer = {
  /** The event source mapping's logical id. */
  readonly id: string;
  readonly table: string;
  readonly batchSize: number;
  /** Retries after the first attempt, before a batch goes to the dead-letter list. */
  readonly maxRetries: number;
  readonly reportBatchItemFailures: boolean;
  /** Invokes the target with `{ Records }`; resolves to the Lambda's result. */
  readonly deliver: (event: { Records: StreamRecord[] }) => Promise<unknown>;
};

export type DeadLetter = { consumer: string; record: StreamRecord; error: string };

const BatchResponse = z.object({ batchItemFailures: z.array(z.object({ itemIdentifier: z.string() })) });

type Queue = { consumer: StreamConsumer; records: StreamRecord[]; running: boolean };

export type StreamJournalOptions = {
  /** Journal file; undefined keeps everything in memory. */
  file?: string;
  /** First retry delay; doubles per attempt up to `retryMaxMs`. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  onError?: (message: string) => void;
};

export class StreamJournal {
  readonly #queues = new Map<string, Queue>();
  readonly #loaded = new Map<string, StreamRecord[]>();
  readonly #intents = new Map<string, WriteIntent>();
  readonly #dlq: DeadLetter[] = [];
  readonly #sleeps = new Sleeps();
  #idleWaiters: (() => void)[] = [];
  #fd: number | undefined;
  #intentSeq = 0;
  #started = false;
  #closed = false;

  constructor(private readonly options: StreamJournalOptions = {}) {
    const file = options.file;
    if (file === undefined) return;
    if (existsSync(file)) this.#load(readFileSync(file, 'utf8'));
    // Compact: rewrite only what is still owed, then append from there.
    const lines: string[] = [];
    for (const [c, records] of this.#loaded) for (const r of records) lines.push(JSON.stringify({ c, r }));
    for (const [i, w] of this.#intents) lines.push(JSON.stringify({ i, w }));
    writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
    this.#fd = openSync(file, 'a');
  }

  /** Intents left unresolved by a crash: the caller re-reads each item and appends what changed. */
  unresolvedIntents(): [string, WriteIntent][] {
    return [...this.#intents];
  }

  register(consumer: StreamConsumer): void {
    const records = this.#loaded.get(consumer.id) ?? [];
    this.#loaded.delete(consumer.id);
    this.#queues.set(consumer.id, { consumer, records, running: false });
    if (this.#started) this.#pump(consumer.id);
  }

  /** Starts delivering (call once every consumer is registered and its function can be invoked). */
  start(): void {
    this.#started = true;
    for (const [c, records] of this.#loaded) {
      this.options.onError?.(`dropping ${records.length} stream record(s) journaled for unknown mapping ${c}`);
    }
    this.#loaded.clear();
    for (const id of this.#queues.keys()) this.#pump(id);
  }

  hasConsumers(table: string): boolean {
    return [...this.#queues.values()].some((q) => q.consumer.table === table);
  }

  intent(w: WriteIntent): string {
    const id = `${Date.now().toString(36)}-${++this.#intentSeq}`;
    this.#intents.set(id, w);
    this.#write({ i: id, w });
    return id;
  }

  /** Journals the records of one write (and resolves its intent) before the write is acknowledged. */
  append(table: string, records: readonly StreamRecord[], intentId?: string): void {
    for (const q of this.#queues.values()) {
      if (q.consumer.table !== table) continue;
      for (const r of records) {
        this.#write({ c: q.consumer.id, r });
        q.records.push(r);
      }
    }
    if (intentId !== undefined) {
      this.#intents.delete(intentId);
      this.#write({ d: intentId });
    }
    if (this.#started) for (const q of this.#queues.values()) if (q.consumer.table === table) this.#pump(q.consumer.id);
  }

  pending(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.records.length;
    return n;
  }

  deadLetters(): DeadLetter[] {
    return [...this.#dlq];
  }

  /** Resolves once every queue is empty and no delivery is running. */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  close(): void {
    this.#closed = true;
    this.#sleeps.wakeAll();
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #isIdle(): boolean {
    return [...this.#queues.values()].every((q) => q.records.length === 0 && !q.running);
  }

  #write(line: z.infer<typeof JournalLine>): void {
    if (this.#fd !== undefined) writeSync(this.#fd, `${JSON.stringify(line)}\n`);
  }

  #load(text: string): void {
    const acked = new Set<string>();
    const entries: { c: string; r: StreamRecord }[] = [];
    for (const l of journalLines(text, JournalLine)) {
      if ('c' in l) entries.push(l);
      else if ('a' in l) acked.add(`${l.a}\n${l.id}`);
      else if ('i' in l) this.#intents.set(l.i, l.w);
      else this.#intents.delete(l.d);
    }
    for (const { c, r } of entries) {
      if (acked.has(`${c}\n${r.eventID}`)) continue;
      const list = this.#loaded.get(c) ?? [];
      list.push(r);
      this.#loaded.set(c, list);
    }
  }

  #ack(consumer: string, records: readonly StreamRecord[]): void {
    for (const r of records) this.#write({ a: consumer, id: r.eventID });
  }

  #pump(id: string): void {
    const q = this.#queues.get(id);
    if (q === undefined || q.running || this.#closed) return;
    q.running = true;
    void this.#drain(q).finally(() => {
      q.running = false;
      if (this.#isIdle()) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const w of waiters) w();
      } else if (q.records.length > 0 && !this.#closed) {
        this.#pump(id);
      }
    });
  }

  async #drain(q: Queue): Promise<void> {
    const { consumer } = q;
    const base = this.options.retryBaseMs ?? 200;
    const max = this.options.retryMaxMs ?? 10_000;
    while (q.records.length > 0 && !this.#closed) {
      let batch = q.records.slice(0, consumer.batchSize);
      let attempt = 0;
      while (batch.length > 0 && !this.#closed) {
        let error: string;
        try {
          const result = await consumer.deliver({ Records: batch });
          const failedFrom = this.#firstFailure(consumer, batch, result);
          if (failedFrom === undefined) {
            this.#done(q, batch);
            break;
          }
          this.#done(q, batch.slice(0, failedFrom));
          batch = batch.slice(failedFrom);
          error = `batch item failure at ${batch[0]?.eventID}`;
        } catch (err) {
          error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        }
        if (this.#closed) return;
        attempt += 1;
        if (attempt > consumer.maxRetries) {
          for (const record of batch) this.#dlq.push({ consumer: consumer.id, record, error });
          this.options.onError?.(`${consumer.id}: ${batch.length} stream record(s) to the dead-letter list (${error})`);
          this.#done(q, batch);
          break;
        }
        await this.#sleeps.sleep(Math.min(max, base * 2 ** (attempt - 1)));
      }
    }
  }

  /** Index of the first record to retry, or undefined when the whole batch succeeded. */
  #firstFailure(consumer: StreamConsumer, batch: StreamRecord[], result: unknown): number | undefined {
    if (!consumer.reportBatchItemFailures) return undefined;
    const parsed = BatchResponse.safeParse(result);
    if (!parsed.success || parsed.data.batchItemFailures.length === 0) return undefined;
    const indexes = parsed.data.batchItemFailures.map((f) => batch.findIndex((r) => r.eventID === f.itemIdentifier));
    // An identifier that is not in the batch fails the whole batch (as Lambda does).
    if (indexes.some((i) => i < 0)) return 0;
    return Math.min(...indexes);
  }

  #done(q: Queue, records: readonly StreamRecord[]): void {
    if (records.length === 0) return;
    this.#ack(q.consumer.id, records);
    const ids = new Set(records.map((r) => r.eventID));
    q.records = q.records.filter((r) => !ids.has(r.eventID));
  }
}

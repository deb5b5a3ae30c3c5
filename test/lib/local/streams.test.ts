import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type StreamConsumer, StreamJournal, type StreamRecord } from '#lib/local/streams.ts';

const record = (n: number): StreamRecord => ({
  eventID: `e${n}`,
  eventName: 'INSERT',
  eventVersion: '1.1',
  eventSource: 'aws:dynamodb',
  awsRegion: 'local',
  dynamodb: {
    ApproximateCreationDateTime: 0,
    Keys: { pk: { S: `k${n}` } },
    NewImage: { pk: { S: `k${n}` } },
    SequenceNumber: String(n).padStart(21, '0'),
    SizeBytes: 1,
    StreamViewType: 'NEW_AND_OLD_IMAGES',
  },
  eventSourceARN: 'arn:aws:dynamodb:local:000000000000:table/T/stream/local',
});

const consumer = (over: Partial<StreamConsumer> & Pick<StreamConsumer, 'deliver'>): StreamConsumer => ({
  id: 'Esm',
  table: 'T',
  batchSize: 10,
  maxRetries: 3,
  reportBatchItemFailures: true,
  ...over,
});

const journals: StreamJournal[] = [];
const dirs: string[] = [];
const journal = (file?: string) => {
  const j = new StreamJournal({ retryBaseMs: 1, retryMaxMs: 2, ...(file ? { file } : {}) });
  journals.push(j);
  return j;
};
const tempFile = () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-stream-'));
  dirs.push(dir);
  return join(dir, 'stream.jsonl');
};
afterEach(() => {
  for (const j of journals.splice(0)) j.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('StreamJournal', () => {
  it('delivers records in order, in batches of the mapping size', async () => {
    const batches: string[][] = [];
    const j = journal();
    j.register(consumer({ batchSize: 2, deliver: async (e) => void batches.push(e.Records.map((r) => r.eventID)) }));
    j.append('T', [record(1), record(2), record(3)]);
    j.start();
    await j.idle();
    expect(batches).toEqual([['e1', 'e2'], ['e3']]);
  });

  it('retries from the first reported batch item failure, keeping order', async () => {
    const seen: string[][] = [];
    let failOnce = true;
    const j = journal();
    j.register(
      consumer({
        deliver: async (e) => {
          seen.push(e.Records.map((r) => r.eventID));
          if (failOnce) {
            failOnce = false;
            return { batchItemFailures: [{ itemIdentifier: 'e2' }] };
          }
          return { batchItemFailures: [] };
        },
      }),
    );
    j.start();
    j.append('T', [record(1), record(2), record(3)]);
    await j.idle();
    expect(seen).toEqual([
      ['e1', 'e2', 'e3'],
      ['e2', 'e3'],
    ]);
  });

  it('moves a batch that keeps failing to the dead-letter list after the retry bound', async () => {
    let attempts = 0;
    const j = journal();
    j.register(
      consumer({
        maxRetries: 2,
        deliver: async () => {
          attempts += 1;
          throw new TypeError('boom');
        },
      }),
    );
    j.start();
    j.append('T', [record(1)]);
    await j.idle();
    expect(attempts).toBe(3);
    expect(j.deadLetters()).toEqual([{ consumer: 'Esm', record: record(1), error: 'TypeError: boom' }]);
    expect(j.pending()).toBe(0);
  });

  it('ignores batch item failures when the mapping does not report them', async () => {
    let calls = 0;
    const j = journal();
    j.register(
      consumer({
        reportBatchItemFailures: false,
        deliver: async () => {
          calls += 1;
          return { batchItemFailures: [{ itemIdentifier: 'e1' }] };
        },
      }),
    );
    j.start();
    j.append('T', [record(1)]);
    await j.idle();
    expect(calls).toBe(1);
  });

  it('keeps undelivered records across a restart and drops delivered ones', async () => {
    const file = tempFile();
    const first = journal(file);
    const delivered: string[] = [];
    first.register(consumer({ deliver: async (e) => void delivered.push(...e.Records.map((r) => r.eventID)) }));
    first.start();
    first.append('T', [record(1)]);
    await first.idle();
    first.register(consumer({ id: 'Esm', deliver: async () => new Promise(() => {}) })); // stuck: never acks
    first.append('T', [record(2)]);
    first.close();

    const second = journal(file);
    second.register(consumer({ deliver: async (e) => void delivered.push(...e.Records.map((r) => r.eventID)) }));
    second.start();
    await second.idle();
    expect(delivered).toEqual(['e1', 'e2']);
  });

  it('reports write intents left unresolved by a crash', () => {
    const file = tempFile();
    const first = journal(file);
    const resolved = first.intent({ table: 'T', key: { pk: { S: 'a' } }, old: null });
    first.intent({ table: 'T', key: { pk: { S: 'b' } }, old: null });
    first.append('T', [], resolved);
    first.close();
    const second = journal(file);
    expect(second.unresolvedIntents().map(([, w]) => w.key)).toEqual([{ pk: { S: 'b' } }]);
  });
});

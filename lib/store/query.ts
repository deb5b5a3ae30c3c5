import { BatchGetCommand, type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Key } from './keys.ts';

export type Item = Record<string, unknown>;

/** Which index to query and which attributes hold its keys (`index` undefined = the base table). */
export type IndexSpec = { index?: string; pkName: string; skName: string };

export type Filter = { expression: string; names: Record<string, string>; values: Record<string, unknown> };

export function sortKeyOf(item: Item, skName: string): string {
  const value = item[skName];
  if (typeof value !== 'string') throw new Error(`item ${String(item.pk)} has no string ${skName}`);
  return value;
}

/** Query one partition in sort-key order, starting strictly after `after` and stopping strictly before `until`. */
export class PartitionReader {
  private startKey: Item | undefined;
  private buffer: Item[] = [];
  private exhausted = false;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly spec: IndexSpec,
    private readonly pk: string,
    private readonly options: {
      ascending: boolean;
      after?: string;
      until?: string;
      filter?: Filter;
      pageSize: number;
      consistent?: boolean;
    },
  ) {}

  /** Items already read and not yet taken. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** True once every item of the range was read (the buffer may still hold some). */
  get done(): boolean {
    return this.exhausted;
  }

  /** Sort key to resume from when the reader stopped mid-partition (last evaluated, possibly filtered out). */
  resumeAfter: string | undefined;

  peek(): Item | undefined {
    return this.buffer[0];
  }

  take(): Item | undefined {
    return this.buffer.shift();
  }

  /** One Query round trip; no-op once the partition is exhausted. */
  async fill(): Promise<void> {
    if (this.exhausted) return;
    const { ascending, after, until, filter, pageSize, consistent } = this.options;
    const { pkName, skName } = this.spec;
    const names: Record<string, string> = { '#pk': pkName, ...(filter?.names ?? {}) };
    const values: Record<string, unknown> = { ':pk': this.pk, ...(filter?.values ?? {}) };
    let condition = '#pk = :pk';
    const bound = after ?? until;
    if (bound !== undefined) {
      names['#sk'] = skName;
      values[':bound'] = bound;
      // Walking forward from `after`, or up to `until` when there is no `after` (then `until` is checked below too).
      const op = after !== undefined ? (ascending ? '>' : '<') : ascending ? '<' : '>';
      condition += ` AND #sk ${op} :bound`;
    }
    const result = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        ...(this.spec.index === undefined ? {} : { IndexName: this.spec.index }),
        KeyConditionExpression: condition,
        ...(filter === undefined ? {} : { FilterExpression: filter.expression }),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ScanIndexForward: ascending,
        Limit: pageSize,
        ...(consistent ? { ConsistentRead: true } : {}),
        ...(this.startKey === undefined ? {} : { ExclusiveStartKey: this.startKey }),
      }),
    );
    for (const item of result.Items ?? []) {
      const sk = sortKeyOf(item, skName);
      if (until !== undefined && (ascending ? sk >= until : sk <= until)) {
        this.exhausted = true;
        return;
      }
      this.buffer.push(item);
    }
    this.startKey = result.LastEvaluatedKey;
    this.resumeAfter = result.LastEvaluatedKey === undefined ? undefined : sortKeyOf(result.LastEvaluatedKey, skName);
    if (result.LastEvaluatedKey === undefined) this.exhausted = true;
  }
}

/**
 * Reads up to `want` items from one partition within `maxQueries` round trips.
 * `resumeAfter` is set when the budget ran out before the partition did (continue strictly after it).
 */
export async function readPartition(
  reader: PartitionReader,
  want: number,
  maxQueries: number,
): Promise<{ items: Item[]; queries: number; resumeAfter?: string }> {
  const items: Item[] = [];
  let queries = 0;
  while (items.length < want) {
    const next = reader.take();
    if (next !== undefined) {
      items.push(next);
      continue;
    }
    if (reader.done) return { items, queries };
    if (queries >= maxQueries) {
      const resumeAfter = reader.resumeAfter;
      return resumeAfter === undefined ? { items, queries } : { items, queries, resumeAfter };
    }
    await reader.fill();
    queries++;
  }
  return { items, queries };
}

/**
 * A k-way merge of several partitions of one index into one sort-key order (ascending or descending).
 * Used where one logical listing spans partitions: status shards, and one approver's user and group keys.
 */
export class MergedReader {
  queries = 0;

  constructor(
    private readonly readers: PartitionReader[],
    private readonly skName: string,
    private readonly ascending: boolean,
    private readonly maxQueries: number,
    private readonly concurrency = 16,
  ) {}

  /** The next item in merged order, `end` when every partition is read, `budget` when out of round trips. */
  async next(): Promise<{ item: Item; sk: string } | 'end' | 'budget'> {
    const empty = this.readers.filter((r) => r.buffered === 0 && !r.done);
    if (empty.length > 0) {
      if (this.queries + empty.length > this.maxQueries) return 'budget';
      for (let i = 0; i < empty.length; i += this.concurrency) {
        await Promise.all(empty.slice(i, i + this.concurrency).map((r) => r.fill()));
      }
      this.queries += empty.length;
      // A filled reader may still be empty (its range ended): look again.
      return this.next();
    }
    let best: { reader: PartitionReader; sk: string } | undefined;
    for (const reader of this.readers) {
      const head = reader.peek();
      if (head === undefined) continue;
      const sk = sortKeyOf(head, this.skName);
      if (best === undefined || (this.ascending ? sk < best.sk : sk > best.sk)) best = { reader, sk };
    }
    if (best === undefined) return 'end';
    const item = best.reader.take();
    if (item === undefined) return 'end';
    return { item, sk: best.sk };
  }
}

/** BatchGetItem in chunks of 100, retrying unprocessed keys with a short backoff. */
export async function batchGet(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: Key[],
  consistent = true,
): Promise<Item[]> {
  const unique = [...new Map(keys.map((k) => [`${k.pk}\u0000${k.sk}`, k])).values()];
  const items: Item[] = [];
  for (let i = 0; i < unique.length; i += 100) {
    let pending: Record<string, unknown>[] = unique.slice(i, i + 100);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) {
        if (attempt > 8) throw new Error(`BatchGetItem left ${pending.length} keys unprocessed after retries`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
      }
      const result = await doc.send(
        new BatchGetCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: consistent } } }),
      );
      items.push(...(result.Responses?.[tableName] ?? []));
      pending = result.UnprocessedKeys?.[tableName]?.Keys ?? [];
    }
  }
  return items;
}

import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { type IncomingHttpHeaders, request, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import * as z from 'zod';
import type { AwsResponse, AwsService } from './http.ts';
import { CALLER_HEADER } from './iam.ts';
import type { StreamJournal, StreamRecord } from './streams.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION, type LocalTemplate } from './template.ts';

/**
 * DynamoDB, locally: dynalite (on disk or in memory) behind a proxy that the handlers' SDK talks to. The proxy
 * forwards every call, counts calls by operation, and emulates DynamoDB Streams (dynalite has none): a write to
 * a table with a StreamSpecification is serialized per table, the item is read before and after, and a stream
 * record is journaled (before the write is acknowledged) when it changed. Writes that change nothing emit no
 * record, as in DynamoDB.
 */
const require = createRequire(import.meta.url);
type DynaliteOptions = { path?: string; createTableMs?: number; deleteTableMs?: number; updateTableMs?: number };
const dynalite: (options: DynaliteOptions) => Server = require('dynalite');

const JSON_10 = 'application/x-amz-json-1.0';
const AttributeMap = z.record(z.string(), z.unknown());
type AttributeMap = z.infer<typeof AttributeMap>;
type ViewType = StreamRecord['dynamodb']['StreamViewType'];

type TableInfo = { name: string; keyAttributes: string[]; viewType: ViewType | undefined; streamArn: string };

const KeySchema = z.array(z.object({ AttributeName: z.string(), KeyType: z.enum(['HASH', 'RANGE']) }));
const TableProps = z.object({
  TableName: z.string().optional(),
  KeySchema,
  AttributeDefinitions: z.array(z.object({ AttributeName: z.string(), AttributeType: z.string() })),
  GlobalSecondaryIndexes: z
    .array(z.object({ IndexName: z.string(), KeySchema, Projection: z.record(z.string(), z.unknown()) }))
    .optional(),
  LocalSecondaryIndexes: z
    .array(z.object({ IndexName: z.string(), KeySchema, Projection: z.record(z.string(), z.unknown()) }))
    .optional(),
  StreamSpecification: z
    .object({ StreamViewType: z.enum(['KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES']) })
    .optional(),
});

const WriteBody = z.object({ TableName: z.string(), Item: AttributeMap.optional(), Key: AttributeMap.optional() });
const BatchWriteBody = z.object({
  RequestItems: z.record(
    z.string(),
    z.array(
      z.object({
        PutRequest: z.object({ Item: AttributeMap }).optional(),
        DeleteRequest: z.object({ Key: AttributeMap }).optional(),
      }),
    ),
  ),
});
const GetItemResult = z.object({ Item: AttributeMap.optional() });

const tableNameOf = (nameOrArn: string) => nameOrArn.replace(/^arn:[^:]*:dynamodb:[^:]*:[^:]*:table\//, '');

export type LocalDynamoOptions = {
  /** dynalite's LevelDB folder; undefined = in memory. One process per folder. */
  dataDir?: string;
  journal: StreamJournal;
};

export class LocalDynamo implements AwsService {
  readonly #tables = new Map<string, TableInfo>();
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #stats: Record<string, number> = {};
  readonly #byCaller: Record<string, Record<string, number>> = {};
  readonly #listeners = new Set<(table: string, record: StreamRecord) => void>();
  #sequence = 0n;

  private constructor(
    private readonly server: Server,
    private readonly port: number,
    private readonly journal: StreamJournal,
  ) {}

  static async start(template: LocalTemplate, options: LocalDynamoOptions): Promise<LocalDynamo> {
    if (options.dataDir !== undefined) mkdirSync(options.dataDir, { recursive: true });
    const server = dynalite({
      ...(options.dataDir === undefined ? {} : { path: options.dataDir }),
      createTableMs: 0,
      deleteTableMs: 0,
      updateTableMs: 0,
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = z.custom<AddressInfo>((a) => typeof a === 'object' && a !== null).parse(server.address());
    const local = new LocalDynamo(server, port, options.journal);
    try {
      await local.#createTables(template);
      await local.#recoverIntents();
    } catch (err) {
      await local.stop();
      throw err;
    }
    return local;
  }

  /** Table names the template defines, with the stream view type of those that have a stream. */
  tables(): { name: string; streamViewType: ViewType | undefined; streamArn: string }[] {
    return [...this.#tables.values()].map((t) => ({
      name: t.name,
      streamViewType: t.viewType,
      streamArn: t.streamArn,
    }));
  }

  tableByStreamArn(arn: string): string | undefined {
    return [...this.#tables.values()].find((t) => t.streamArn === arn)?.name;
  }

  /** Calls by operation (X-Amz-Target) made through the proxy, i.e. by handlers and tests. */
  stats(): Record<string, number> {
    return { ...this.#stats };
  }

  /** In-process hook on every stream record (tests); delivery to Lambda goes through the journal. */
  onRecord(listener: (table: string, record: StreamRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls by calling function (its logical id; `-` for tests and the runtime itself) and operation. */
  statsByCaller(): Record<string, Record<string, number>> {
    return Object.fromEntries(Object.entries(this.#byCaller).map(([caller, ops]) => [caller, { ...ops }]));
  }

  async handle(target: string, body: Buffer, headers: IncomingHttpHeaders): Promise<AwsResponse> {
    const operation = target.split('.')[1] ?? target;
    this.#stats[operation] = (this.#stats[operation] ?? 0) + 1;
    const header = headers[CALLER_HEADER];
    const caller = typeof header === 'string' ? header : '-';
    const ops = this.#byCaller[caller] ?? {};
    ops[operation] = (ops[operation] ?? 0) + 1;
    this.#byCaller[caller] = ops;
    switch (operation) {
      case 'PutItem':
      case 'UpdateItem':
      case 'DeleteItem':
        return this.#singleWrite(operation, body, headers);
      case 'BatchWriteItem':
        return this.#batchWrite(body, headers);
      default:
        return this.#forward(body, headers);
    }
  }

  /** A raw call to dynalite (table setup, image reads). Not counted. */
  async call(operation: string, payload: unknown): Promise<{ status: number; json: unknown }> {
    const now = new Date().toISOString().replace(/[:-]|\.\d{3}/g, '');
    const res = await this.#forward(Buffer.from(JSON.stringify(payload)), {
      'content-type': JSON_10,
      'x-amz-target': `DynamoDB_20120810.${operation}`,
      'x-amz-date': now,
      authorization: `AWS4-HMAC-SHA256 Credential=local/${now.slice(0, 8)}/${LOCAL_REGION}/dynamodb/aws4_request, SignedHeaders=host, Signature=local`,
    });
    return { status: res.status, json: JSON.parse(res.body.toString()) };
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }

  #forward(body: Buffer, headers: IncomingHttpHeaders): Promise<AwsResponse & { body: Buffer }> {
    const forwarded: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined || k === 'host' || k === 'connection' || k === 'content-length') continue;
      forwarded[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    forwarded['content-length'] = String(body.length);
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: this.port, method: 'POST', path: '/', headers: forwarded },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const out: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers)) {
              if (v !== undefined && k !== 'content-length' && k !== 'connection' && k !== 'transfer-encoding') {
                out[k] = Array.isArray(v) ? v.join(', ') : v;
              }
            }
            resolve({ status: res.statusCode ?? 500, headers: out, body: Buffer.concat(chunks) });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async #createTables(template: LocalTemplate): Promise<void> {
    const listed = await this.call('ListTables', {});
    const existing = new Set(z.object({ TableNames: z.array(z.string()) }).parse(listed.json).TableNames);
    const defs = [...template.ofType('AWS::DynamoDB::GlobalTable'), ...template.ofType('AWS::DynamoDB::Table')];
    for (const [id, res] of defs) {
      const p = TableProps.parse(template.resolve(res.Properties));
      const name = template.tableName(id);
      this.#tables.set(name, {
        name,
        keyAttributes: p.KeySchema.map((k) => k.AttributeName),
        viewType: p.StreamSpecification?.StreamViewType,
        streamArn: `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${name}/stream/local`,
      });
      // Idempotent on restart. A changed key schema or index set is not migrated: delete the data folder.
      if (existing.has(name)) continue;
      const created = await this.call('CreateTable', {
        TableName: name,
        KeySchema: p.KeySchema,
        AttributeDefinitions: p.AttributeDefinitions,
        BillingMode: 'PAY_PER_REQUEST',
        ...(p.GlobalSecondaryIndexes?.length ? { GlobalSecondaryIndexes: p.GlobalSecondaryIndexes } : {}),
        ...(p.LocalSecondaryIndexes?.length ? { LocalSecondaryIndexes: p.LocalSecondaryIndexes } : {}),
      });
      if (created.status !== 200) throw new Error(`CreateTable ${name} failed: ${JSON.stringify(created.json)}`);
      for (;;) {
        const described = await this.call('DescribeTable', { TableName: name });
        const status = z.object({ Table: z.object({ TableStatus: z.string() }) }).safeParse(described.json);
        if (status.success && status.data.Table.TableStatus === 'ACTIVE') break;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }

  /** Re-derives the records of writes a crash interrupted between dynalite and the journal. */
  async #recoverIntents(): Promise<void> {
    for (const [id, intent] of this.journal.unresolvedIntents()) {
      const table = this.#tables.get(intent.table);
      if (table === undefined) {
        this.journal.append(intent.table, [], id);
        continue;
      }
      const now = await this.#getItem(table.name, intent.key);
      const record = this.#record(table, intent.old, now);
      this.journal.append(table.name, record ? [record] : [], id);
      if (record) this.#notify(table.name, record);
    }
  }

  /** The table's stream info when writes to it must produce records (it has a stream and someone listens). */
  #streamTable(name: string): TableInfo | undefined {
    const t = this.#tables.get(tableNameOf(name));
    if (t?.viewType === undefined) return undefined;
    return this.journal.hasConsumers(t.name) || this.#listeners.size > 0 ? t : undefined;
  }

  async #withLocks<T>(tables: string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(tables)].sort();
    const previous = sorted.map((t) => this.#locks.get(t) ?? Promise.resolve());
    const run = Promise.allSettled(previous).then(fn);
    const settled = run.catch(() => undefined);
    for (const t of sorted) this.#locks.set(t, settled);
    try {
      return await run;
    } finally {
      for (const t of sorted) if (this.#locks.get(t) === settled) this.#locks.delete(t);
    }
  }

  async #singleWrite(operation: string, body: Buffer, headers: IncomingHttpHeaders): Promise<AwsResponse> {
    const parsed = WriteBody.safeParse(safeJson(body));
    const table = parsed.success ? this.#streamTable(parsed.data.TableName) : undefined;
    if (!parsed.success || table === undefined) return this.#forward(body, headers);
    const key = operation === 'PutItem' ? pick(parsed.data.Item, table.keyAttributes) : parsed.data.Key;
    if (key === undefined || Object.keys(key).length !== table.keyAttributes.length) {
      return this.#forward(body, headers); // malformed: dynalite answers with the validation error
    }
    return this.#withLocks([table.name], async () => {
      const old = await this.#getItem(table.name, key);
      const intent = this.journal.intent({ table: table.name, key, old });
      const response = await this.#forward(body, headers);
      const now = response.status === 200 ? await this.#getItem(table.name, key) : old;
      const record = this.#record(table, old, now);
      this.journal.append(table.name, record ? [record] : [], intent);
      if (record) this.#notify(table.name, record);
      return response;
    });
  }

  async #batchWrite(body: Buffer, headers: IncomingHttpHeaders): Promise<AwsResponse> {
    const parsed = BatchWriteBody.safeParse(safeJson(body));
    if (!parsed.success) return this.#forward(body, headers);
    const writes: { table: TableInfo; key: AttributeMap }[] = [];
    for (const [name, requests] of Object.entries(parsed.data.RequestItems)) {
      const table = this.#streamTable(name);
      if (table === undefined) continue;
      for (const r of requests) {
        const key = r.PutRequest ? pick(r.PutRequest.Item, table.keyAttributes) : r.DeleteRequest?.Key;
        if (key === undefined || Object.keys(key).length !== table.keyAttributes.length) {
          return this.#forward(body, headers);
        }
        writes.push({ table, key });
      }
    }
    if (writes.length === 0) return this.#forward(body, headers);
    return this.#withLocks(
      writes.map((w) => w.table.name),
      async () => {
        const olds = await Promise.all(writes.map((w) => this.#getItem(w.table.name, w.key)));
        const intents = writes.map((w, i) =>
          this.journal.intent({ table: w.table.name, key: w.key, old: olds[i] ?? null }),
        );
        const response = await this.#forward(body, headers);
        for (const [i, w] of writes.entries()) {
          const old = olds[i] ?? null;
          const now = response.status === 200 ? await this.#getItem(w.table.name, w.key) : old;
          const record = this.#record(w.table, old, now);
          this.journal.append(w.table.name, record ? [record] : [], intents[i]);
          if (record) this.#notify(w.table.name, record);
        }
        return response;
      },
    );
  }

  #notify(table: string, record: StreamRecord): void {
    for (const l of this.#listeners) l(table, record);
  }

  async #getItem(table: string, key: AttributeMap): Promise<AttributeMap | null> {
    const res = await this.call('GetItem', { TableName: table, Key: key, ConsistentRead: true });
    if (res.status !== 200)
      throw new Error(`stream emulation: GetItem on ${table} failed: ${JSON.stringify(res.json)}`);
    return GetItemResult.parse(res.json).Item ?? null;
  }

  #record(table: TableInfo, old: AttributeMap | null, now: AttributeMap | null): StreamRecord | undefined {
    if (canonical(old) === canonical(now)) return undefined;
    const viewType = table.viewType ?? 'NEW_AND_OLD_IMAGES';
    const image = now ?? old ?? {};
    const keys = pick(image, table.keyAttributes) ?? {};
    const withNew = now !== null && (viewType === 'NEW_IMAGE' || viewType === 'NEW_AND_OLD_IMAGES');
    const withOld = old !== null && (viewType === 'OLD_IMAGE' || viewType === 'NEW_AND_OLD_IMAGES');
    const dynamodb = {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      Keys: keys,
      ...(withNew ? { NewImage: now } : {}),
      ...(withOld ? { OldImage: old } : {}),
      SequenceNumber: this.#nextSequence(),
      SizeBytes: 0,
      StreamViewType: viewType,
    };
    dynamodb.SizeBytes = Buffer.byteLength(JSON.stringify([keys, dynamodb.NewImage, dynamodb.OldImage]));
    return {
      eventID: randomUUID().replaceAll('-', ''),
      eventName: old === null ? 'INSERT' : now === null ? 'REMOVE' : 'MODIFY',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: LOCAL_REGION,
      dynamodb,
      eventSourceARN: table.streamArn,
    };
  }

  /** Increasing across restarts (time-based prefix), like DynamoDB's 21+ digit sequence numbers. */
  #nextSequence(): string {
    const candidate = BigInt(Date.now()) * 1_000_000n;
    this.#sequence = candidate > this.#sequence ? candidate : this.#sequence + 1n;
    return this.#sequence.toString().padStart(21, '0');
  }
}

function safeJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString());
  } catch {
    return undefined;
  }
}

function pick(item: AttributeMap | undefined, attributes: readonly string[]): AttributeMap | undefined {
  if (item === undefined) return undefined;
  const out: AttributeMap = {};
  for (const a of attributes) if (a in item) out[a] = item[a];
  return out;
}

/** JSON with sorted keys, so two reads of one item compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '#lib/store/client.ts';
import { TABLE } from '#lib/store/table.ts';

type DynaliteOptions = { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number; path?: string };

// dynalite ships no type declarations; this types the one call we make.
// Streams, TTL and transactions are not emulated, so the table has none of them here.
const require = createRequire(import.meta.url);
const dynalite: (options: DynaliteOptions) => Server = require('dynalite');

export type LocalTable = {
  endpoint: string;
  tableName: string;
  doc: DynamoDBDocumentClient;
  /**
   * Every operation any client sent the table (`GetItem`, `BatchGetItem`…, from X-Amz-Target), in order: what a
   * handler's own clients send too. Clear it with `operations.length = 0`.
   */
  operations: string[];
  stop(): Promise<void>;
};

/** An in-memory dynalite on a free port with the one table created from TABLE (as the CDK construct declares it). */
export async function startDynalite(): Promise<LocalTable> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const operations: string[] = [];
  server.prependListener('request', (request: { headers: Record<string, string | string[] | undefined> }) => {
    const target = request.headers['x-amz-target'];
    if (typeof target === 'string') operations.push(target.replace(/^DynamoDB_\d+\./, ''));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('dynalite did not bind a TCP port');
  const { port } = address;
  const endpoint = `http://127.0.0.1:${port}`;
  const tableName = 'stint';
  const doc = createDocumentClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });

  const keyAttributes = [
    TABLE.partitionKey,
    TABLE.sortKey,
    ...TABLE.indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
  ];
  await doc.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: keyAttributes.map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: TABLE.indexes.map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
    }),
  );

  // dynalite answers CreateTable with CREATING and flips to ACTIVE on a timer; until then every call on the
  // table is ResourceNotFoundException (as in DynamoDB). Wait, or a busy machine sees a flaky first write.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { Table } = await doc.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') break;
    if (Date.now() > deadline) throw new Error(`dynalite table ${tableName} is still ${Table?.TableStatus}`);
    await new Promise((r) => setTimeout(r, 2));
  }

  operations.length = 0; // the table's setup is nobody's call
  return {
    endpoint,
    tableName,
    doc,
    operations,
    async stop() {
      doc.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalDynamo } from '#lib/local/dynamodb.ts';
import { StreamJournal, type StreamRecord } from '#lib/local/streams.ts';
import { loadTemplate } from '#lib/local/template.ts';
import { sdkConfig, serveAws } from './aws-server.ts';

const template = loadTemplate({
  Resources: {
    Main: {
      Type: 'AWS::DynamoDB::GlobalTable',
      Properties: {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'gsi1pk', AttributeType: 'S' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'gsi1',
            KeySchema: [{ AttributeName: 'gsi1pk', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      },
    },
    Plain: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: 'plain',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      },
    },
  },
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(dir?: string) {
  const journal = new StreamJournal({ retryBaseMs: 1, ...(dir ? { file: join(dir, 'stream.jsonl') } : {}) });
  const delivered: StreamRecord[] = [];
  journal.register({
    id: 'Esm',
    table: 'Main',
    batchSize: 100,
    maxRetries: 0,
    reportBatchItemFailures: true,
    deliver: async (e) => void delivered.push(...e.Records),
  });
  const dynamo = await LocalDynamo.start(template, { journal, ...(dir ? { dataDir: join(dir, 'dynamodb') } : {}) });
  journal.start();
  const server = await serveAws({ DynamoDB_20120810: dynamo });
  const client = new DynamoDBClient(sdkConfig(server.url));
  const stop = async () => {
    client.destroy();
    await server.close();
    await dynamo.stop();
    journal.close();
  };
  return { dynamo, journal, client, delivered, stop };
}

const item = (pk: string, extra: Record<string, { S: string }> = {}) => ({ pk: { S: pk }, sk: { S: 'A' }, ...extra });

describe('LocalDynamo', () => {
  it('creates the template tables with their indexes and serves the SDK', async () => {
    const { client, stop } = await start();
    cleanups.push(stop);
    await client.send(new PutItemCommand({ TableName: 'Main', Item: item('p1', { gsi1pk: { S: 'G' } }) }));
    const byIndex = await client.send(
      new QueryCommand({
        TableName: 'Main',
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :g',
        ExpressionAttributeValues: { ':g': { S: 'G' } },
      }),
    );
    expect(byIndex.Items?.map((i) => i.pk?.S)).toEqual(['p1']);
  });

  it('counts calls by operation', async () => {
    const { client, dynamo, stop } = await start();
    cleanups.push(stop);
    await client.send(new PutItemCommand({ TableName: 'plain', Item: { id: { S: '1' } } }));
    await client.send(new GetItemCommand({ TableName: 'plain', Key: { id: { S: '1' } } }));
    await client.send(new GetItemCommand({ TableName: 'plain', Key: { id: { S: '1' } } }));
    expect(dynamo.stats()).toEqual({ PutItem: 1, GetItem: 2 });
  });

  it('emits INSERT, MODIFY and REMOVE records with keys and images, and none for a write that changes nothing', async () => {
    const { client, journal, delivered, stop } = await start();
    cleanups.push(stop);
    await client.send(new PutItemCommand({ TableName: 'Main', Item: item('p1', { v: { S: '1' } }) }));
    await client.send(new PutItemCommand({ TableName: 'Main', Item: item('p1', { v: { S: '1' } }) }));
    await client.send(
      new UpdateItemCommand({
        TableName: 'Main',
        Key: item('p1'),
        UpdateExpression: 'SET v = :v',
        ExpressionAttributeValues: { ':v': { S: '2' } },
      }),
    );
    await expect(
      client.send(
        new PutItemCommand({ TableName: 'Main', Item: item('p1'), ConditionExpression: 'attribute_not_exists(pk)' }),
      ),
    ).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    await client.send(new DeleteItemCommand({ TableName: 'Main', Key: item('p1') }));
    await client.send(new PutItemCommand({ TableName: 'plain', Item: { id: { S: 'x' } } }));
    await journal.idle();

    expect(delivered.map((r) => [r.eventName, r.dynamodb.OldImage?.v, r.dynamodb.NewImage?.v])).toEqual([
      ['INSERT', undefined, { S: '1' }],
      ['MODIFY', { S: '1' }, { S: '2' }],
      ['REMOVE', { S: '2' }, undefined],
    ]);
    expect(delivered[0]).toMatchObject({
      eventSource: 'aws:dynamodb',
      eventSourceARN: 'arn:aws:dynamodb:local:000000000000:table/Main/stream/local',
      dynamodb: { Keys: { pk: { S: 'p1' }, sk: { S: 'A' } }, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    const sequence = delivered.map((r) => BigInt(r.dynamodb.SequenceNumber));
    expect([...sequence].sort((a, b) => (a < b ? -1 : 1))).toEqual(sequence);
  });

  it('emits one record per changed item of a BatchWriteItem', async () => {
    const { client, journal, delivered, stop } = await start();
    cleanups.push(stop);
    await client.send(
      new BatchWriteItemCommand({
        RequestItems: {
          Main: [{ PutRequest: { Item: item('a') } }, { PutRequest: { Item: item('b') } }],
          plain: [{ PutRequest: { Item: { id: { S: 'z' } } } }],
        },
      }),
    );
    await journal.idle();
    expect(delivered.map((r) => [r.eventName, r.dynamodb.Keys.pk])).toEqual([
      ['INSERT', { S: 'a' }],
      ['INSERT', { S: 'b' }],
    ]);
  });

  it('keeps data and undelivered records on disk across a restart on the same folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-dynamo-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = await start(dir);
    await first.client.send(new PutItemCommand({ TableName: 'Main', Item: item('kept') }));
    await first.journal.idle();
    await first.stop();

    const second = await start(dir);
    cleanups.push(second.stop);
    const got = await second.client.send(new GetItemCommand({ TableName: 'Main', Key: item('kept') }));
    expect(got.Item?.pk).toEqual({ S: 'kept' });
    expect(second.delivered).toEqual([]); // delivered before the restart: not again
  });

  it('re-derives the record of a write interrupted before it was journaled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-dynamo-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = await start(dir);
    // The crash window: the intent is journaled, dynalite has the write, the record is not journaled yet.
    first.journal.intent({ table: 'Main', key: item('crash'), old: null });
    await first.dynamo.call('PutItem', { TableName: 'Main', Item: item('crash', { v: { S: 'x' } }) });
    await first.stop();

    const second = await start(dir);
    cleanups.push(second.stop);
    await second.journal.idle();
    expect(second.delivered.map((r) => [r.eventName, r.dynamodb.NewImage?.v])).toEqual([['INSERT', { S: 'x' }]]);
  });
});

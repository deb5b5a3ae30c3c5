import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BatchGetItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDynamo } from '#lib/local/dynamodb.ts';
import { routeAws } from '#lib/local/http.ts';
import { LocalIam } from '#lib/local/iam.ts';
import { createSandbox, inSandbox } from '#lib/local/sandbox.ts';
import { StreamJournal } from '#lib/local/streams.ts';
import { loadTemplate } from '#lib/local/template.ts';
import { sdkConfig } from './aws-server.ts';

const tableArn = { 'Fn::GetAtt': ['Table', 'Arn'] };
const role = () => ({ Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: {} } });
const fn = (roleId: string) => ({
  Type: 'AWS::Lambda::Function',
  Properties: { Role: { 'Fn::GetAtt': [roleId, 'Arn'] } },
  Metadata: { 'stint:entry': 'functions/x.ts' },
});
const policy = (roleId: string, statements: unknown[]) => ({
  Type: 'AWS::IAM::Policy',
  Properties: { PolicyDocument: { Statement: statements }, Roles: [{ Ref: roleId }] },
});

/** Reader may GetItem and Query gsi1; Steps may read and write REQUEST# items only; Nothing has no DynamoDB grant. */
const template = loadTemplate({
  Resources: {
    Table: {
      Type: 'AWS::DynamoDB::GlobalTable',
      Properties: {
        TableName: 'stint',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'gsi1pk', AttributeType: 'S' },
          { AttributeName: 'gsi2pk', AttributeType: 'S' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'gsi1',
            KeySchema: [{ AttributeName: 'gsi1pk', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' },
          },
          {
            IndexName: 'gsi2',
            KeySchema: [{ AttributeName: 'gsi2pk', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      },
    },
    ReaderRole: role(),
    Reader: fn('ReaderRole'),
    ReaderPolicy: policy('ReaderRole', [
      { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: tableArn },
      { Effect: 'Allow', Action: 'dynamodb:Query', Resource: { 'Fn::Join': ['', [tableArn, '/index/gsi1']] } },
      { Effect: 'Allow', Action: 'xray:PutTraceSegments', Resource: '*' },
    ]),
    StepsRole: role(),
    Steps: fn('StepsRole'),
    StepsPolicy: policy('StepsRole', [
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:BatchGetItem'],
        Resource: tableArn,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['REQUEST#*'] } },
      },
    ]),
    NothingRole: role(),
    Nothing: fn('NothingRole'),
  },
});

let client: DynamoDBClient;
const stops: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  const journal = new StreamJournal({});
  const dynamo = await LocalDynamo.start(template, { journal });
  let iam: LocalIam | undefined;
  const server = createServer((req, res) => {
    iam?.identify(req);
    void routeAws(iam === undefined ? {} : { DynamoDB_20120810: iam.guard(dynamo) }, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  iam = new LocalIam(template, { endpoint: url });
  client = new DynamoDBClient(sdkConfig(url));
  await client.send(new PutItemCommand({ TableName: 'stint', Item: { pk: { S: 'REQUEST#1' }, sk: { S: 'REQUEST' } } }));
  await client.send(new PutItemCommand({ TableName: 'stint', Item: { pk: { S: 'FLOW#1' }, sk: { S: 'FLOW' } } }));
  stops.push(
    () => client.destroy(),
    () => new Promise<void>((resolve) => server.close(() => resolve())),
    () => dynamo.stop(),
    () => journal.close(),
  );
});

afterAll(async () => {
  for (const stop of stops) await stop();
});

const as = <T>(functionId: string, call: () => Promise<T>): Promise<T> =>
  inSandbox(createSandbox(functionId, {}), call);
const get = (pk: string) =>
  new GetItemCommand({ TableName: 'stint', Key: { pk: { S: pk }, sk: { S: pk.split('#')[0] ?? '' } } });
const query = (index: string) =>
  new QueryCommand({
    TableName: 'stint',
    IndexName: index,
    KeyConditionExpression: 'gsi1pk = :p',
    ExpressionAttributeValues: { ':p': { S: 'x' } },
  });

describe('local IAM for DynamoDB', () => {
  it('lets a function make the calls its role allows', async () => {
    const got = await as('Reader', () => client.send(get('FLOW#1')));
    expect(got.Item?.pk?.S).toBe('FLOW#1');
    const queried = await as('Reader', () => client.send(query('gsi1')));
    expect(queried.Items).toEqual([]);
  });

  it('refuses, with DynamoDB’s AccessDeniedException, an action the role does not allow', async () => {
    const put = as('Reader', () =>
      client.send(new PutItemCommand({ TableName: 'stint', Item: { pk: { S: 'FLOW#2' }, sk: { S: 'FLOW' } } })),
    );
    await expect(put).rejects.toMatchObject({
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 400 },
      message: expect.stringContaining(
        'is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:local:000000000000:table/stint',
      ),
    });
    const written = await client.send(get('FLOW#2'));
    expect(written.Item).toBeUndefined();
  });

  it('refuses a Query of an index the role does not name', async () => {
    await expect(as('Reader', () => client.send(query('gsi2')))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('table/stint/index/gsi2'),
    });
  });

  it('refuses every DynamoDB call of a function whose role has no DynamoDB statement', async () => {
    await expect(as('Nothing', () => client.send(get('REQUEST#1')))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
  });

  it('holds a function with dynamodb:LeadingKeys to the items it names, in single and batch calls', async () => {
    const own = await as('Steps', () => client.send(get('REQUEST#1')));
    expect(own.Item?.pk?.S).toBe('REQUEST#1');
    await expect(as('Steps', () => client.send(get('FLOW#1')))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    const batch = (pks: string[]) =>
      new BatchGetItemCommand({
        RequestItems: { stint: { Keys: pks.map((pk) => ({ pk: { S: pk }, sk: { S: pk.split('#')[0] ?? '' } })) } },
      });
    const both = await as('Steps', () => client.send(batch(['REQUEST#1', 'REQUEST#2'])));
    expect(both.Responses?.stint?.map((i) => i.pk?.S)).toEqual(['REQUEST#1']);
    await expect(as('Steps', () => client.send(batch(['REQUEST#1', 'FLOW#1'])))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
  });

  it('keeps callers apart on one shared client: concurrent calls are each checked as their own function', async () => {
    const results = await Promise.allSettled([
      as('Reader', () => client.send(get('FLOW#1'))),
      as('Nothing', () => client.send(get('FLOW#1'))),
      as('Reader', () => client.send(get('FLOW#1'))),
      as('Nothing', () => client.send(get('FLOW#1'))),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
  });

  it('does not check calls made outside any function (tests, the runtime itself)', async () => {
    const put = await client.send(
      new PutItemCommand({ TableName: 'stint', Item: { pk: { S: 'FLOW#3' }, sk: { S: 'FLOW' } } }),
    );
    expect(put.$metadata.httpStatusCode).toBe(200);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { StintBusEvent } from '#lib/local/eventbridge.ts';
import { createLocalIssuer } from '#lib/local/issuer.ts';
import { type LocalRuntime, startLocalRuntime } from '#lib/local/runtime.ts';
import { synthFixtureTemplate } from '../../fixtures/local/stack.ts';

const repoRoot = new URL('../../../', import.meta.url).pathname;
const stateDir = mkdtempSync(join(tmpdir(), 'stint-runtime-'));
let runtime: LocalRuntime;
const start = (port?: number, startingUp?: string) =>
  startLocalRuntime({
    template: synthFixtureTemplate(),
    stateDir,
    repoRoot,
    port: port ?? 0,
    scheduleEveryMs: 3_600_000,
    log: () => {},
    ...(startingUp === undefined ? {} : { startingUp }),
  });

beforeAll(async () => {
  runtime = await start();
});
afterAll(async () => {
  await runtime.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

/** The first bus event (already logged or still to come) that satisfies `test`. */
function nextEvent(test: (e: StintBusEvent) => boolean): Promise<StintBusEvent> {
  const found = runtime.events().find(test);
  if (found) return Promise.resolve(found);
  return new Promise((resolve) => {
    const off = runtime.subscribe((e) => {
      if (test(e)) {
        off();
        resolve(e);
      }
    });
  });
}
const Detail = z.object({ pk: z.string(), newImage: z.record(z.string(), z.object({ S: z.string() })).nullable() });
const itemEvent = (pk: string) =>
  nextEvent((e) => e['detail-type'] === 'item.INSERT' && Detail.safeParse(e.detail).data?.pk === pk).then((e) =>
    Detail.parse(e.detail),
  );

async function tokenOverHttp(identity: object): Promise<string> {
  const res = await fetch(`${runtime.url}/_local/token`, { method: 'POST', body: JSON.stringify(identity) });
  expect(res.status).toBe(200);
  return z.object({ token: z.string() }).parse(await res.json()).token;
}
const alice = { sub: 'alice', email: 'alice@example.com', groups: ['dba'] };
const post = (path: string, token: string | undefined, body: unknown) =>
  fetch(`${runtime.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });

describe('local runtime on the fixture stack', () => {
  it('carries an authenticated API call through DynamoDB, the stream, the publisher and the bus to a rule target', async () => {
    const token = await tokenOverHttp(alice);
    const sinkReceived = nextEvent((e) => e['detail-type'] === 'sink.received');
    const res = await post('/items', token, { id: 'i1', value: 'v1' });
    expect([res.status, await res.json()]).toEqual([201, { id: 'i1', owner: 'alice' }]);

    const received = await sinkReceived;
    expect(received.detail).toMatchObject({
      detailType: 'item.INSERT',
      detail: { pk: 'ITEM#i1', newImage: { value: { S: 'v1' }, owner: { S: 'alice' } }, oldImage: null },
    });
    const stats = runtime.stats();
    expect(stats.dynamodb.PutItem).toBeGreaterThanOrEqual(1);
    expect(stats.dynamodb.Scan).toBeUndefined();
    expect(Object.keys(stats.invocations).map((k) => k.replace(/[0-9A-F]{8}$/, ''))).toEqual(
      expect.arrayContaining(['ItemsCreateFn', 'PublisherFn', 'SinkFn']),
    );
  });

  it('resumes a waitForTaskToken task with SendTaskSuccess sent by a handler through the SDK', async () => {
    const token = await runtime.mintToken(alice);
    const registered = itemEvent('TOKEN#run1');
    const outcome = itemEvent('RUN#run1');
    const started = await post('/runs', token, { id: 'run1', waitSeconds: 300 });
    expect(started.status).toBe(201);
    expect(await started.json()).toEqual({
      executionArn: expect.stringMatching(/:execution:Machine[0-9A-F]{8}:run1$/),
    });
    await registered;

    const resumed = await post('/runs/run1/resume', token, {});
    expect([resumed.status, await resumed.json()]).toEqual([200, { resumed: 'run1' }]);
    expect((await outcome).newImage).toMatchObject({ outcome: { S: 'worked' }, resumedBy: { S: 'alice' } });
    expect(runtime.stats().stateTransitions).toBeGreaterThanOrEqual(2);
  });

  it("refuses a handler's DynamoDB call that its role in the template does not allow, as AWS IAM does", async () => {
    const outcome = await runtime.invoke('test/fixtures/local/handlers/forbidden', {});
    expect(outcome).toEqual({ get: 'allowed', put: 'AccessDeniedException' });
    const client = new DynamoDBClient({});
    const item = await client.send(
      new GetItemCommand({
        TableName: z.string().parse(runtime.environmentOf('test/fixtures/local/handlers/register').TABLE_NAME),
        Key: { pk: { S: 'FORBIDDEN#1' }, sk: { S: 'FORBIDDEN' } },
      }),
    );
    client.destroy();
    expect(item.Item).toBeUndefined();
  });

  it("gives each function its template's variables and the runtime's endpoints, and the test process none of them", () => {
    const start = runtime.environmentOf('test/fixtures/local/handlers/start');
    const register = runtime.environmentOf('test/fixtures/local/handlers/register');

    expect(start).toMatchObject({
      STATE_MACHINE_ARN: expect.stringMatching(/:stateMachine:Machine/),
      AWS_ENDPOINT_URL_DYNAMODB: runtime.url,
      STINT_LOCAL: 'true',
    });
    expect(register).toMatchObject({ TABLE_NAME: start.TABLE_NAME, AWS_ENDPOINT_URL_DYNAMODB: runtime.url });
    expect(register).not.toHaveProperty('STATE_MACHINE_ARN');
    expect(process.env.TABLE_NAME).toBeUndefined();
    expect(process.env.STATE_MACHINE_ARN).toBeUndefined();
    expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).toBe(runtime.url); // the test's own SDK clients reach the runtime
  });

  it('times a wait out into the Catch on States.Timeout', async () => {
    const token = await runtime.mintToken(alice);
    const outcome = itemEvent('RUN#run2');
    expect((await post('/runs', token, { id: 'run2', waitSeconds: 1 })).status).toBe(201);
    expect((await outcome).newImage).toMatchObject({ outcome: { S: 'timed-out' }, error: { S: 'States.Timeout' } });
  });

  it('answers 401 Unauthorized for a bad token, a wrong audience and an expired token', async () => {
    const sameKey = await createLocalIssuer({ stateDir, issuer: runtime.issuer, audience: runtime.audience });
    const headers = [
      'Bearer not-a-token',
      `Bearer ${await sameKey.mint(alice, { audience: 'another-api' })}`,
      `Bearer ${await sameKey.mint(alice, { expiresIn: Math.floor(Date.now() / 1000) - 1 })}`,
    ];
    const before = runtime.stats().invocations;
    for (const authorization of headers) {
      const res = await fetch(`${runtime.url}/items`, {
        method: 'POST',
        headers: { authorization },
        body: '{"id":"x","value":"y"}',
      });
      expect([res.status, await res.json()]).toEqual([401, { message: 'Unauthorized' }]);
    }
    expect(runtime.stats().invocations).toEqual(before);
  });

  it('mints an access token without email and answers its UserInfo, advertised in the discovery document', async () => {
    const token = await tokenOverHttp({ sub: 'ursula', email: 'ursula@example.com', use: 'access' });
    const claims = z.record(z.string(), z.unknown()).parse(decodeJwt(token));
    const discovery = z
      .object({ userinfo_endpoint: z.string() })
      .parse(await (await fetch(`${runtime.url}/_local/.well-known/openid-configuration`)).json());
    const info = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${token}` } });
    const forged = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${token}x` } });

    expect(claims).not.toHaveProperty('email');
    expect(claims).toMatchObject({ sub: 'ursula', token_use: 'access' });
    expect(discovery.userinfo_endpoint).toBe(`${runtime.url}/_local/userinfo`);
    expect([info.status, await info.json()]).toEqual([
      200,
      { sub: 'ursula', email: 'ursula@example.com', email_verified: true },
    ]);
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toContain('invalid_token');
  });

  it('refuses a token request with unknown fields or a bad email', async () => {
    const res = await fetch(`${runtime.url}/_local/token`, {
      method: 'POST',
      body: JSON.stringify({ sub: 'x', email: 'nope', admin: true }),
    });
    expect(res.status).toBe(400);
  });

  it('runs scheduled targets on demand', async () => {
    await runtime.runSchedules();
    expect(runtime.events().some((e) => e.source === 'fixture.tick')).toBe(true);
  });

  it('restarts cleanly on the same data folder, keeping items and the issuer key', async () => {
    const token = await runtime.mintToken(alice);
    const port = runtime.port;
    await runtime.stop();
    runtime = await start(port);
    const client = new DynamoDBClient({});
    try {
      const tableName = z.string().parse(runtime.environmentOf('test/fixtures/local/handlers/register').TABLE_NAME);
      const item = await client.send(
        new GetItemCommand({ TableName: tableName, Key: { pk: { S: 'ITEM#i1' }, sk: { S: 'ITEM' } } }),
      );
      expect(item.Item?.value).toEqual({ S: 'v1' });
    } finally {
      client.destroy();
    }
    const res = await fetch(`${runtime.url}/echo/abc`);
    expect(await res.json()).toEqual({ routeKey: 'GET /echo/{id}', pathParameters: { id: 'abc' } });
    const authed = await post('/items', token, { id: 'i2', value: 'v2' });
    expect(authed.status).toBe(201);
  });

  it('answers 503 on API routes, saying what it waits for, until ready; /_local and api() answer meanwhile', async () => {
    const port = runtime.port;
    await runtime.stop();
    runtime = await start(port, 'seeding the fixture');
    const Problem = z.object({ status: z.literal(503), title: z.string(), detail: z.string(), waitingFor: z.string() });
    const waiting = async () => {
      const res = await fetch(`${runtime.url}/echo/abc`);
      return [res.status, res.headers.get('content-type'), Problem.parse(await res.json()).waitingFor];
    };
    expect(await waiting()).toEqual([503, 'application/problem+json', 'seeding the fixture']);
    expect(await tokenOverHttp(alice)).not.toBe('');
    const inProcess = await runtime.api('GET', '/echo/abc');
    expect([inProcess.status, JSON.parse(inProcess.text)]).toEqual([
      200,
      { routeKey: 'GET /echo/{id}', pathParameters: { id: 'abc' } },
    ]);
    runtime.startingUp('resuming runs');
    expect(await waiting()).toEqual([503, 'application/problem+json', 'resuming runs']);
    runtime.ready();
    const res = await fetch(`${runtime.url}/echo/abc`);
    expect([res.status, await res.json()]).toEqual([
      200,
      { routeKey: 'GET /echo/{id}', pathParameters: { id: 'abc' } },
    ]);
  });
});

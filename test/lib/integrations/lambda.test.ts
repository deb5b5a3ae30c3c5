import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Integration, Resource } from '#lib/domain/integration.ts';
import {
  AccessEvent,
  createLambdaDriver,
  LambdaDeploymentConfig,
  ListResourcesEvent,
  lambdaFunctionProblem,
} from '#lib/integrations/lambda.ts';
import { GrantPermanentError } from '#lib/integrations/types.ts';
import { LambdaStandIn, type StandInHandler } from '../../fixtures/aws/lambda.ts';
import { driverContext, testIntegration } from '../../support/driver-context.ts';

let lambda: LambdaStandIn;
let dir: string;
const clients = new Map<string, LambdaClient>();

/** A client per region on the stand-in, without SDK retries (a throttled call fails at once). */
function client(region: string): LambdaClient {
  let c = clients.get(region);
  if (c === undefined) {
    c = new LambdaClient({
      region,
      endpoint: lambda.url,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    clients.set(region, c);
  }
  return c;
}

const resources: Resource[] = [
  {
    id: 'reports',
    owners: [],
    permissions: [{ id: 'read', grants: ['reports:read', 'reports:list'] }],
  },
];

function integration(fn: string, extra: Record<string, string> = {}): Integration {
  return testIntegration('lambda', { function: fn, ...extra }, resources);
}

const now = new Date('2026-12-03T10:00:00.000Z');
const expiresAt = new Date('2026-12-03T11:00:00.000Z');
const ctxFor = (fn: string, extra: Record<string, string> = {}) =>
  driverContext(integration(fn, extra), { now, expiresAt, requestId: '01JREQUEST' });

const remote = () => createLambdaDriver({ local: () => false, client });
const local = (timeoutMs?: number) =>
  createLambdaDriver({ local: () => true, client, ...(timeoutMs === undefined ? {} : { timeoutMs }) });

/** Registers a function answering `answer` and recording the events it got. */
function fn(name: string, answer: StandInHandler, options: { region?: string } = {}) {
  const events: unknown[] = [];
  const arn = lambda.addFunction(
    name,
    (event, context) => {
      events.push(event);
      return answer(event, context);
    },
    options,
  );
  return { arn, events };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

let counter = 0;
/** A local module; its source is the body of `export async function handler(event)`. */
async function module(body: string): Promise<string> {
  counter += 1;
  const path = join(dir, `handler-${counter}.mjs`);
  await writeFile(path, `export async function handler(event, context) {\n${body}\n}\n`);
  return `file:${path}`;
}

beforeAll(async () => {
  lambda = await LambdaStandIn.start();
  dir = await mkdtemp(join(tmpdir(), 'stint-lambda-'));
});

beforeEach(() => {
  vi.unstubAllEnvs();
});

afterAll(async () => {
  for (const c of clients.values()) c.destroy();
  await lambda.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('lambda driver through a Lambda function (ARN)', () => {
  it('sends grant the versioned event and maps the answer to state, custom access and secret', async () => {
    const f = fn('grant-ok', () => ({
      state: { entry: 'e-1' },
      access: { username: 'alice-1', port: 8443 },
      secret: 'pa55-w0rd',
    }));

    const outcome = await remote().grant(ctxFor(f.arn, { team: 'finance' }));

    expect(outcome).toEqual({
      status: 'done',
      state: { entry: 'e-1' },
      access: { kind: 'custom', fields: { username: 'alice-1', port: 8443 } },
      secret: 'pa55-w0rd',
    });
    expect(f.events).toEqual([
      {
        version: 1,
        action: 'grant',
        integration: { id: 'lambda-test', config: { function: f.arn, team: 'finance' } },
        request: { id: '01JREQUEST', expiresAt: '2026-12-03T11:00:00.000Z' },
        grantee: { id: 'alice', email: 'alice@example.com' },
        resource: 'reports',
        permission: 'read',
        grants: ['reports:read', 'reports:list'],
      },
    ]);
    expect(AccessEvent.safeParse(f.events[0]).success).toBe(true);
  });

  it('answers a grant without state, access or secret with empty state', async () => {
    const f = fn('grant-empty', () => ({}));

    const outcome = await remote().grant(ctxFor(f.arn));

    expect(outcome).toEqual({ status: 'done', state: {} });
  });

  it('adds the justification to the request when the context carries one', async () => {
    const f = fn('grant-why', () => ({}));

    await remote().grant(Object.assign(ctxFor(f.arn), { justification: 'INC-42: month-end close' }));

    expect(f.events[0]).toMatchObject({ request: { justification: 'INC-42: month-end close' } });
  });

  it('sends revoke and extend the state grant returned', async () => {
    const f = fn('lifecycle', () => ({}));
    const driver = remote();
    const ctx = ctxFor(f.arn);
    const later = { ...ctx, expiresAt: new Date('2026-12-03T12:00:00.000Z') };

    const revoked = await driver.revoke(ctx, { entry: 'e-1' });
    await driver.extend(later, { entry: 'e-1' });

    expect(revoked).toEqual({ status: 'done' });
    expect(f.events).toMatchObject([
      { action: 'revoke', state: { entry: 'e-1' }, request: { expiresAt: '2026-12-03T11:00:00.000Z' } },
      { action: 'extend', state: { entry: 'e-1' }, request: { expiresAt: '2026-12-03T12:00:00.000Z' } },
    ]);
  });

  it('discovers resources through list-resources, an event without request, grantee or resource', async () => {
    const f = fn('lister', () => ({
      resources: [
        {
          id: 'reports',
          description: 'Finance reports',
          permissions: [{ id: 'read', description: 'Read them', grants: ['reports:read'] }],
        },
        { id: 'payroll', permissions: [{ id: 'read', grants: ['payroll:read'] }] },
      ],
    }));

    const found = await remote().discover?.({ integration: integration(f.arn), admin: {}, now });

    expect(found).toEqual({
      resources: [
        {
          id: 'reports',
          description: 'Finance reports',
          permissions: [{ id: 'read', description: 'Read them', grants: ['reports:read'] }],
        },
        { id: 'payroll', permissions: [{ id: 'read', grants: ['payroll:read'] }] },
      ],
    });
    expect(f.events).toEqual([
      { version: 1, action: 'list-resources', integration: { id: 'lambda-test', config: { function: f.arn } } },
    ]);
    expect(ListResourcesEvent.safeParse(f.events[0]).success).toBe(true);
  });

  it('invokes through the client of the function’s own region', async () => {
    const f = fn('eu-fn', () => ({ state: { at: 'eu' } }), { region: 'eu-west-1' });

    const outcome = await remote().grant(ctxFor(f.arn));

    expect(outcome).toMatchObject({ state: { at: 'eu' } });
    expect(lambda.invocations.at(-1)).toMatchObject({ functionArn: f.arn, region: 'eu-west-1' });
  });

  it('reaches Lambda through AWS_ENDPOINT_URL_LAMBDA with the default client', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL_LAMBDA', lambda.url);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    const f = fn('default-client', () => ({ state: { via: 'env' } }), { region: 'ap-southeast-2' });

    const outcome = await createLambdaDriver({ local: () => false }).grant(ctxFor(f.arn));

    expect(outcome).toMatchObject({ state: { via: 'env' } });
  });

  it('makes a thrown error a retryable failure (a plain Error) naming the error type', async () => {
    const f = fn('thrower', () => {
      throw new RangeError('ledger locked');
    });

    const error = await rejection(remote().grant(ctxFor(f.arn)));

    expect(error).not.toBeInstanceOf(GrantPermanentError);
    expect(error.message).toBe(`integration lambda-test: function ${f.arn} failed: RangeError: ledger locked`);
  });

  it('makes a function stopped at its Lambda timeout a retryable failure', async () => {
    const arn = lambda.addFunction('slow', () => new Promise(() => undefined), { timeoutMs: 10 });

    const error = await rejection(remote().grant(ctxFor(arn)));

    expect(error).not.toBeInstanceOf(GrantPermanentError);
    expect(error.message).toContain('failed: Sandbox.Timedout: RequestId:');
  });

  it('makes a call past the driver’s timeout a retryable failure', async () => {
    const arn = lambda.addFunction('slower', () => new Promise(() => undefined), { timeoutMs: 300 });
    const impatient = createLambdaDriver({ local: () => false, client, timeoutMs: 30 });

    const error = await rejection(impatient.grant(ctxFor(arn)));

    expect(error).not.toBeInstanceOf(GrantPermanentError);
    expect(error.message).toBe(`integration lambda-test: function ${arn} did not answer within 0.03 s`);
  });

  it('makes an answer over Lambda’s 6 MB a GrantPermanentError', async () => {
    const f = fn('too-big', () => ({ state: { blob: 'x'.repeat(6 * 1024 * 1024 + 1) } }));

    const error = await rejection(remote().grant(ctxFor(f.arn)));

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(error.message).toContain('failed: Function.ResponseSizeTooLarge');
  });

  it('makes { error, retryable: false } a GrantPermanentError with the message', async () => {
    const f = fn('refuser', () => ({ error: 'no such report: reports', retryable: false }));

    const error = await rejection(remote().grant(ctxFor(f.arn)));

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(error.message).toBe(`integration lambda-test: function ${f.arn}: grant failed: no such report: reports`);
  });

  it('makes { error } without retryable:false a retryable failure', async () => {
    const f = fn('flaky', () => ({ error: 'upstream busy' }));
    const g = fn('flaky-true', () => ({ error: 'upstream busy', retryable: true }));

    const error = await rejection(remote().revoke(ctxFor(f.arn), {}));
    const again = await rejection(remote().revoke(ctxFor(g.arn), {}));

    expect(error).not.toBeInstanceOf(GrantPermanentError);
    expect(error.message).toContain('revoke failed: upstream busy');
    expect(again).not.toBeInstanceOf(GrantPermanentError);
  });

  it('makes a malformed grant answer a GrantPermanentError naming the field', async () => {
    const f = fn('malformed', () => ({ access: { username: { nested: true } } }));

    const error = await rejection(remote().grant(ctxFor(f.arn)));

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(error.message).toMatch(/malformed grant answer: access\.username: Invalid input/);
  });

  it('names a key outside the contract and never echoes a secret value in the error', async () => {
    const f = fn('leaky', () => ({ secrets: 'hunter2-top-secret', state: 'not an object', secret: 'pa55-w0rd' }));

    const error = await rejection(remote().grant(ctxFor(f.arn)));

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(error.message).toContain('secrets: is not part of the contract');
    expect(error.message).toContain('state: ');
    expect(error.message).not.toContain('hunter2-top-secret');
    expect(error.message).not.toContain('pa55-w0rd');
  });

  it('makes a revoke answer other than {} a GrantPermanentError', async () => {
    const f = fn('chatty-revoke', () => ({ ok: true }));

    const error = await rejection(remote().revoke(ctxFor(f.arn), {}));

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(error.message).toContain('malformed revoke answer: ok: is not part of the contract');
  });

  it('makes an unknown function a GrantPermanentError', async () => {
    const error = await rejection(remote().grant(ctxFor('arn:aws:lambda:us-east-1:123456789012:function:gone')));

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(error.message).toContain('ResourceNotFoundException');
  });

  it('makes a function the role may not invoke a GrantPermanentError', async () => {
    const f = fn('not-mine', () => ({}));
    lambda.deny(f.arn);

    const error = await rejection(remote().grant(ctxFor(f.arn)));

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(error.message).toContain('AccessDeniedException');
  });

  it('makes throttling a retryable failure', async () => {
    const f = fn('throttled', () => ({}));
    lambda.throttle(1);

    const error = await rejection(remote().grant(ctxFor(f.arn)));

    expect(error).not.toBeInstanceOf(GrantPermanentError);
    expect(error.message).toContain('TooManyRequestsException');
  });

  it('makes an answer over 256 KB a GrantPermanentError', async () => {
    const f = fn('big', () => ({ state: { blob: 'x'.repeat(300 * 1024) } }));

    const error = await rejection(remote().grant(ctxFor(f.arn)));

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(error.message).toContain('larger than 262144 bytes');
  });

  it('declares no lease keys, no admin secret and capabilities the function decides', () => {
    const driver = remote();

    expect(driver.leaseKeys(ctxFor('arn:aws:lambda:us-east-1:123456789012:function:any'))).toEqual([]);
    expect(driver.needsSecret).toBe(false);
    expect(driver.capabilities).toEqual({
      endsLiveSessions: false,
      residualSessionSeconds: 0,
      targetEnforcesExpiry: false,
      issuesCredentials: false,
    });
  });

  it('accepts an ARN or file: function in config, with the customer’s own settings, and refuses anything else', () => {
    const { configSchema } = remote();

    expect(
      configSchema.safeParse({ function: 'arn:aws:lambda:eu-west-1:123456789012:function:grant:live', ledger: '/x' })
        .success,
    ).toBe(true);
    expect(configSchema.safeParse({ function: 'file:/opt/handler.mjs' }).success).toBe(true);
    expect(configSchema.safeParse({ function: 'https://example.com/hook' }).success).toBe(false);
    expect(configSchema.safeParse({ ledger: '/x' }).success).toBe(false);
  });
});

describe('lambda driver through a local module (file:)', () => {
  it('awaits the handler with exactly the event the Lambda function gets', async () => {
    const viaLambda = fn('twin', () => ({}));
    const path = await module('globalThis.__stintEvent = event; return {};');

    await remote().grant(Object.assign(ctxFor(viaLambda.arn), { justification: 'twin' }));
    await local().grant(Object.assign(ctxFor(path), { justification: 'twin' }));

    const fromFile = Reflect.get(globalThis, '__stintEvent');
    const fromLambda = viaLambda.events[0];
    expect(fromFile).toEqual({
      ...(typeof fromLambda === 'object' ? fromLambda : {}),
      integration: { id: 'lambda-test', config: { function: path } },
    });
    expect(AccessEvent.safeParse(fromFile).success).toBe(true);
  });

  it('gives the handler a Lambda-like context', async () => {
    const path = await module(
      'return { access: { name: context.functionName, left: context.getRemainingTimeInMillis() > 0 ? 1 : 0 } };',
    );

    const outcome = await local().grant(ctxFor(path));

    expect(outcome).toMatchObject({
      access: { kind: 'custom', fields: { name: expect.stringMatching(/^handler-/), left: 1 } },
    });
  });

  it('refuses a file: function outside the local runtime, without loading it', async () => {
    const path = await module('globalThis.__stintLoaded = true; return {};');

    const error = await rejection(remote().grant(ctxFor(path)));

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(error.message).toContain('file: functions run only in the local runtime');
    expect(Reflect.get(globalThis, '__stintLoaded')).toBeUndefined();
  });

  it('makes a thrown error retryable', async () => {
    const path = await module("throw new Error('disk full');");

    const error = await rejection(local().grant(ctxFor(path)));

    expect(error).not.toBeInstanceOf(GrantPermanentError);
    expect(error.message).toBe(`integration lambda-test: function ${path} failed: Error: disk full`);
  });

  it('makes a call past the timeout retryable', async () => {
    const path = await module('return new Promise(() => {});');

    const error = await rejection(local(30).grant(ctxFor(path)));

    expect(error).not.toBeInstanceOf(GrantPermanentError);
    expect(error.message).toBe(`integration lambda-test: function ${path} did not answer within 0.03 s`);
  });

  it('makes a module without a handler, or a missing file, a GrantPermanentError', async () => {
    counter += 1;
    const noHandler = join(dir, `plain-${counter}.mjs`);
    await writeFile(noHandler, 'export const value = 1;\n');

    const missing = await rejection(local().grant(ctxFor(`file:${join(dir, 'nowhere.mjs')}`)));
    const empty = await rejection(local().grant(ctxFor(`file:${noHandler}`)));

    expect(missing).toBeInstanceOf(GrantPermanentError);
    expect(missing.message).toContain('no such file');
    expect(empty).toBeInstanceOf(GrantPermanentError);
    expect(empty.message).toContain('exports no handler function');
  });

  it('keeps the module between calls and loads it again when the file changes', async () => {
    const path = await module(
      'globalThis.__stintCalls = (globalThis.__stintCalls ?? 0) + 1; return { state: { v: 1 } };',
    );
    const file = path.slice('file:'.length);

    const first = await local().grant(ctxFor(path));
    const second = await local().grant(ctxFor(path));
    await writeFile(file, 'export const handler = async () => ({ state: { v: 2 } });\n');
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    const third = await local().grant(ctxFor(path));

    expect([first, second, third].map((o) => (o.status === 'done' ? o.state : undefined))).toEqual([
      { v: 1 },
      { v: 1 },
      { v: 2 },
    ]);
    expect(Reflect.get(globalThis, '__stintCalls')).toBe(2);
  });

  it('answers null (a handler returning nothing) as malformed for grant', async () => {
    const path = await module('return undefined;');

    const error = await rejection(local().grant(ctxFor(path)));

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(error.message).toContain('malformed grant answer: (answer): Invalid input');
  });
});

describe('lambdaFunctionProblem', () => {
  const listed = 'arn:aws:lambda:us-east-1:123456789012:function:listed';
  const allowed = LambdaDeploymentConfig.parse({ functions: [listed] });
  const tagMode = LambdaDeploymentConfig.parse({ functions: [listed], allowTagged: true });

  it('allows a listed function and its versions and aliases', async () => {
    expect(await lambdaFunctionProblem(listed, { local: false, allowed })).toBeUndefined();
    expect(await lambdaFunctionProblem(`${listed}:live`, { local: false, allowed })).toBeUndefined();
  });

  it('refuses a function that is not listed when tag mode is off, without reading tags', async () => {
    const calls = lambda.listTagsCalls.length;

    const problem = await lambdaFunctionProblem('arn:aws:lambda:us-east-1:123456789012:function:other', {
      local: false,
      allowed,
    });

    expect(problem).toBe(
      "function arn:aws:lambda:us-east-1:123456789012:function:other is not in the deployment's allowed functions (drivers.lambda.functions)",
    );
    expect(lambda.listTagsCalls.length).toBe(calls);
  });

  it('allows, in tag mode, a function tagged stint-integration=true (ListTags on the unqualified ARN)', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL_LAMBDA', lambda.url);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    const arn = lambda.addFunction('tagged-ok', () => ({}), { tags: { 'stint-integration': 'true' } });

    const problem = await lambdaFunctionProblem(`${arn}:prod`, { local: false, allowed: tagMode });

    expect(problem).toBeUndefined();
    expect(lambda.listTagsCalls.at(-1)).toBe(arn);
  });

  it('refuses, in tag mode, a function without the tag or with another value', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL_LAMBDA', lambda.url);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    const untagged = lambda.addFunction('untagged', () => ({}), { tags: { team: 'x' } });
    const wrong = lambda.addFunction('tag-false', () => ({}), { tags: { 'stint-integration': 'yes' } });
    const a = await lambdaFunctionProblem(untagged, { local: false, allowed: tagMode });
    const b = await lambdaFunctionProblem(wrong, { local: false, allowed: tagMode });

    expect(a).toBe(`function ${untagged} is neither in drivers.lambda.functions nor tagged stint-integration=true`);
    expect(b).toBe(`function ${wrong} is neither in drivers.lambda.functions nor tagged stint-integration=true`);
  });

  it('says when a function does not exist, in tag mode', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL_LAMBDA', lambda.url);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');

    const problem = await lambdaFunctionProblem('arn:aws:lambda:us-east-1:123456789012:function:ghost', {
      local: false,
      allowed: tagMode,
    });

    expect(problem).toBe(
      'function arn:aws:lambda:us-east-1:123456789012:function:ghost does not exist (or not in its region)',
    );
  });

  it('uses the listTags it is given, and says when it may not read tags', async () => {
    const denied = async (): Promise<Record<string, string>> => {
      throw Object.assign(new Error('not authorized to perform: lambda:ListTags'), { name: 'AccessDeniedException' });
    };
    const arn = 'arn:aws:lambda:us-east-1:123456789012:function:elsewhere';

    const problem = await lambdaFunctionProblem(arn, { local: false, allowed: tagMode, listTags: denied });

    expect(problem).toBe(`function ${arn} is not in drivers.lambda.functions and Stint may not read its tags`);
  });

  it('refuses something that is not a function ARN', async () => {
    const problem = await lambdaFunctionProblem('arn:aws:s3:::bucket', { local: false, allowed: tagMode });

    expect(problem).toBe(
      'arn:aws:s3:::bucket is not a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)',
    );
  });

  it('allows a file: module only locally, absolute, .mjs or .js, existing', async () => {
    const path = await module('return {};');
    const txt = join(dir, 'notes.txt');
    await writeFile(txt, 'x');

    expect(await lambdaFunctionProblem(path, { local: true, allowed })).toBeUndefined();
    expect(await lambdaFunctionProblem(path, { local: false, allowed })).toBe(
      'file: functions run only in the local runtime; use a Lambda function ARN',
    );
    expect(await lambdaFunctionProblem('file:handler.mjs', { local: true, allowed })).toBe(
      'file:handler.mjs: the path must be absolute (file:/…)',
    );
    expect(await lambdaFunctionProblem(`file:${txt}`, { local: true, allowed })).toBe(
      `file:${txt}: the module must be a .mjs or .js file`,
    );
    expect(await lambdaFunctionProblem(`file:${join(dir, 'none.mjs')}`, { local: true, allowed })).toBe(
      `file:${join(dir, 'none.mjs')}: no such file`,
    );
  });
});

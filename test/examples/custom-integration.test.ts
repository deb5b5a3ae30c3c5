import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { Integration, type Resource } from '#lib/domain/integration.ts';
import { createLambdaDriver } from '#lib/integrations/lambda.ts';
import { GrantPermanentError } from '#lib/integrations/types.ts';
import { LambdaStandIn } from '../fixtures/aws/lambda.ts';
import { Ledger } from '../support/custom-integration-ledger.ts';
import { driverContext, testIntegration } from '../support/driver-context.ts';

/** The example integration (examples/custom-integration/handler.mjs) driven by Stint's lambda driver. */

const HANDLER = resolve('examples/custom-integration/handler.mjs');

let dir: string;
let lambda: LambdaStandIn;
let client: LambdaClient;

const resources: Resource[] = [
  {
    id: 'reports',
    owners: [],
    permissions: [
      { id: 'read', grants: ['reports:read'] },
      { id: 'bogus', grants: ['reports:delete-everything'] },
    ],
  },
];

function integrationFor(fn: string, ledger: string | undefined) {
  return testIntegration('lambda', { function: fn, ...(ledger === undefined ? {} : { ledger }) }, resources);
}

const local = createLambdaDriver({ local: () => true });
const expiresAt = new Date('2026-12-03T11:00:00.000Z');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function readLedger(path: string) {
  return Ledger.parse(JSON.parse(await readFile(path, 'utf8')));
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

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stint-example-'));
  lambda = await LambdaStandIn.start();
  client = new LambdaClient({
    region: 'us-east-1',
    endpoint: lambda.url,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client.destroy();
  await lambda.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('example custom integration, locally (file:)', () => {
  const ledger = () => join(dir, 'local', 'ledger.json');
  const ctx = (options: { requestId?: string; expiresAt?: Date; permission?: string } = {}) =>
    Object.assign(
      driverContext(integrationFor(`file:${HANDLER}`, ledger()), {
        requestId: options.requestId ?? '01JEXAMPLE1',
        expiresAt: options.expiresAt ?? expiresAt,
        permission: options.permission ?? 'read',
      }),
      { justification: 'month-end close' },
    );

  it('grant adds a ledger entry and hands the grantee a username and a secret only its hash is kept of', async () => {
    const outcome = await local.grant(ctx());

    if (outcome.status !== 'done') throw new Error('grant is not done');
    const { entries } = await readLedger(ledger());
    const username = outcome.access?.kind === 'custom' ? outcome.access.fields.username : undefined;
    expect(outcome.state).toEqual({ entry: '01JEXAMPLE1/reports/read' });
    expect(outcome.access).toEqual({
      kind: 'custom',
      fields: { username: expect.stringMatching(/^alice-[0-9a-f]{8}$/), resource: 'reports', ledger: ledger() },
    });
    expect(entries['01JEXAMPLE1/reports/read']).toEqual({
      username,
      grantee: 'alice',
      email: 'alice@example.com',
      resource: 'reports',
      permission: 'read',
      grants: ['reports:read'],
      expiresAt: '2026-12-03T11:00:00.000Z',
      justification: 'month-end close',
      secretSha256: sha256(outcome.secret ?? ''),
    });
    expect(JSON.stringify(entries)).not.toContain(outcome.secret);
  });

  it('a repeated grant converges on the same entry with a fresh secret', async () => {
    const first = await local.grant(ctx({ requestId: '01JEXAMPLE2' }));
    const second = await local.grant(ctx({ requestId: '01JEXAMPLE2' }));

    const { entries } = await readLedger(ledger());
    const mine = Object.keys(entries).filter((k) => k.startsWith('01JEXAMPLE2/'));
    expect(mine).toEqual(['01JEXAMPLE2/reports/read']);
    expect(first.status === 'done' && second.status === 'done' && first.secret !== second.secret).toBe(true);
    expect(entries['01JEXAMPLE2/reports/read']?.secretSha256).toBe(
      sha256(second.status === 'done' ? (second.secret ?? '') : ''),
    );
  });

  it('extend moves the end; revoke removes the entry and is idempotent', async () => {
    const granted = await local.grant(ctx({ requestId: '01JEXAMPLE3' }));
    const state = granted.status === 'done' ? granted.state : {};

    await local.extend(ctx({ requestId: '01JEXAMPLE3', expiresAt: new Date('2026-12-03T13:00:00.000Z') }), state);
    const extended = await readLedger(ledger());
    const revoked = await local.revoke(ctx({ requestId: '01JEXAMPLE3' }), state);
    const again = await local.revoke(ctx({ requestId: '01JEXAMPLE3' }), state);
    const after = await readLedger(ledger());

    expect(extended.entries['01JEXAMPLE3/reports/read']?.expiresAt).toBe('2026-12-03T13:00:00.000Z');
    expect(revoked).toEqual({ status: 'done' });
    expect(again).toEqual({ status: 'done' });
    expect(after.entries['01JEXAMPLE3/reports/read']).toBeUndefined();
  });

  it('extend of an entry removed outside Stint is a permanent failure', async () => {
    const error = await rejection(local.extend(ctx({ requestId: '01JNEVERGRANTED' }), { entry: 'nope' }));

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(error.message).toContain('no ledger entry nope');
  });

  it('refuses a grant it does not offer, permanently', async () => {
    const error = await rejection(local.grant(ctx({ requestId: '01JEXAMPLE4', permission: 'bogus' })));

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(error.message).toContain('unknown grant(s): reports:delete-everything');
  });

  it('keeps every entry when grants run at the same time', async () => {
    const ids = ['01JPAR1', '01JPAR2', '01JPAR3', '01JPAR4', '01JPAR5'];

    await Promise.all(ids.map((requestId) => local.grant(ctx({ requestId }))));

    const { entries } = await readLedger(ledger());
    expect(ids.filter((id) => entries[`${id}/reports/read`] !== undefined)).toEqual(ids);
  });

  it('lists what it offers as resources an integration can be written from', async () => {
    const found = await local.discover?.({
      integration: integrationFor(`file:${HANDLER}`, undefined),
      admin: {},
      now: new Date(),
    });

    expect(found?.resources.map((r) => [r.id, r.permissions.map((p) => p.id)])).toEqual([
      ['reports', ['read', 'write']],
      ['payroll', ['read']],
    ]);
    const written = Integration.safeParse({
      ...integrationFor(`file:${HANDLER}`, ledger()),
      resources: found?.resources.map((r) => ({ ...r, owners: [] })),
    });
    expect(written.success).toBe(true);
  });

  it('fails permanently without a ledger path', async () => {
    const error = await rejection(
      local.grant(driverContext(integrationFor(`file:${HANDLER}`, undefined), { expiresAt })),
    );

    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(error.message).toContain('set the integration config "ledger"');
  });
});

describe('example custom integration as a Lambda function (ARN)', () => {
  it('grants and revokes the same way when Lambda runs it', async () => {
    const loaded: unknown = await import(pathToFileURL(HANDLER).href);
    const { handler } = z
      .object({ handler: z.custom<(event: unknown) => Promise<unknown>>((v) => typeof v === 'function') })
      .parse(loaded);
    const arn = lambda.addFunction('stint-example', (event) => handler(event), {
      tags: { 'stint-integration': 'true' },
    });
    const ledger = join(dir, 'lambda', 'ledger.json');
    const remote = createLambdaDriver({ local: () => false, client: () => client });
    const ctx = driverContext(integrationFor(arn, ledger), { requestId: '01JREMOTE', expiresAt });

    const granted = await remote.grant(ctx);
    const during = await readLedger(ledger);
    await remote.revoke(ctx, granted.status === 'done' ? granted.state : {});
    const after = await readLedger(ledger);

    expect(granted).toMatchObject({ status: 'done', state: { entry: '01JREMOTE/reports/read' } });
    expect(Object.keys(during.entries)).toEqual(['01JREMOTE/reports/read']);
    expect(after.entries).toEqual({});
    expect(lambda.invocations.map((i) => i.functionArn)).toEqual([arn, arn]);
  });
});

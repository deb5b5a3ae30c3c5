import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { Ledger } from '../support/custom-integration-ledger.ts';
import { call, until } from '../support/http.ts';

/**
 * Custom integrations (type lambda) end to end, through the local runtime over HTTP: the example ledger function
 * (examples/custom-integration/handler.mjs) grants, extends, revokes and expires; small extra `file:` functions
 * written into a temp folder answer malformed, throw, or refuse, and count their calls per action.
 */

const EXAMPLE = resolve('examples/custom-integration/handler.mjs');
/** The one function ARN this deployment allows (drivers.lambda.functions); nothing in AWS is ever called. */
const ALLOWED_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:stint-allowed';
const UNLISTED_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:stint-unlisted';

let stint: Stint;
let dir: string;
const people = {
  alice: { sub: 'alice', email: 'alice@example.com', groups: [] as string[] },
  root: { sub: 'root', email: 'root@example.com', groups: ['stint-admins'] },
};
type Person = keyof typeof people;
const tokens = {} as Record<Person, string>;

type RequestJson = { id: string; status: string; failureReason?: string; expiresAt?: string };

const ledgerPath = () => join(dir, 'ledger', 'ledger.json');
const callsPath = (name: string) => join(dir, `${name}.calls`);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function readLedger() {
  return Ledger.parse(JSON.parse(await readFile(ledgerPath(), 'utf8')));
}

/** How often each action reached a helper function (each call appends its action to the calls file). */
async function calls(name: string): Promise<Record<string, number>> {
  const text = await readFile(callsPath(name), 'utf8').catch(() => '');
  const counts: Record<string, number> = {};
  for (const action of text.split('\n').filter((line) => line !== '')) counts[action] = (counts[action] ?? 0) + 1;
  return counts;
}

/** Shared by the helper modules: record the call, then count the earlier ones of the same action. */
const PRELUDE = `
import { appendFile, readFile } from 'node:fs/promises';
async function record(event) {
  const calls = event.integration.config.calls;
  const before = (await readFile(calls, 'utf8').catch(() => '')).split('\\n').filter((l) => l === event.action).length;
  await appendFile(calls, event.action + '\\n');
  return before + 1;
}
`;

/** Extra functions, each a file: integration of its own. */
const HELPERS: Record<string, string> = {
  // grant answers `access.username` as an object: not part of the contract.
  malformed: `${PRELUDE}
export async function handler(event) {
  await record(event);
  if (event.action === 'grant') return { state: { entry: 'x' }, access: { username: { first: 'alice' } } };
  return {};
}`,
  // grant throws until it has been called more than config.failures times.
  flaky: `${PRELUDE}
export async function handler(event) {
  const n = await record(event);
  if (event.action === 'grant') {
    if (n <= event.integration.config.failures) throw new Error('the target is warming up (call ' + n + ')');
    return { state: { attempt: n }, access: { attempt: n } };
  }
  return {};
}`,
  // grant refuses for good.
  refuses: `${PRELUDE}
export async function handler(event) {
  await record(event);
  if (event.action === 'grant') return { error: 'the vault is sealed', retryable: false };
  return {};
}`,
};

async function putIntegration(id: string, config: Record<string, unknown>) {
  return call(stint.url, 'PUT', `/integrations/${id}`, {
    token: tokens.root,
    body: {
      name: id,
      type: 'lambda',
      config,
      resources: [
        {
          id: 'reports',
          permissions: [
            { id: 'read', grants: ['reports:read'] },
            { id: 'write', grants: ['reports:read', 'reports:write'] },
          ],
        },
      ],
    },
  });
}

/** A self-serve flow on one unit of the integration. */
async function putFlow(id: string, integrationId: string) {
  const res = await call(stint.url, 'PUT', `/flows/${id}`, {
    token: tokens.root,
    body: {
      name: id,
      requestors: { everyone: true },
      targets: [{ integrationId, resource: 'reports', permission: 'read' }],
      approval: { mode: 'auto' },
      defaultMinutes: 5,
      maxMinutes: 30,
      justificationRequired: false,
      maxExtensions: 1,
    },
  });
  expect(res.status, res.text).toBe(200);
}

async function create(flowId: string, durationMinutes: number, justification?: string): Promise<string> {
  const res = await call(stint.url, 'POST', '/requests', {
    token: tokens.alice,
    body: { flowId, durationMinutes, ...(justification === undefined ? {} : { justification }) },
  });
  expect(res.status, res.text).toBe(201);
  return (res.json as RequestJson).id;
}
async function get(id: string): Promise<RequestJson> {
  const res = await call(stint.url, 'GET', `/requests/${id}`, { token: tokens.alice });
  expect(res.status).toBe(200);
  return res.json as RequestJson;
}
async function reach(id: string, status: string, timeoutMs = 150_000): Promise<RequestJson> {
  return until(
    () => get(id),
    (r) => r.status === status,
    timeoutMs,
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stint-e2e-custom-'));
  for (const [name, source] of Object.entries(HELPERS)) await writeFile(join(dir, `${name}.mjs`), source);
  stint = await startStint({
    pgDataDir: join(await clusterParentDir('stint-e2e-custom'), 'pg'),
    pgPort: await freePort(),
    port: 0,
    scheduleEveryMs: 1000,
    config: { drivers: { lambda: { functions: [ALLOWED_ARN], allowTagged: false } } },
  });
  for (const name of Object.keys(people) as Person[]) tokens[name] = await stint.token(people[name]);
  const integrations: [string, Record<string, unknown>][] = [
    ['ledger', { function: `file:${EXAMPLE}`, ledger: ledgerPath() }],
    ['malformed', { function: `file:${join(dir, 'malformed.mjs')}`, calls: callsPath('malformed') }],
    ['flaky', { function: `file:${join(dir, 'flaky.mjs')}`, calls: callsPath('flaky'), failures: 2 }],
    ['refuses', { function: `file:${join(dir, 'refuses.mjs')}`, calls: callsPath('refuses') }],
  ];
  for (const [id, config] of integrations) {
    const res = await putIntegration(id, config);
    expect(res.status, res.text).toBe(200);
    await putFlow(id, id);
  }
}, 180_000);

afterAll(async () => {
  await stint?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

// Independent scenarios, some waiting on real minutes (expiry) or retry backoff: run side by side.
describe.concurrent('a custom integration through the local runtime', { timeout: 300_000 }, () => {
  it('grants a ledger entry, shows its access fields and secret to the grantee, extends it and revokes it', async () => {
    const id = await create('ledger', 5);
    const active = await reach(id, 'ACTIVE');

    const key = `${id}/reports/read`;
    const entry = (await readLedger()).entries[key];
    expect(entry).toEqual({
      username: expect.stringMatching(/^alice-[0-9a-f]{8}$/),
      grantee: 'alice',
      email: 'alice@example.com',
      resource: 'reports',
      permission: 'read',
      grants: ['reports:read'],
      expiresAt: active.expiresAt,
      secretSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const access = await call(stint.url, 'GET', `/requests/${id}/access`, { token: tokens.alice });
    expect(access.status, access.text).toBe(200);
    const shown = access.json as { kind: string; fields: Record<string, unknown>; secret: string };
    expect(shown).toEqual({
      integrationId: 'ledger',
      resource: 'reports',
      permission: 'read',
      kind: 'custom',
      fields: { username: entry?.username, resource: 'reports', ledger: ledgerPath() },
      secret: expect.any(String),
      expiresAt: active.expiresAt,
    });
    // The secret shown is the one the ledger keeps the hash of.
    expect(sha256(shown.secret)).toBe(entry?.secretSha256);

    const extended = await call(stint.url, 'POST', `/requests/${id}/extend`, {
      token: tokens.alice,
      body: { minutes: 5 },
    });
    expect(extended.status, extended.text).toBe(200);
    const newEnd = (extended.json as RequestJson).expiresAt;
    expect(Date.parse(newEnd ?? '')).toBe(Date.parse(active.expiresAt ?? '') + 5 * 60_000);
    const moved = await until(
      async () => (await readLedger()).entries[key]?.expiresAt,
      (expiresAt) => expiresAt === newEnd,
      60_000,
    );
    expect(moved).toBe(newEnd);

    expect((await call(stint.url, 'POST', `/requests/${id}/revoke`, { token: tokens.alice, body: {} })).status).toBe(
      200,
    );
    await reach(id, 'REVOKED');
    expect(Object.keys((await readLedger()).entries)).not.toContain(key);
    const refused = await call(stint.url, 'GET', `/requests/${id}/access`, { token: tokens.alice });
    expect(refused.status).toBe(409);
  });

  it("passes the requester's justification to the function", async () => {
    const id = await create('ledger', 5, 'month-end close');
    await reach(id, 'ACTIVE');
    const entry = (await readLedger()).entries[`${id}/reports/read`];
    expect(entry?.justification).toBe('month-end close');
    expect((await call(stint.url, 'POST', `/requests/${id}/revoke`, { token: tokens.alice, body: {} })).status).toBe(
      200,
    );
    await reach(id, 'REVOKED');
  });

  it('removes the ledger entry when the access expires', async () => {
    const id = await create('ledger', 1);
    await reach(id, 'ACTIVE');
    const key = `${id}/reports/read`;
    expect(Object.keys((await readLedger()).entries)).toContain(key);
    await reach(id, 'EXPIRED');
    expect(Object.keys((await readLedger()).entries)).not.toContain(key);
  });

  it("lists the function's resources on discover", async () => {
    const res = await call(stint.url, 'GET', '/integrations/ledger/discover', { token: tokens.root });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({
      resources: [
        {
          id: 'reports',
          description: 'Monthly finance reports',
          permissions: [
            { id: 'read', description: 'Read the reports', grants: ['reports:read'] },
            { id: 'write', description: 'Read and publish reports', grants: ['reports:read', 'reports:write'] },
          ],
        },
        {
          id: 'payroll',
          description: 'Payroll exports',
          permissions: [{ id: 'read', description: 'Download payroll exports', grants: ['payroll:read'] }],
        },
      ],
    });
  });

  it('fails a request whose grant answer is malformed, naming what was wrong', async () => {
    const id = await create('malformed', 5);
    const failed = await reach(id, 'FAILED');
    expect(failed.failureReason).toContain('malformed grant answer: access.username');
    // A malformed answer is permanent: one grant, then the undo path's revoke.
    expect(await calls('malformed')).toEqual({ grant: 1, revoke: 1 });
  });

  it('retries a grant that throws and ends ACTIVE once it succeeds', async () => {
    const id = await create('flaky', 5);
    await reach(id, 'ACTIVE');
    expect(await calls('flaky')).toEqual({ grant: 3 });
    const access = await call(stint.url, 'GET', `/requests/${id}/access`, { token: tokens.alice });
    expect((access.json as { fields: unknown }).fields).toEqual({ attempt: 3 });
    expect((await call(stint.url, 'POST', `/requests/${id}/revoke`, { token: tokens.alice, body: {} })).status).toBe(
      200,
    );
    await reach(id, 'REVOKED');
    expect(await calls('flaky')).toEqual({ grant: 3, revoke: 1 });
  });

  it('fails at once on a non-retryable error answer, with its message, and undoes the grant', async () => {
    const id = await create('refuses', 5);
    const failed = await reach(id, 'FAILED');
    expect(failed.failureReason).toContain('grant failed: the vault is sealed');
    expect(await calls('refuses')).toEqual({ grant: 1, revoke: 1 });
  });
});

describe('functions the deployment does not allow', () => {
  const refusals: [string, string, RegExp][] = [
    ['a Lambda ARN not in drivers.lambda.functions', UNLISTED_ARN, /not in the deployment's allowed functions/],
    ['a relative file: path', 'file:examples/custom-integration/handler.mjs', /file:\/path/],
    ['a file: module that does not exist', 'file:/nonexistent/stint/handler.mjs', /no such file/],
  ];

  it.each(refusals)('refuses %s at PUT /integrations, on config.function, saving nothing', async (_n, fn, message) => {
    const id = `refused-${sha256(fn).slice(0, 8)}`;
    const res = await putIntegration(id, { function: fn });
    expect(res.status, res.text).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    const problem = res.json as { field?: string; detail?: string };
    expect(problem.field).toBe('body.config.function');
    expect(problem.detail).toMatch(message);
    expect((await call(stint.url, 'GET', `/integrations/${id}`, { token: tokens.root })).status).toBe(404);
  });

  it('accepts a Lambda ARN the deployment lists', async () => {
    const res = await putIntegration('allowed-arn', { function: ALLOWED_ARN });
    expect(res.status, res.text).toBe(200);
    expect((res.json as { config: unknown }).config).toEqual({ function: ALLOWED_ARN });
  });
});

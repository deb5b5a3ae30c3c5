import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as deleteBundle } from '#functions/api/delete-bundle.ts';
import { handler as deleteFlow } from '#functions/api/delete-flow.ts';
import { handler as deleteIntegration } from '#functions/api/delete-integration.ts';
import { handler as getBundle } from '#functions/api/get-bundle.ts';
import { handler as getFlow } from '#functions/api/get-flow.ts';
import { handler as getIntegration } from '#functions/api/get-integration.ts';
import { handler as putBundle } from '#functions/api/put-bundle.ts';
import { handler as putFlow } from '#functions/api/put-flow.ts';
import { handler as putIntegration } from '#functions/api/put-integration.ts';
import { Store } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { anIntegration } from '../../support/fixtures.ts';
import { callHandler, type Handler } from '../../support/handler-call.ts';
import { stubHandlerEnv } from '../../support/handler-env.ts';
import { ROLES, seedIntegration } from '../../support/services.ts';
import { startTestIssuer, type TestIssuer, type TokenClaims } from '../../support/token.ts';

/**
 * Conditional writes of flows, integrations and bundles at handler level: `If-Match` / `If-None-Match: *` in, ETag
 * out, a stale write refused with 412 saying who changed the item and never written.
 */
const ana = { sub: 'ana', email: 'ana@example.com', groups: [ROLES.adminGroup] };
const ben = { sub: 'ben', email: 'ben@example.com', groups: [ROLES.adminGroup] };

let table: LocalTable;
let issuer: TestIssuer;
let store: Store;

beforeAll(async () => {
  table = await startDynalite();
  issuer = await startTestIssuer();
  stubHandlerEnv({ table, issuer });
  store = new Store(table.doc, table.tableName);
  await seedIntegration(store, anIntegration());
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await issuer.stop();
  await table.stop();
});

function call(
  handler: Handler,
  input: {
    method: string;
    path: string;
    id: string;
    body?: unknown;
    claims?: TokenClaims;
    headers?: Record<string, string>;
  },
) {
  return callHandler(issuer, handler, {
    method: input.method,
    path: input.path,
    claims: input.claims ?? ana,
    params: { id: input.id },
    ...(input.body === undefined ? {} : { body: JSON.stringify(input.body) }),
    ...(input.headers === undefined ? {} : { headers: input.headers }),
  });
}

const flowBody = (name: string) => ({
  name,
  requestors: { everyone: true },
  targets: [{ integrationId: 'pg', resource: 'app', permission: 'readonly' }],
  approval: { mode: 'auto' },
  defaultMinutes: 30,
  maxMinutes: 60,
});
const bundleBody = (name: string) => ({
  name,
  units: [{ integrationId: 'pg', resource: 'app', permission: 'readonly' }],
});
const { id: _id, version: _v, lastChange: _l, deleted: _d, ...integrationInput } = anIntegration();
const integrationBody = (name: string) => ({
  ...integrationInput,
  name,
  config: { host: 'db.internal', port: 5432, database: 'app' },
  secretRef: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:stint/pg-admin-AbCdEf',
});

const kinds = [
  { kind: 'flow', base: '/flows', put: putFlow, get: getFlow, del: deleteFlow, body: flowBody },
  { kind: 'bundle', base: '/bundles', put: putBundle, get: getBundle, del: deleteBundle, body: bundleBody },
  {
    kind: 'integration',
    base: '/integrations',
    put: putIntegration,
    get: getIntegration,
    del: deleteIntegration,
    body: integrationBody,
  },
] as const;

describe.each(kinds)('$kind writes', ({ kind, base, put, get, del, body }) => {
  const write = (id: string, name: string, claims: TokenClaims, headers?: Record<string, string>) =>
    call(put, { method: 'PUT', path: `${base}/${id}`, id, body: body(name), claims, ...(headers ? { headers } : {}) });
  const read = (id: string) => call(get, { method: 'GET', path: `${base}/${id}`, id });

  it('answers GET and PUT with the ETag of the version, and without If-Match the last writer wins', async () => {
    const id = `${kind}-plain`;
    const first = await write(id, 'one', ana);
    const second = await write(id, 'two', ben);
    const got = await read(id);

    expect(first).toMatchObject({ status: 200, etag: '"1"', body: { version: 1 } });
    expect(second).toMatchObject({ status: 200, etag: '"2"', body: { version: 2, name: 'two' } });
    expect(got).toMatchObject({ status: 200, etag: '"2"', body: { name: 'two' } });
  });

  it('refuses a stale If-Match with 412 naming who changed it and the current version, and keeps their change', async () => {
    const id = `${kind}-stale`;
    const created = await write(id, 'original', ana);
    const etag = created.etag ?? '';

    const anas = await write(id, 'ana edit', ana, { 'if-match': etag });
    const bens = await write(id, 'ben edit', ben, { 'if-match': etag });

    expect(anas).toMatchObject({ status: 200, etag: '"2"' });
    expect(bens).toMatchObject({
      status: 412,
      type: 'application/problem+json',
      body: {
        type: 'https://stint.dev/problems/precondition-failed',
        field: 'if-match',
        current: { version: 2, lastChange: { by: 'ana', channel: 'api' } },
      },
    });
    expect(String(bens.body.detail)).toMatch(/version 2 \(last changed by ana at \d{4}-.*via api\)/);
    expect(await read(id)).toMatchObject({ etag: '"2"', body: { name: 'ana edit', lastChange: { by: 'ana' } } });
  });

  it('creates with If-None-Match: * only when there is no such item (412 otherwise), also after a delete', async () => {
    const id = `${kind}-create`;
    const created = await write(id, 'first', ana, { 'if-none-match': '*' });
    const again = await write(id, 'second', ben, { 'if-none-match': '*' });
    await call(del, { method: 'DELETE', path: `${base}/${id}`, id });
    const revived = await write(id, 'third', ben, { 'if-none-match': '*' });

    expect(created).toMatchObject({ status: 200, etag: '"1"' });
    expect(again).toMatchObject({ status: 412, body: { field: 'if-none-match', current: { version: 1 } } });
    expect(revived).toMatchObject({ status: 200, etag: '"3"', body: { name: 'third' } });
  });

  it('deletes only at the If-Match version (412 otherwise), answering 204 with the ETag of the deletion', async () => {
    const id = `${kind}-delete`;
    await write(id, 'v1', ana);
    await write(id, 'v2', ana);

    const stale = await call(del, { method: 'DELETE', path: `${base}/${id}`, id, headers: { 'if-match': '"1"' } });
    const stillThere = await read(id);
    const deleted = await call(del, { method: 'DELETE', path: `${base}/${id}`, id, headers: { 'if-match': '"2"' } });
    const gone = await read(id);

    expect(stale).toMatchObject({ status: 412, body: { current: { version: 2 } } });
    expect(stillThere.status).toBe(200);
    expect(deleted).toMatchObject({ status: 204, etag: '"3"' });
    expect(gone.status).toBe(404);
  });

  it('answers 404 to If-Match on an item that is not there, and 400 to a malformed precondition', async () => {
    const missing = await write(`${kind}-nobody`, 'x', ana, { 'if-match': '"1"' });
    const garbled = await write(`${kind}-garbled`, 'x', ana, { 'if-none-match': '"1"' });
    const both = await write(`${kind}-both`, 'x', ana, { 'if-match': '"1"', 'if-none-match': '*' });

    expect(missing.status).toBe(404);
    expect(garbled).toMatchObject({ status: 400, body: { field: 'if-none-match' } });
    expect(both).toMatchObject({ status: 400, body: { field: 'if-none-match' } });
    expect((await read(`${kind}-garbled`)).status).toBe(404);
  });
});

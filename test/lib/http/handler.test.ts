import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { DirectoryStore } from '#lib/directory/store.ts';
import { NotApproverError, ValidationError } from '#lib/domain/errors.ts';
import { httpHandler, MAX_BODY_BYTES } from '#lib/http/handler.ts';
import { requestKey } from '#lib/store/keys.ts';
import { Store } from '#lib/store/store.ts';
import { apiEvent, lambdaContext } from '../../support/api-event.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aRequest } from '../../support/fixtures.ts';
import { startTestIssuer, type TestIssuer } from '../../support/token.ts';

let table: LocalTable;
let issuer: TestIssuer;

beforeAll(async () => {
  table = await startDynalite();
  issuer = await startTestIssuer();
  for (const [name, value] of Object.entries(issuer.env)) vi.stubEnv(name, value);
  vi.stubEnv('STINT_TABLE_NAME', table.tableName);
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', table.endpoint);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await issuer.stop();
  await table.stop();
});

const seen: unknown[] = [];
const handler = httpHandler(
  { body: z.strictObject({ minutes: z.number().int().positive() }), params: z.object({ id: z.string().min(1) }) },
  async ({ body, params, identity }) => {
    seen.push(body);
    return { status: 200, body: { id: params.id, minutes: body.minutes, sub: identity.sub, groups: identity.groups } };
  },
);

async function call(body: string | undefined, extra: Parameters<TestIssuer['event']>[0] = {}) {
  const event = await issuer.event({ method: 'POST', path: '/x/1', params: { id: '1' }, body, ...extra });
  const result = (await handler(event, lambdaContext)) as APIGatewayProxyStructuredResultV2;
  return { status: result.statusCode, headers: result.headers ?? {}, json: JSON.parse(String(result.body)) };
}

describe('httpHandler', () => {
  it('passes validated input and the caller identity to the handler', async () => {
    const res = await call('{"minutes":5}', {
      claims: { sub: 'bob', email: 'bob@example.com', groups: ['dba', 'stint-admins'] },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ id: '1', minutes: 5, sub: 'bob', groups: ['dba', 'stint-admins'] });
  });

  it('reads groups from the verified token, not from the flattened claims', async () => {
    const res = await call('{"minutes":5}', {
      claims: { sub: 'bob', email: 'bob@example.com', groups: ['not dba', 'x,stint-admins'] },
    });
    expect(res.status).toBe(200);
    expect(res.json.groups).toEqual(['not dba', 'x,stint-admins']);
  });

  it('refuses a request without a bearer token as unauthenticated, before the handler runs', async () => {
    const before = seen.length;
    const event = apiEvent({ method: 'POST', path: '/x/1', params: { id: '1' }, body: '{"minutes":5}' });
    const res = (await handler(event, lambdaContext)) as APIGatewayProxyStructuredResultV2;
    expect(res.statusCode).toBe(401);
    expect(res.headers?.['content-type']).toBe('application/problem+json');
    expect(seen.length).toBe(before);
  });

  it('refuses a token other than the one the authorizer verified', async () => {
    const event = await issuer.event({ method: 'POST', path: '/x/1', params: { id: '1' }, body: '{"minutes":5}' });
    const other = await issuer.sign({ sub: 'root', email: 'root@example.com', groups: ['stint-admins'] });
    const swapped = { ...event, headers: { ...event.headers, authorization: `Bearer ${other}` } };
    const res = (await handler(swapped, lambdaContext)) as APIGatewayProxyStructuredResultV2;
    expect(res.statusCode).toBe(401);
  });

  it('refuses malformed JSON with a problem naming the body', async () => {
    const res = await call('{"minutes":');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json).toMatchObject({ status: 400, field: 'body', type: 'https://stint.dev/problems/validation-error' });
  });

  it('names an unknown field', async () => {
    const res = await call('{"minutes":5,"admin":true}');
    expect(res.status).toBe(400);
    expect(res.json.field).toBe('body.admin');
    expect(res.json.detail).toContain('unknown field');
  });

  it('names a field of the wrong type', async () => {
    const res = await call('{"minutes":"five"}');
    expect(res.status).toBe(400);
    expect(res.json.field).toBe('body.minutes');
  });

  it('refuses a body over 64 KiB before parsing it', async () => {
    const before = seen.length;
    const res = await call(JSON.stringify({ minutes: 1, pad: 'x'.repeat(MAX_BODY_BYTES) }));
    expect(res.status).toBe(413);
    expect(seen.length).toBe(before);
  });

  it('refuses a non-JSON content type', async () => {
    const res = await call('minutes=5', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.status).toBe(415);
  });

  it('refuses claims without an email as unauthenticated', async () => {
    const res = await call('{"minutes":5}', { claims: { sub: 'bob' } });
    expect(res.status).toBe(401);
  });

  it('maps a domain error to its status and hides unexpected errors behind a correlation id', async () => {
    const failing = httpHandler({}, async () => {
      throw new NotApproverError('requesters cannot approve their own request');
    });
    const crashing = httpHandler({}, async () => {
      throw new Error('secret internals at /var/task/index.js:1');
    });
    const refused = (await failing(await issuer.event({}), lambdaContext)) as APIGatewayProxyStructuredResultV2;
    const crashed = (await crashing(await issuer.event({}), lambdaContext)) as APIGatewayProxyStructuredResultV2;
    expect(refused.statusCode).toBe(403);
    expect(JSON.parse(String(refused.body)).detail).toBe('requesters cannot approve their own request');
    expect(crashed.statusCode).toBe(500);
    expect(String(crashed.body)).not.toContain('secret internals');
    expect(JSON.parse(String(crashed.body)).correlationId).toBe('req-test-1');
  });

  it('names a field a domain rule refused by its path in the request: body keys under body., indices as segments', async () => {
    const refusing = (field: string, issues: { path: string; message: string }[] = []) =>
      httpHandler({ body: z.object({ targets: z.array(z.unknown()), durationMinutes: z.number() }) }, async () => {
        throw new ValidationError('refused', field, issues);
      });
    const fieldOf = async (field: string, issues?: { path: string; message: string }[]) => {
      const res = (await refusing(field, issues)(
        await issuer.event({ body: '{"targets":[],"durationMinutes":5}' }),
        lambdaContext,
      )) as APIGatewayProxyStructuredResultV2;
      return JSON.parse(String(res.body));
    };

    expect((await fieldOf('durationMinutes')).field).toBe('body.durationMinutes');
    expect((await fieldOf('targets[0].resource')).field).toBe('body.targets.0.resource');
    expect((await fieldOf('body.targets[1]')).field).toBe('body.targets.1');
    expect((await fieldOf('id')).field).toBe('id');
    expect((await fieldOf('if-match')).field).toBe('if-match');
    expect((await fieldOf('targets.0', [{ path: 'targets.0.permission', message: 'no' }])).errors).toEqual([
      { field: 'body.targets.0.permission', message: 'no' },
    ]);
  });
});

describe('httpHandler with readAhead', () => {
  const directory = () => new DirectoryStore(table.doc, table.tableName);
  const store = () => new Store(table.doc, table.tableName);
  const reading = httpHandler(
    { params: z.object({ id: z.string().min(1) }) },
    async ({ params, identity }) => {
      const request = await store().getRequest(params.id);
      return { status: 200, body: { sub: identity.sub, groups: identity.groups, status: request?.status ?? null } };
    },
    { readAhead: ({ params }) => [requestKey(params.id)] },
  );
  async function read(id: string, claims: Parameters<TestIssuer['event']>[0]['claims']) {
    const event = await issuer.event({ method: 'GET', path: `/requests/${id}`, params: { id }, claims });
    table.operations.length = 0;
    const result = (await reading(event, lambdaContext)) as APIGatewayProxyStructuredResultV2;
    return { status: result.statusCode, json: JSON.parse(String(result.body)), sent: [...table.operations] };
  }

  it("reads the route's item with the caller's directory entry in one call, groups from the directory merged", async () => {
    const dir = directory();
    await dir.createUser(
      { userName: 'carol', emails: ['carol@example.com'], active: true, accounts: [] },
      { by: 'scim', channel: 'scim' },
      { id: 'carol' },
    );
    await dir.createGroup({ displayName: 'oncall', members: ['carol'] }, { by: 'scim', channel: 'scim' });
    const request = aRequest({ status: 'PENDING' });
    await store().createRequest(request);

    const res = await read(request.id, { sub: 'carol', email: 'carol@example.com', groups: ['dba'] });

    expect(res.status).toBe(200);
    expect(res.json).toEqual({ sub: 'carol', groups: ['dba', 'oncall'], status: 'PENDING' });
    // The user and the request in one BatchGetItem; the memberships as without read-ahead (Query, then the groups).
    expect(res.sent).toEqual(['BatchGetItem', 'Query', 'BatchGetItem']);
  });

  it('refuses a caller the directory has deactivated, with the item read ahead never handed out', async () => {
    await directory().createUser(
      { userName: 'dave', emails: ['dave@example.com'], active: false, accounts: [] },
      { by: 'scim', channel: 'scim' },
      { id: 'dave' },
    );
    const request = aRequest();
    await store().createRequest(request);

    const res = await read(request.id, { sub: 'dave', email: 'dave@example.com', groups: [] });

    expect(res.status).toBe(403);
    expect(res.sent).toEqual(['BatchGetItem']);
  });

  it('answers a caller the directory does not know from the token, and an absent item as absent', async () => {
    const res = await read('01NOSUCHREQUEST0000000000', { sub: 'erin', email: 'erin@example.com', groups: ['x'] });

    expect(res.status).toBe(200);
    expect(res.json).toEqual({ sub: 'erin', groups: ['x'], status: null });
    expect(res.sent).toEqual(['BatchGetItem']);
  });
});

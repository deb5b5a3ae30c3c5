import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as approveRequest } from '#functions/api/approve-request.ts';
import { handler as createRequest } from '#functions/api/create-request.ts';
import { handler as getAccess } from '#functions/api/get-access.ts';
import { handler as getCatalog } from '#functions/api/get-catalog.ts';
import { handler as listRequests } from '#functions/api/list-requests.ts';
import { handler as putIntegration } from '#functions/api/put-integration.ts';
import { handler as revokeRequest } from '#functions/api/revoke-request.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { sealSecret } from '#lib/secrets/seal.ts';
import { Store } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aFlow, anIdentity, anIntegration, aRequest } from '../../support/fixtures.ts';
import { callHandler, type Handler } from '../../support/handler-call.ts';
import { stubHandlerEnv } from '../../support/handler-env.ts';
import { ROLES, seedFlow, seedIntegration } from '../../support/services.ts';
import { type SfnEndpoint, startSfnEndpoint } from '../../support/sfn-endpoint.ts';
import { startTestIssuer, type TestIssuer, type TokenClaims } from '../../support/token.ts';

/**
 * Handlers end to end at handler level: API Gateway events in, the real middy chain, services wired from the
 * environment (lib/services/wiring/*.ts) onto dynalite and a wire-level Step Functions endpoint.
 */
const KEY = 'a-fixed-sealing-key-for-tests-0123456789';

const alice = { sub: 'alice', email: 'alice@example.com' };
const dbaClaims = { sub: 'dba-1', email: 'dba-1@example.com', groups: ['dba'] };
const strangerClaims = { sub: 'mallory', email: 'mallory@example.com', groups: ['sales'] };
const adminClaims = { sub: 'root', email: 'root@example.com', groups: [ROLES.adminGroup] };

let table: LocalTable;
let issuer: TestIssuer;
let sfn: SfnEndpoint;
let store: Store;

beforeAll(async () => {
  table = await startDynalite();
  issuer = await startTestIssuer();
  sfn = await startSfnEndpoint();
  stubHandlerEnv({ table, issuer, sfnUrl: sfn.url, credentialsKey: KEY });
  store = new Store(table.doc, table.tableName);
  await seedIntegration(store, anIntegration());
  await seedFlow(store, aFlow());
  await seedFlow(store, aFlow({ id: 'self-serve', approval: { mode: 'auto' } }));
  await seedFlow(store, aFlow({ id: 'sales-only', requestors: { everyone: false, users: [], groups: ['sales'] } }));
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await issuer.stop();
  await sfn.stop();
  await table.stop();
});
beforeEach(() => {
  sfn.calls.length = 0;
});

const call = (handler: Handler, input: Parameters<TestIssuer['event']>[0]) => callHandler(issuer, handler, input);

const create = (claims: TokenClaims, body: Record<string, unknown>) =>
  call(createRequest, { method: 'POST', path: '/requests', body: JSON.stringify(body), claims });

describe('POST /requests', () => {
  it('creates a self-serve request as APPROVED and starts its execution named after it', async () => {
    const response = await create(alice, { flowId: 'self-serve', durationMinutes: 15, justification: 'deploy' });

    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ status: 'APPROVED', flowId: 'self-serve', flowName: 'Database read-only' });
    const id = String(response.body.id);
    expect(sfn.calls).toEqual([
      {
        operation: 'StartExecution',
        body: {
          stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:stint',
          name: id,
          // With the route of what was written: the execution starts at the grant, no Load.
          input: JSON.stringify({
            requestId: id,
            attempt: 0,
            load: {
              next: 'grant',
              waitSeconds: 1,
              driver: 'postgresql',
              version: 1,
              branch: 'grant:postgresql',
              integrationIds: ['pg'],
            },
          }),
        },
      },
    ]);
    expect((await store.getRequest(id))?.status).toBe('APPROVED');
  });

  it('records the channel the client declares in X-Stint-Channel, and refuses a chat channel', async () => {
    const body = JSON.stringify({ flowId: 'self-serve', durationMinutes: 15, justification: 'portal' });
    const post = (channel: string) =>
      call(createRequest, {
        method: 'POST',
        path: '/requests',
        body,
        claims: alice,
        headers: { 'x-stint-channel': channel },
      });

    const portal = await post('portal');
    const slack = await post('slack');

    expect(portal).toMatchObject({
      status: 201,
      body: { timeline: [{ kind: 'created', channel: 'portal' }, { kind: 'auto-approved' }] },
    });
    expect((await store.getRequest(String(portal.body.id)))?.created).toMatchObject({ by: 'alice', channel: 'portal' });
    expect(slack).toMatchObject({ status: 400, body: { field: 'x-stint-channel' } });
  });

  it('answers an unknown flow with 404 problem+json naming flowId, and starts nothing', async () => {
    const response = await create(alice, { flowId: 'no-such-flow', durationMinutes: 15, justification: 'x' });

    expect(response.status).toBe(404);
    expect(response.type).toBe('application/problem+json');
    expect(response.body).toMatchObject({ status: 404, field: 'body.flowId' });
    expect(sfn.calls).toEqual([]);
  });

  it('answers a duration over the flow maximum with 422 naming durationMinutes', async () => {
    const response = await create(alice, { flowId: 'db-readonly', durationMinutes: 121, justification: 'x' });

    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ field: 'body.durationMinutes' });
  });
});

describe('what a route sends the table', () => {
  it('creates with one read of the caller, flow and grantee, one of the integrations, and one write', async () => {
    table.operations.length = 0;

    const response = await create(alice, { flowId: 'self-serve', durationMinutes: 15, justification: 'x' });

    expect(response.status).toBe(201);
    expect(table.operations).toEqual(['BatchGetItem', 'BatchGetItem', 'PutItem']);
  });

  it('revokes with one read of the caller and the request together, and one conditional write', async () => {
    const created = await create(alice, { flowId: 'self-serve', durationMinutes: 15, justification: 'x' });
    const id = String(created.body.id);
    const now = new Date().toISOString();
    await store.updateRequest(id, (r) => ({ ...r, status: 'ACTIVE', grantedAt: now, expiresAt: now }));
    table.operations.length = 0;

    const revoked = await call(revokeRequest, {
      method: 'POST',
      path: `/requests/${id}/revoke`,
      params: { id },
      claims: alice,
    });

    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ status: 'REVOKING' });
    expect(table.operations).toEqual(['BatchGetItem', 'PutItem']);
    expect((await store.getRequest(id))?.status).toBe('REVOKING');
  });
});

describe('POST /requests/{id}/approve', () => {
  it('refuses the requester with 403 not-approver and approves for an approver, resuming the wait once', async () => {
    const created = await create(alice, { flowId: 'db-readonly', durationMinutes: 15, justification: 'x' });
    const id = String(created.body.id);
    await store.updateRequest(id, (r) => ({ ...r, approvalToken: 'approval-token' }));
    sfn.live('approval-token');
    sfn.calls.length = 0;

    const self = await call(approveRequest, {
      method: 'POST',
      path: `/requests/${id}/approve`,
      params: { id },
      claims: alice,
    });
    expect(self.status).toBe(403);
    expect(self.type).toBe('application/problem+json');
    expect(String(self.body.type)).toMatch(/not-approver$/);

    const approved = await call(approveRequest, {
      method: 'POST',
      path: `/requests/${id}/approve`,
      params: { id },
      body: JSON.stringify({ reason: 'ok' }),
      claims: dbaClaims,
    });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'APPROVED', decision: { by: 'dba-1', reason: 'ok' } });
    expect(approved.body).not.toHaveProperty('approvalToken');
    // The wait's output is the route of the approval's write (the state machine's next $.load).
    const output = {
      next: 'grant',
      waitSeconds: 1,
      driver: 'postgresql',
      version: 3,
      branch: 'grant:postgresql',
      integrationIds: ['pg'],
    };
    expect(sfn.calls).toEqual([
      { operation: 'SendTaskSuccess', body: { taskToken: 'approval-token', output: JSON.stringify(output) } },
    ]);
  });
});

describe('GET /requests/{id}/access', () => {
  async function activeRequest(): Promise<AccessRequest> {
    const request = aRequest({
      requester: anIdentity({ sub: 'alice' }),
      grantee: anIdentity({ sub: 'alice' }),
      status: 'ACTIVE',
      expiresAt: '2030-01-15T10:30:00.000Z',
      enforcedExpiresAt: '2030-01-15T10:30:00.000Z',
      grants: [
        {
          unit: { integrationId: 'pg', resource: 'app', permission: 'readonly' },
          state: { role: 'stint_x' },
          access: { host: 'db.internal', port: 5432, database: 'app', username: 'stint_x' },
          sealedSecret: await sealSecret('the-password', KEY),
        },
      ],
    });
    await store.createRequest(request);
    return request;
  }

  it('serves the grantee the credentials, password unsealed with the configured key', async () => {
    const { id } = await activeRequest();

    const response = await call(getAccess, { path: `/requests/${id}/access`, params: { id }, claims: alice });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      host: 'db.internal',
      port: 5432,
      database: 'app',
      username: 'stint_x',
      password: 'the-password',
      expiresAt: '2030-01-15T10:30:00.000Z',
    });
  });

  it('answers 404 to someone who may not see the request, and 403 to an admin who is not the grantee', async () => {
    const { id } = await activeRequest();

    const stranger = await call(getAccess, { path: `/requests/${id}/access`, params: { id }, claims: strangerClaims });
    const admin = await call(getAccess, { path: `/requests/${id}/access`, params: { id }, claims: adminClaims });

    expect(stranger.status).toBe(404);
    expect(admin.status).toBe(403);
    expect(JSON.stringify([stranger.body, admin.body])).not.toContain('the-password');
  });
});

describe('GET /requests', () => {
  it('shows an approver, per request in scope=approvals, why they approve (set, group) and the tier', async () => {
    const created = await create(alice, { flowId: 'db-readonly', durationMinutes: 15, justification: 'inbox' });
    const id = String(created.body.id);

    const inbox = await call(listRequests, { path: '/requests', query: { scope: 'approvals' }, claims: dbaClaims });
    const items = Array.isArray(inbox.body.items) ? inbox.body.items : [];

    expect(inbox.status).toBe(200);
    expect(items.find((r: { id?: string }) => r.id === id)).toMatchObject({
      approval: { tier: 0, eligible: true, mine: [{ index: 0, viaGroups: ['dba'], asUser: false }] },
      timeline: [{ kind: 'created', by: 'alice', channel: 'api' }],
    });
  });

  it('refuses scope=all to someone who is neither admin nor auditor, naming query.scope', async () => {
    const response = await call(listRequests, { path: '/requests', query: { scope: 'all' }, claims: alice });

    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({ field: 'query.scope' });
  });

  it('refuses an unknown scope with 400 naming query.scope', async () => {
    const response = await call(listRequests, { path: '/requests', query: { scope: 'everything' }, claims: alice });

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ field: 'query.scope' });
  });
});

describe('GET /catalog', () => {
  it('lists only the flows the caller may request under', async () => {
    const forAlice = await call(getCatalog, { path: '/catalog', claims: alice });
    const forSales = await call(getCatalog, { path: '/catalog', claims: strangerClaims });

    const ids = (body: Record<string, unknown>) =>
      (Array.isArray(body.flows) ? body.flows : []).map((f: { id?: unknown }) => String(f.id)).sort();
    expect(ids(forAlice.body)).toEqual(['db-readonly', 'self-serve']);
    expect(ids(forSales.body)).toEqual(['db-readonly', 'sales-only', 'self-serve']);
  });
});

describe('PUT /integrations/{id}', () => {
  it('answers a bad postgresql config with 400 naming body.config.<field>, and stores nothing', async () => {
    const response = await call(putIntegration, {
      method: 'PUT',
      path: '/integrations/pg2',
      params: { id: 'pg2' },
      claims: adminClaims,
      body: JSON.stringify({
        name: 'Second',
        type: 'postgresql',
        config: { host: 'db.internal' },
        secretRef: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:stint/pg2-admin-AbCdEf',
        resources: [{ id: 'app', permissions: [{ id: 'readonly', grants: ['app_readonly'] }] }],
      }),
    });

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ field: 'body.config.database' });
    expect(await store.getIntegration('pg2')).toBeUndefined();
  });
});

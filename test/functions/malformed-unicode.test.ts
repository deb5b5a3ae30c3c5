import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as createRequest } from '#functions/api/create-request.ts';
import { handler as getDirectoryUser } from '#functions/api/get-directory-user.ts';
import { handler as listDirectoryUsers } from '#functions/api/list-directory-users.ts';
import { handler as putDirectoryGroup } from '#functions/api/put-directory-group.ts';
import { handler as putDirectoryUser } from '#functions/api/put-directory-user.ts';
import { handler as scimUsers } from '#functions/scim/scim-users.ts';
import { JiraState } from '#lib/channels/jira/state.ts';
import { signJiraWebhook } from '#lib/channels/jira/verify.ts';
import { handleJiraWebhook } from '#lib/channels/jira/webhook.ts';
import { SlackClient } from '#lib/channels/slack/client.ts';
import { handleSlackInteraction } from '#lib/channels/slack/interactions.ts';
import { SlackState } from '#lib/channels/slack/state.ts';
import { signSlackRequest } from '#lib/channels/slack/verify.ts';
import { Store } from '#lib/store/store.ts';
import { MemoryDirectory } from '../fixtures/slack/directory.ts';
import { lambdaContext } from '../support/api-event.ts';
import { type LocalTable, startDynalite } from '../support/dynalite.ts';
import { aFlow, anIntegration } from '../support/fixtures.ts';
import { stubHandlerEnv } from '../support/handler-env.ts';
import { scimEvent } from '../support/scim-event.ts';
import { ROLES, seedFlow, seedIntegration } from '../support/services.ts';
import { type SfnEndpoint, startSfnEndpoint } from '../support/sfn-endpoint.ts';
import { startTestIssuer, type TestIssuer } from '../support/token.ts';

/**
 * Strings that are not well-formed Unicode (a lone UTF-16 surrogate, sent as the JSON escape `\ud800`) at each edge:
 * API bodies, path ids, query strings, token claims, SCIM bodies and filters, a chat webhook payload. Each is refused
 * with 400 naming the field (problem+json; SCIM: its own error, scim+json), and nothing is written.
 */
const LONE = '\ud800';
const SCIM_TOKEN = 'scim-test-token-0123456789abcdef';
const adminClaims = { sub: 'root', email: 'root@example.com', groups: [ROLES.adminGroup] };

let table: LocalTable;
let sfn: SfnEndpoint;
let issuer: TestIssuer;

beforeAll(async () => {
  table = await startDynalite();
  sfn = await startSfnEndpoint();
  issuer = await startTestIssuer();
  stubHandlerEnv({ table, issuer, sfnUrl: sfn.url, scimToken: SCIM_TOKEN });
  const store = new Store(table.doc, table.tableName);
  await seedIntegration(store, anIntegration());
  await seedFlow(store, aFlow({ id: 'self-serve', approval: { mode: 'auto' } }));
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await sfn.stop();
  await issuer.stop();
  await table.stop();
});
beforeEach(() => {
  sfn.calls.length = 0;
});

/** Every item of the table, sorted by key: what "nothing was written" is compared on. */
async function items(): Promise<string[]> {
  const out = await table.doc.send(new ScanCommand({ TableName: table.tableName }));
  return (out.Items ?? []).map((item) => JSON.stringify(item)).sort();
}

type ApiHandler = (
  event: APIGatewayProxyEventV2WithJWTAuthorizer,
  context: typeof lambdaContext,
) => Promise<APIGatewayProxyStructuredResultV2>;

function parsed(result: APIGatewayProxyStructuredResultV2) {
  const json: unknown = result.body === undefined || result.body === '' ? {} : JSON.parse(result.body);
  const body = json !== null && typeof json === 'object' ? Object.fromEntries(Object.entries(json)) : {};
  return { status: result.statusCode, type: result.headers?.['content-type']?.toString(), body };
}

const api = async (handler: ApiHandler, input: Parameters<TestIssuer['event']>[0]) =>
  parsed(await handler(await issuer.event({ claims: adminClaims, ...input }), lambdaContext));

describe('API routes refuse strings that are not well-formed Unicode', () => {
  it('answers a lone surrogate in userName or displayName of PUT /directory/users/{id} with 400 naming it', async () => {
    const before = await items();
    // The body is valid JSON text with an escape, as a client would send it.
    const userName = await api(putDirectoryUser, {
      method: 'PUT',
      path: '/directory/users/u-1',
      params: { id: 'u-1' },
      body: '{"userName":"\\ud800","emails":["u-1@example.com"]}',
    });
    const displayName = await api(putDirectoryUser, {
      method: 'PUT',
      path: '/directory/users/u-1',
      params: { id: 'u-1' },
      body: '{"userName":"u-1@example.com","emails":["u-1@example.com"],"displayName":"a\\udc00b"}',
    });

    expect(userName).toMatchObject({
      status: 400,
      type: 'application/problem+json',
      body: { field: 'body.userName' },
    });
    expect(displayName).toMatchObject({
      status: 400,
      type: 'application/problem+json',
      body: { field: 'body.displayName' },
    });
    expect(await items()).toEqual(before);
  });

  it('answers a lone surrogate in displayName or a member of PUT /directory/groups/{id} with 400 naming it', async () => {
    const before = await items();
    const name = await api(putDirectoryGroup, {
      method: 'PUT',
      path: '/directory/groups/g-1',
      params: { id: 'g-1' },
      body: '{"displayName":"ops\\ud800"}',
    });
    const member = await api(putDirectoryGroup, {
      method: 'PUT',
      path: '/directory/groups/g-1',
      params: { id: 'g-1' },
      body: '{"displayName":"ops","members":["root","\\udfff"]}',
    });

    expect(name).toMatchObject({ status: 400, type: 'application/problem+json', body: { field: 'body.displayName' } });
    expect(member).toMatchObject({ status: 400, body: { field: 'body.members.1' } });
    expect(await items()).toEqual(before);
  });

  it('answers a lone surrogate in a path id or a query string with 400 naming it', async () => {
    const path = await api(getDirectoryUser, { method: 'GET', path: '/directory/users/x', params: { id: `x${LONE}` } });
    const query = await api(listDirectoryUsers, {
      method: 'GET',
      path: '/directory/users',
      query: { userName: `a${LONE}@example.com` },
    });

    expect(path).toMatchObject({ status: 400, type: 'application/problem+json', body: { field: 'path.id' } });
    expect(query).toMatchObject({ status: 400, type: 'application/problem+json', body: { field: 'query.userName' } });
  });

  it('refuses a token whose sub holds a lone surrogate and creates no request', async () => {
    const before = await items();
    const response = await api(createRequest, {
      method: 'POST',
      path: '/requests',
      body: JSON.stringify({ flowId: 'self-serve', durationMinutes: 15, justification: 'deploy' }),
      claims: { sub: `mallory${LONE}`, email: 'mallory@example.com' },
    });

    expect(response).toMatchObject({ status: 400, type: 'application/problem+json', body: { field: 'token.sub' } });
    expect(sfn.calls).toEqual([]);
    expect(await items()).toEqual(before);
  });

  it('refuses a group claim holding a lone surrogate and creates no request', async () => {
    const before = await items();
    const response = await api(createRequest, {
      method: 'POST',
      path: '/requests',
      body: JSON.stringify({ flowId: 'self-serve', durationMinutes: 15, justification: 'deploy' }),
      claims: { sub: 'mallory', email: 'mallory@example.com', groups: [`dba${LONE}`] },
    });

    expect(response).toMatchObject({
      status: 400,
      type: 'application/problem+json',
      body: { field: 'token.groups.0' },
    });
    expect(sfn.calls).toEqual([]);
    expect(await items()).toEqual(before);
  });
});

describe('SCIM refuses strings that are not well-formed Unicode with a SCIM error', () => {
  it('answers POST /scim/v2/Users with a lone surrogate in userName with 400 scim+json naming it', async () => {
    const before = await items();
    const result = parsed(
      await scimUsers(
        scimEvent({
          route: 'POST /scim/v2/Users',
          token: SCIM_TOKEN,
          rawBody: '{"userName":"\\ud800","emails":[{"value":"s@example.com"}]}',
        }),
        lambdaContext,
      ),
    );

    expect(result.status).toBe(400);
    expect(result.type).toBe('application/scim+json');
    expect(result.body).toMatchObject({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '400',
      scimType: 'invalidValue',
    });
    expect(String(result.body.detail)).toMatch(/^userName: /);
    expect(await items()).toEqual(before);
  });

  it('answers a filter whose escaped value is a lone surrogate with 400 invalidFilter', async () => {
    const result = parsed(
      await scimUsers(
        scimEvent({ route: 'GET /scim/v2/Users', token: SCIM_TOKEN, query: { filter: 'userName eq "\\ud800"' } }),
        lambdaContext,
      ),
    );

    expect(result.status).toBe(400);
    expect(result.type).toBe('application/scim+json');
    expect(result.body).toMatchObject({ status: '400', scimType: 'invalidFilter' });
  });
});

describe('chat webhooks refuse payload strings that are not well-formed Unicode', () => {
  it('answers a signed Jira webhook with a lone surrogate in a field with 400 problem+json naming it', async () => {
    const secret = 'jira-webhook-secret-for-tests';
    const rawBody = `{"timestamp":${Date.now()},"webhookEvent":"jira:issue_updated\\ud800","issue":{"key":"OPS-1"}}`;
    const response = await handleJiraWebhook(
      {
        webhookSecret: async () => secret,
        guard: new JiraState(table.doc, table.tableName),
        targets: [],
        jira: async () => {
          throw new Error('Jira is not asked about a refused payload');
        },
        directory: new MemoryDirectory(),
        requests: {
          vote: async () => {
            throw new Error('no vote from a refused payload');
          },
        },
        store: { getRequest: async () => undefined },
      },
      { headers: { 'x-hub-signature': signJiraWebhook(secret, rawBody) }, rawBody },
    );

    const body: unknown = JSON.parse(response.body);
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(body).toMatchObject({ status: 400, field: 'payload.webhookEvent' });
  });

  it('answers a signed Slack click whose payload names a lone surrogate as the request with 400 problem+json', async () => {
    const secret = 'slack-signing-secret-for-tests';
    const payload =
      '{"type":"block_actions","user":{"id":"U1","team_id":"T1"},' +
      '"actions":[{"action_id":"stint_approve","value":"req\\ud800"}]}';
    const rawBody = new URLSearchParams({ payload }).toString();
    const at = Math.floor(Date.now() / 1000);
    const state = new SlackState(table.doc, table.tableName);
    const response = await handleSlackInteraction(
      {
        signingSecret: async () => secret,
        guard: state,
        directory: new MemoryDirectory(),
        slack: new SlackClient({ token: async () => 'xoxb-test', baseUrl: 'http://127.0.0.1:9', responseOrigins: [] }),
        requests: {
          vote: async () => {
            throw new Error('no vote from a refused payload');
          },
        },
        store: { getRequest: async () => undefined },
        posts: state,
      },
      {
        rawBody,
        headers: {
          'x-slack-request-timestamp': String(at),
          'x-slack-signature': signSlackRequest(secret, at, rawBody),
        },
      },
    );

    expect(response.status).toBe(400);
    expect(response.headers?.['content-type']).toBe('application/problem+json');
    expect(JSON.parse(response.body ?? '{}')).toMatchObject({ status: 400, field: 'payload.actions.0.value' });
  });
});

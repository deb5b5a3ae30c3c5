import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler } from '#functions/callbacks/teams-messages.ts';
import { APPROVE_VERB } from '#lib/channels/teams/cards.ts';
import { DirectoryStore } from '#lib/directory/store.ts';
import { Store } from '#lib/store/store.ts';
import { BotFrameworkStandIn } from '../../fixtures/teams/bot-framework.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aFlow, anIdentity, aRequest } from '../../support/fixtures.ts';

/** The Teams Lambda at handler level: env config, the store-backed directory and the request store on dynalite. */
const APP_ID = '6f1c2a4e-1b2c-4d3e-8f90-a1b2c3d4e5f6';
const AAD = '00000000-0000-4000-8000-000000000002';

let table: LocalTable;
let bot: BotFrameworkStandIn;
let store: Store;

beforeAll(async () => {
  table = await startDynalite();
  bot = await BotFrameworkStandIn.start();
  vi.stubEnv('STINT_TABLE_NAME', table.tableName);
  vi.stubEnv('STINT_TEAMS_APP_ID', APP_ID);
  vi.stubEnv('STINT_TEAMS_OPENID_METADATA_URL', bot.openIdMetadataUrl);
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', table.endpoint);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
  store = new Store(table.doc, table.tableName);
  const directory = new DirectoryStore(table.doc, table.tableName);
  await directory.createUser(
    {
      userName: 'approver-1@example.com',
      emails: ['approver-1@example.com'],
      accounts: [{ kind: 'teams', aadObjectId: AAD }],
    },
    { by: 'test', channel: 'admin' },
    { id: 'approver-1' },
  );
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await bot.stop();
  await table.stop();
});

function event(body: string, authorization?: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /webhooks/teams',
    rawPath: '/webhooks/teams',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'stint.example.com',
      domainPrefix: 'stint',
      http: { method: 'POST', path: '/webhooks/teams', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'req',
      routeKey: 'POST /webhooks/teams',
      stage: '$default',
      time: '',
      timeEpoch: 0,
    },
    body,
    isBase64Encoded: false,
  };
}

function click(requestId: string): string {
  return JSON.stringify({
    type: 'invoke',
    name: 'adaptiveCard/action',
    channelId: 'msteams',
    serviceUrl: BotFrameworkStandIn.SERVICE_URL,
    from: { id: '29:x', aadObjectId: AAD },
    value: { action: { type: 'Action.Execute', verb: APPROVE_VERB, data: { requestId } } },
  });
}

describe('POST /webhooks/teams', () => {
  it('refuses an activity without a Bot Framework token and records nothing', async () => {
    const request = aRequest({ requester: anIdentity({ sub: 'requester-1' }) });
    await store.createRequest(request);
    const response = await handler(event(click(request.id)));
    expect(response.statusCode).toBe(401);
    expect((await store.getRequest(request.id))?.votes).toEqual([]);
  });

  it('records the vote of a Teams user linked in the store-backed directory', async () => {
    const flow = aFlow({
      approval: {
        mode: 'manual',
        sets: [{ users: ['approver-1', 'approver-2'], groups: [] }],
        rule: { type: 'quorum', count: 2 },
        timeoutMinutes: 60,
        reasonRequired: false,
      },
    });
    const request = aRequest({ flow, approvalToken: 'token', requester: anIdentity({ sub: 'requester-1' }) });
    await store.createRequest(request);
    const token = await bot.token({ appId: APP_ID, now: new Date() });
    const response = await handler(event(click(request.id), `Bearer ${token}`));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(String(response.body))).toMatchObject({
      statusCode: 200,
      type: 'application/vnd.microsoft.card.adaptive',
    });
    const after = await store.getRequest(request.id);
    expect(after?.votes.map((v) => [v.by, v.channel])).toEqual([['approver-1', 'teams']]);
    expect(after?.status).toBe('PENDING');
  });
});

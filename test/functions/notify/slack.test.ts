import type { EventBridgeEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler } from '#functions/notify/slack.ts';
import { DirectoryStore } from '#lib/directory/store.ts';
import { Store } from '#lib/store/store.ts';
import { SlackStandIn } from '../../fixtures/slack/server.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aFlow, anIdentity, aRequest } from '../../support/fixtures.ts';

/** The Slack notify Lambda at handler level: env config, the store-backed directory, dynalite and the Slack stand-in. */
let table: LocalTable;
let slack: SlackStandIn;
let store: Store;

beforeAll(async () => {
  table = await startDynalite();
  slack = await SlackStandIn.start();
  slack.addUser({ id: 'U_APP', teamId: 'T1', email: 'approver-1@example.com' });
  vi.stubEnv('STINT_TABLE_NAME', table.tableName);
  vi.stubEnv('STINT_SLACK_API_URL', slack.apiUrl);
  vi.stubEnv('STINT_SLACK_BOT_TOKEN_REF', 'env:TEST_SLACK_BOT');
  vi.stubEnv('STINT_SLACK_SIGNING_SECRET_REF', 'env:TEST_SLACK_SIGNING');
  vi.stubEnv('TEST_SLACK_BOT', 'xoxb-handler-test');
  vi.stubEnv('TEST_SLACK_SIGNING', 'signing');
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', table.endpoint);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
  store = new Store(table.doc, table.tableName);
  await new DirectoryStore(table.doc, table.tableName).createUser(
    { userName: 'approver-1@example.com', emails: ['approver-1@example.com'] },
    { by: 'test', channel: 'admin' },
    { id: 'approver-1' },
  );
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await slack.stop();
  await table.stop();
});

function created(requestId: string): EventBridgeEvent<string, unknown> {
  return {
    version: '0',
    id: `evt-${requestId}`,
    'detail-type': 'request.created',
    source: 'stint',
    account: '123456789012',
    time: '2030-01-15T10:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail: { type: 'request.created', request: { id: requestId } },
  };
}

describe('notify/slack handler', () => {
  it('fails the invocation while Slack is rate limited, and the redelivery DMs the approver once', async () => {
    const request = aRequest({ flow: aFlow(), requester: anIdentity({ sub: 'requester-1' }) });
    await store.createRequest(request);
    slack.failNext('chat.postMessage', 1, { status: 429, retryAfter: 60 });

    await expect(handler(created(request.id))).rejects.toThrow('1 Slack call(s)');
    await handler(created(request.id));
    await handler(created(request.id));

    const dms = slack.succeededCallsOf('chat.postMessage');
    expect(dms.map((d) => [d.params.channel, d.token])).toEqual([['DU_APP', 'xoxb-handler-test']]);
  });
});

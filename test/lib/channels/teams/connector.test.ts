import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { noticeCard } from '#lib/channels/teams/cards.ts';
import {
  BOT_FRAMEWORK_SCOPE,
  cardActivity,
  GRAPH_SCOPE,
  TeamsApiError,
  TeamsConnector,
  TeamsTransientError,
} from '#lib/channels/teams/connector.ts';
import { BotFrameworkStandIn } from '../../../fixtures/teams/bot-framework.ts';

const BOT = {
  appId: '6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a6b',
  appPassword: 'stand-in-client-secret',
  tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
};
const DANA = { aadObjectId: '0b6d1f7e-3333-4a2b-9c3d-5e6f7a8b9c0d', email: 'dana@example.com' };
const CHANNEL = '19:ops-approvals0123456789@thread.tacv2';

let bot: BotFrameworkStandIn;
let clock: Date;

function connector(overrides: { appPassword?: string; serviceUrl?: string } = {}): TeamsConnector {
  return new TeamsConnector({
    appId: BOT.appId,
    tenantId: BOT.tenantId,
    appPassword: async () => overrides.appPassword ?? BOT.appPassword,
    serviceUrl: overrides.serviceUrl ?? bot.serviceUrl,
    loginUrl: bot.loginUrl,
    graphUrl: bot.graphUrl,
    now: () => clock,
  });
}

const card = (text: string) => cardActivity(noticeCard(text));
const textOf = (value: unknown) => JSON.stringify(value);

beforeEach(async () => {
  bot = (await BotFrameworkStandIn.start()).registerBot(BOT).addUser(DANA).addChannel(CHANNEL);
  clock = new Date('2030-01-15T10:00:00Z');
});

afterEach(async () => {
  await bot.stop();
});

describe('TeamsConnector: Bot Connector calls', () => {
  it('opens a 1:1 chat with the Entra object id, sends a card and replaces it', async () => {
    const client = connector();

    const conversationId = await client.createPersonalConversation(DANA.aadObjectId);
    const activityId = await client.send(conversationId, card('first'));
    await client.update(conversationId, activityId, card('second'));

    expect(conversationId).toBe(bot.personalConversation(DANA.aadObjectId));
    const cards = bot.cardsIn(conversationId);
    expect(cards.map((c) => c.activityId)).toEqual([activityId]);
    expect(cards[0]?.updates).toBe(1);
    expect(textOf(cards[0]?.card)).toContain('second');
    expect(bot.activities.map((a) => a.method)).toEqual(['POST', 'PUT']);
    expect(bot.activities[0]?.activity.attachments[0]?.contentType).toBe('application/vnd.microsoft.card.adaptive');
  });

  it('starts a thread in a channel and answers its conversation and activity ids', async () => {
    const thread = await connector().createChannelThread(CHANNEL, card('to the channel'));

    expect(bot.channelThreads(CHANNEL)).toEqual([thread.conversationId]);
    expect(thread.conversationId).toBe(`${CHANNEL};messageid=${thread.activityId}`);
    expect(textOf(bot.cardsIn(thread.conversationId)[0]?.card)).toContain('to the channel');
  });

  it('gets one client-credentials token for the Bot Framework scope and reuses it until shortly before expiry', async () => {
    const client = connector();
    const conversationId = await client.createPersonalConversation(DANA.aadObjectId);
    await client.send(conversationId, card('one'));
    await client.send(conversationId, card('two'));
    expect(bot.tokenRequests).toEqual([{ tenant: BOT.tenantId, scope: BOT_FRAMEWORK_SCOPE }]);

    // The stand-in's tokens live 3599 s; the client renews 5 minutes before the end.
    clock = new Date(clock.getTime() + (3599 - 5 * 60 + 1) * 1000);
    await client.send(conversationId, card('three'));

    expect(bot.tokenRequests).toHaveLength(2);
    expect(bot.cardsIn(conversationId)).toHaveLength(3);
  });

  it('drops a token the Connector refuses (401) and tries once more with a fresh one', async () => {
    const client = connector();
    const conversationId = await client.createPersonalConversation(DANA.aadObjectId);
    bot.failNext('send', 401);

    await client.send(conversationId, card('after a refused token'));

    expect(bot.tokenRequests).toHaveLength(2);
    expect(bot.cardsIn(conversationId)).toHaveLength(1);
  });

  it('throws a retryable TeamsTransientError on 429 and 5xx', async () => {
    const client = connector();
    const conversationId = await client.createPersonalConversation(DANA.aadObjectId);
    bot.failNext('send', 429, 503);

    const throttled = await client.send(conversationId, card('x')).catch((e: unknown) => e);
    const unavailable = await client.send(conversationId, card('x')).catch((e: unknown) => e);

    for (const [error, status] of [
      [throttled, 429],
      [unavailable, 503],
    ] as const) {
      expect(error).toBeInstanceOf(TeamsTransientError);
      expect(error).toMatchObject({ name: 'TeamsTransientError', retryable: true, operation: 'send-activity', status });
    }
    expect(bot.cardsIn(conversationId)).toEqual([]);
  });

  it('throws a TeamsApiError that is not retryable on a 4xx (the bot is not installed for the user)', async () => {
    bot.addUser({ aadObjectId: '0b6d1f7e-4444-4a2b-9c3d-5e6f7a8b9c0d', email: 'eve@example.com', installed: false });

    const error = await connector()
      .createPersonalConversation('0b6d1f7e-4444-4a2b-9c3d-5e6f7a8b9c0d')
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TeamsApiError);
    expect(error).not.toBeInstanceOf(TeamsTransientError);
    expect(error).toMatchObject({ retryable: false, operation: 'create-conversation', status: 403 });
  });

  it('fails on the token when the client secret is wrong, without calling the Connector', async () => {
    const error = await connector({ appPassword: 'wrong' })
      .createPersonalConversation(DANA.aadObjectId)
      .catch((e: unknown) => e);

    expect(error).toMatchObject({ name: 'TeamsApiError', operation: 'token', status: 401, retryable: false });
    expect(bot.activities).toEqual([]);
  });

  it('treats a Connector that does not answer as transient', async () => {
    const client = connector({ serviceUrl: 'http://127.0.0.1:9/' });

    const error = await client.createPersonalConversation(DANA.aadObjectId).catch((e: unknown) => e);

    expect(error).toMatchObject({ name: 'TeamsTransientError', operation: 'create-conversation', retryable: true });
  });
});

describe('TeamsConnector: Microsoft Graph lookup', () => {
  it('finds a user’s Entra object id by email with a Graph-scoped token, and undefined for nobody (404)', async () => {
    const client = connector();

    expect(await client.userIdByEmail('DANA@example.com')).toBe(DANA.aadObjectId);
    expect(await client.userIdByEmail('nobody@example.com')).toBeUndefined();

    expect(bot.tokenRequests).toEqual([{ tenant: BOT.tenantId, scope: GRAPH_SCOPE }]);
    expect(bot.graphLookups).toEqual(['DANA@example.com', 'nobody@example.com']);
  });

  it('throws on a Graph failure other than 404 (throttled: retryable; forbidden: not)', async () => {
    const client = connector();
    bot.failNext('graph', 429, 403);

    await expect(client.userIdByEmail(DANA.email)).rejects.toMatchObject({ retryable: true, status: 429 });
    await expect(client.userIdByEmail(DANA.email)).rejects.toMatchObject({
      retryable: false,
      operation: 'graph-user',
      status: 403,
    });
  });

  it('reads a user’s mail and user principal name by object id, and undefined for nobody (404)', async () => {
    const client = connector();
    const erin = { aadObjectId: '0b6d1f7e-4444-4a2b-9c3d-5e6f7a8b9c0d', email: 'erin@contoso.example', mail: null };
    bot.addUser(erin);

    expect(await client.userById(DANA.aadObjectId)).toEqual({
      id: DANA.aadObjectId,
      mail: DANA.email,
      userPrincipalName: DANA.email,
    });
    expect(await client.userById(erin.aadObjectId)).toEqual({
      id: erin.aadObjectId,
      mail: undefined,
      userPrincipalName: erin.email,
    });
    expect(await client.userById('0b6d1f7e-ffff-4a2b-9c3d-5e6f7a8b9c0d')).toBeUndefined();

    expect(bot.tokenRequests).toEqual([{ tenant: BOT.tenantId, scope: GRAPH_SCOPE }]);
    expect(bot.graphLookups).toEqual([DANA.aadObjectId, erin.aadObjectId, '0b6d1f7e-ffff-4a2b-9c3d-5e6f7a8b9c0d']);
  });

  it('throws on a Graph failure by object id other than 404 (throttled: retryable; forbidden: not)', async () => {
    const client = connector();
    bot.failNext('graph', 503, 403);

    await expect(client.userById(DANA.aadObjectId)).rejects.toBeInstanceOf(TeamsTransientError);
    await expect(client.userById(DANA.aadObjectId)).rejects.toMatchObject({
      retryable: false,
      operation: 'graph-user',
      status: 403,
    });
  });
});

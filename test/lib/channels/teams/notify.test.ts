import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { APPROVE_VERB } from '#lib/channels/teams/cards.ts';
import { TeamsConnector } from '#lib/channels/teams/connector.ts';
import { notifyTeams, type TeamsNotifyDeps, TeamsNotifyIncompleteError } from '#lib/channels/teams/notify.ts';
import { STALE_CLAIM_SECONDS, TeamsState } from '#lib/channels/teams/state.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { Store } from '#lib/store/store.ts';
import { MemoryDirectory } from '../../../fixtures/slack/directory.ts';
import { BotFrameworkStandIn } from '../../../fixtures/teams/bot-framework.ts';
import { type LocalTable, startDynalite } from '../../../support/dynalite.ts';
import { aFlow, anIdentity, aRequest } from '../../../support/fixtures.ts';

const BOT = {
  appId: '6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a6b',
  appPassword: 'stand-in-client-secret',
  tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
};
const CHANNEL = '19:ops-approvals0123456789@thread.tacv2';
/** Entra object ids. approver-1 is linked in the directory (under another email in Teams); the others come from Graph. */
const AAD = {
  approver1: '0b6d1f7e-0001-4a2b-9c3d-5e6f7a8b9c0d',
  dba1: '0b6d1f7e-0002-4a2b-9c3d-5e6f7a8b9c0d',
  requester1: '0b6d1f7e-0003-4a2b-9c3d-5e6f7a8b9c0d',
  grantee1: '0b6d1f7e-0004-4a2b-9c3d-5e6f7a8b9c0d',
};

let table: LocalTable;
let bot: BotFrameworkStandIn;
let store: Store;
let state: TeamsState;
let directory: MemoryDirectory;
let deps: TeamsNotifyDeps;

function connector(appPassword = BOT.appPassword): TeamsConnector {
  return new TeamsConnector({
    appId: BOT.appId,
    tenantId: BOT.tenantId,
    appPassword: async () => appPassword,
    serviceUrl: bot.serviceUrl,
    loginUrl: bot.loginUrl,
    graphUrl: bot.graphUrl,
  });
}

beforeEach(async () => {
  table = await startDynalite();
  bot = (await BotFrameworkStandIn.start())
    .registerBot(BOT)
    .addChannel(CHANNEL)
    .addUser({ aadObjectId: AAD.approver1, email: 'a1.teams@example.com' })
    .addUser({ aadObjectId: AAD.dba1, email: 'dba-1@example.com' })
    .addUser({ aadObjectId: AAD.requester1, email: 'requester-1@example.com' })
    .addUser({ aadObjectId: AAD.grantee1, email: 'grantee-1@example.com' });
  store = new Store(table.doc, table.tableName);
  state = new TeamsState(table.doc, table.tableName);
  // dba-2 is inactive, dba-3 has no Teams account, requester-1 (in dba) may never approve their own request.
  directory = new MemoryDirectory()
    .addUser({ id: 'requester-1', email: 'requester-1@example.com' })
    .addUser({
      id: 'approver-1',
      email: 'approver-1@example.com',
      accounts: [{ kind: 'teams', aadObjectId: AAD.approver1 }],
    })
    .addUser({ id: 'dba-1', email: 'dba-1@example.com' })
    .addUser({ id: 'dba-2', email: 'dba-2@example.com', active: false })
    .addUser({ id: 'dba-3', email: 'dba-3@example.com' })
    .addGroup('dba', ['dba-1', 'dba-2', 'dba-3', 'requester-1']);
  deps = {
    connector: connector(),
    directory,
    state,
    store,
    graphLookup: true,
    apiUrl: 'https://stint.example.com',
  };
});

afterEach(async () => {
  await bot.stop();
  await table.stop();
});

async function created(overrides: Partial<AccessRequest> = {}): Promise<AccessRequest> {
  const request = aRequest({
    flow: aFlow({ teamsChannel: CHANNEL }),
    requester: anIdentity({ sub: 'requester-1' }),
    ...overrides,
  });
  await store.createRequest(request);
  return request;
}

const approved = (id: string) =>
  store.updateRequest(id, (r) => ({
    ...r,
    status: 'APPROVED',
    votes: [
      {
        by: 'approver-1',
        email: 'approver-1@example.com',
        vote: 'approve',
        channel: 'teams',
        at: r.createdAt,
        sets: [0],
      },
    ],
    decision: { outcome: 'approved', by: 'approver-1', channel: 'teams', at: r.createdAt },
  }));

const text = (value: unknown) => JSON.stringify(value);
const approverChat = (aad: string) => bot.personalConversation(aad);
/** The cards in every approval copy, as they read now. */
async function copies(requestId: string) {
  return (await state.record(requestId)).copies.map((c) => ({
    copy: c,
    cards: bot.cardsIn(c.conversationId).filter((card) => card.activityId === c.activityId),
  }));
}
const posts = () => bot.activities.filter((a) => a.method === 'POST');
const puts = () => bot.activities.filter((a) => a.method === 'PUT');

describe('notifyTeams: approval cards', () => {
  it('sends the card 1:1 to each eligible approver found in Teams and posts it to the flow channel, once', async () => {
    const request = await created();

    const first = await notifyTeams(deps, { type: 'request.created', requestId: request.id });
    // EventBridge may deliver the same event twice.
    const again = await notifyTeams(deps, { type: 'request.created', requestId: request.id });

    expect(first).toEqual({ posted: 3, updated: 0, notified: 0, skipped: 0 });
    expect(again.posted).toBe(0);
    expect(posts().map((p) => p.conversationId)).toEqual([
      approverChat(AAD.approver1),
      approverChat(AAD.dba1),
      ...bot.channelThreads(CHANNEL),
    ]);
    // approver-1 through the linked account, not Graph; dba-3 looked up and not found (again on the redelivery: only
    // those with a recorded copy are done); the requester is never asked.
    expect(bot.graphLookups).toEqual(['dba-1@example.com', 'dba-3@example.com', 'dba-3@example.com']);
    const dbaCard = text(bot.cardsIn(approverChat(AAD.dba1))[0]?.card);
    expect(dbaCard).toContain('You are asked because you are in group dba');
    expect(dbaCard).toContain(APPROVE_VERB);
    expect(dbaCard).toContain(`"requestId":"${request.id}"`);
    expect(dbaCard).toContain('investigating an incident');
    expect((await state.record(request.id)).copies.map((c) => [c.kind, c.approver ?? c.channel])).toEqual([
      ['approver', 'approver-1'],
      ['approver', 'dba-1'],
      ['channel', CHANNEL],
    ]);
  });

  it('links the Teams account Graph found to the directory user, so their click on the card maps to them', async () => {
    const request = await created();

    await notifyTeams(deps, { type: 'request.created', requestId: request.id });

    // dba-1 came from Graph and is linked; approver-1 was already linked; dba-3 is not in Teams.
    expect(directory.links).toEqual([{ userId: 'dba-1', account: { kind: 'teams', aadObjectId: AAD.dba1 } }]);
    expect((await directory.userByAccount({ kind: 'teams', aadObjectId: AAD.dba1 }))?.id).toBe('dba-1');
  });

  it('uses only linked Teams accounts when the Graph lookup is off', async () => {
    const request = await created();

    const result = await notifyTeams(
      { ...deps, graphLookup: false },
      { type: 'request.created', requestId: request.id },
    );

    expect(result.posted).toBe(2);
    expect(bot.graphLookups).toEqual([]);
    expect(posts().map((p) => p.conversationId)).toEqual([approverChat(AAD.approver1), ...bot.channelThreads(CHANNEL)]);
  });

  it('records what was sent and throws when the Connector is throttled; the retry sends only the missing card', async () => {
    const request = await created();
    bot.failNext('send', 429);

    const failed = await notifyTeams(deps, { type: 'request.created', requestId: request.id }).catch((e: unknown) => e);
    const recorded = (await state.record(request.id)).copies.map((c) => c.approver ?? c.channel);
    const retried = await notifyTeams(deps, { type: 'request.created', requestId: request.id });

    expect(failed).toBeInstanceOf(TeamsNotifyIncompleteError);
    expect(recorded).toEqual(['dba-1', CHANNEL]);
    expect(retried.posted).toBe(1);
    expect(posts().map((p) => p.conversationId)).toEqual([
      approverChat(AAD.dba1),
      ...bot.channelThreads(CHANNEL),
      approverChat(AAD.approver1),
    ]);
  });

  it('skips an approver who has not installed the bot, without failing the event', async () => {
    bot.addUser({ aadObjectId: '0b6d1f7e-0005-4a2b-9c3d-5e6f7a8b9c0d', email: 'dba-3@example.com', installed: false });
    const request = await created();

    const result = await notifyTeams(deps, { type: 'request.created', requestId: request.id });

    expect(result).toEqual({ posted: 3, updated: 0, notified: 0, skipped: 1 });
  });

  it('fails the event when the bot’s own credentials are refused, so it is retried and then dead-lettered', async () => {
    const request = await created();

    const failed = await notifyTeams(
      { ...deps, connector: connector('rotated-away') },
      { type: 'request.created', requestId: request.id },
    ).catch((e: unknown) => e);

    expect(failed).toBeInstanceOf(TeamsNotifyIncompleteError);
    expect(String(failed)).toContain('TeamsApiError');
    expect(bot.activities).toEqual([]);
    expect((await state.record(request.id)).copies).toEqual([]);
  });

  it('brings the cards up to date when the request is decided while they are being sent', async () => {
    const request = await created();
    const real = deps.connector;
    let decided = false;
    const racing: TeamsNotifyDeps = {
      ...deps,
      connector: {
        ...real,
        createPersonalConversation: (aad) => real.createPersonalConversation(aad),
        createChannelThread: (channel, activity) => real.createChannelThread(channel, activity),
        update: (conversation, activity, body) => real.update(conversation, activity, body),
        userIdByEmail: (email) => real.userIdByEmail(email),
        send: async (conversation, activity) => {
          const id = await real.send(conversation, activity);
          // approver-1 approves (through the API, say) as soon as their card arrives.
          if (!decided) {
            decided = true;
            await approved(request.id);
          }
          return id;
        },
      },
    };

    const result = await notifyTeams(racing, { type: 'request.created', requestId: request.id });

    expect(result).toMatchObject({ posted: 3, updated: 3 });
    for (const { cards } of await copies(request.id)) {
      expect(text(cards[0]?.card)).toContain('Approved by approver-1@example.com (teams)');
    }
  });

  it('asks nobody when the request was decided before its creation event arrived', async () => {
    const request = await created();
    await store.updateRequest(request.id, (r) => ({ ...r, status: 'CANCELLED' }));

    const result = await notifyTeams(deps, { type: 'request.created', requestId: request.id });

    expect(result.posted).toBe(0);
    expect(bot.activities).toEqual([]);
  });
});

describe('notifyTeams: updates and requester notices', () => {
  it('rewrites every copy to the decision and who made it, and tells the requester, once', async () => {
    const request = await created();
    await notifyTeams(deps, { type: 'request.created', requestId: request.id });
    await approved(request.id);

    const result = await notifyTeams(deps, { type: 'request.approved', requestId: request.id });
    const again = await notifyTeams(deps, { type: 'request.approved', requestId: request.id });

    expect(result).toEqual({ posted: 0, updated: 3, notified: 1, skipped: 0 });
    expect(again).toEqual({ posted: 0, updated: 0, notified: 0, skipped: 0 });
    for (const { cards } of await copies(request.id)) {
      expect(cards[0]?.updates).toBe(1);
      expect(text(cards[0]?.card)).toContain('**Approved by approver-1@example.com (teams)**');
      expect(text(cards[0]?.card)).not.toContain(APPROVE_VERB);
    }
    const notices = bot.cardsIn(approverChat(AAD.requester1));
    expect(notices).toHaveLength(1);
    expect(text(notices[0]?.card)).toContain(`Your access request ${request.id} was approved.`);
  });

  it('retries a failed update and a failed notice without repeating what worked', async () => {
    const request = await created();
    await notifyTeams(deps, { type: 'request.created', requestId: request.id });
    await approved(request.id);
    bot.failNext('update', 503).failNext('send', 503);

    const failed = await notifyTeams(deps, { type: 'request.approved', requestId: request.id }).catch(
      (e: unknown) => e,
    );
    const retried = await notifyTeams(deps, { type: 'request.approved', requestId: request.id });

    expect(failed).toBeInstanceOf(TeamsNotifyIncompleteError);
    expect(retried).toEqual({ posted: 0, updated: 1, notified: 1, skipped: 0 });
    // Each copy was replaced exactly once, and the requester got one notice.
    expect(
      puts()
        .map((p) => p.activityId)
        .sort(),
    ).toEqual((await state.record(request.id)).copies.map((c) => c.activityId).sort());
    expect(bot.cardsIn(approverChat(AAD.requester1))).toHaveLength(1);
  });

  it('tells the requester how to get the credentials when the grant is active', async () => {
    const request = await created();
    await store.updateRequest(request.id, (r) => ({ ...r, status: 'ACTIVE', expiresAt: '2030-01-15T11:00:00.000Z' }));

    await notifyTeams(deps, { type: 'grant.active', requestId: request.id });

    const notice = text(bot.cardsIn(approverChat(AAD.requester1))[0]?.card);
    expect(notice).toContain('is active until 2030-01-15T11:00:00.000Z');
    expect(notice).toContain(`GET https://stint.example.com/requests/${request.id}/access`);
    expect(notice).toContain(`stint access ${request.id}`);
  });

  it('shows the expiry on every copy and tells both requester and grantee that the access expired', async () => {
    const request = await created({ grantee: anIdentity({ sub: 'grantee-1' }) });
    await notifyTeams(deps, { type: 'request.created', requestId: request.id });
    await approved(request.id);
    await store.updateRequest(request.id, (r) => ({
      ...r,
      status: 'EXPIRED',
      endReason: 'expired',
      expiresAt: '2030-01-15T11:00:00.000Z',
      revokedAt: '2030-01-15T11:00:02.000Z',
    }));

    const result = await notifyTeams(deps, { type: 'grant.expired', requestId: request.id });

    expect(result).toEqual({ posted: 0, updated: 3, notified: 2, skipped: 0 });
    for (const { cards } of await copies(request.id)) {
      expect(text(cards[0]?.card)).toContain('Access expired at 2030-01-15T11:00:02.000Z.');
    }
    for (const aad of [AAD.requester1, AAD.grantee1]) {
      expect(text(bot.cardsIn(approverChat(aad))[0]?.card)).toContain(
        `Your access (request ${request.id}) has expired.`,
      );
    }
  });

  it('reminds once per expiry before the end, without rewriting the copies', async () => {
    const request = await created();
    await notifyTeams(deps, { type: 'request.created', requestId: request.id });
    await store.updateRequest(request.id, (r) => ({ ...r, status: 'ACTIVE', expiresAt: '2030-01-15T11:00:00.000Z' }));

    const first = await notifyTeams(deps, { type: 'grant.expiring', requestId: request.id });
    const redelivered = await notifyTeams(deps, { type: 'grant.expiring', requestId: request.id });
    await store.updateRequest(request.id, (r) => ({ ...r, expiresAt: '2030-01-15T12:00:00.000Z' }));
    const afterExtension = await notifyTeams(deps, { type: 'grant.expiring', requestId: request.id });

    expect([first.notified, redelivered.notified, afterExtension.notified]).toEqual([1, 0, 1]);
    expect(puts()).toEqual([]);
    expect(text(bot.cardsIn(approverChat(AAD.requester1)).at(-1)?.card)).toContain(
      'ends in 10 minutes until 2030-01-15T12:00:00.000Z',
    );
  });
});

describe('notifyTeams: each card and notice sent once (claims)', () => {
  const claimKey = (requestId: string, sk: string) => ({ pk: `TEAMS#${requestId}`, sk });
  const claimItem = async (requestId: string, sk: string) =>
    (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: claimKey(requestId, sk) }))).Item;
  const sentTo = () =>
    posts()
      .map((p) => p.conversationId)
      .sort();

  it('sends each card once when two deliveries of request.created run at the same time', async () => {
    const request = await created();

    const both = await Promise.allSettled([
      notifyTeams(deps, { type: 'request.created', requestId: request.id }),
      notifyTeams(deps, { type: 'request.created', requestId: request.id }),
    ]);
    // One that found the other sending fails, so it is retried; the retry finds every card sent.
    const retried = await notifyTeams(deps, { type: 'request.created', requestId: request.id });

    const failures = both.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    expect(failures.every((e) => e instanceof TeamsNotifyIncompleteError)).toBe(true);
    expect(retried.posted).toBe(0);
    expect(sentTo()).toEqual(
      [approverChat(AAD.approver1), approverChat(AAD.dba1), ...bot.channelThreads(CHANNEL)].sort(),
    );
    expect(bot.channelThreads(CHANNEL)).toHaveLength(1);
    // Every card is recorded once, where it was sent, so it can be updated later.
    const recorded = (await state.record(request.id)).copies;
    expect(recorded.map((c) => c.activityId).sort()).toEqual(
      posts()
        .map((p) => p.activityId)
        .sort(),
    );
  });

  it('sends a notice once when two deliveries of request.approved run at the same time', async () => {
    const request = await created({ flow: aFlow() });
    await approved(request.id);

    const both = await Promise.allSettled([
      notifyTeams(deps, { type: 'request.approved', requestId: request.id }),
      notifyTeams(deps, { type: 'request.approved', requestId: request.id }),
    ]);
    const retried = await notifyTeams(deps, { type: 'request.approved', requestId: request.id });

    expect(both.some((r) => r.status === 'fulfilled')).toBe(true);
    expect(retried.notified).toBe(0);
    const notices = bot.cardsIn(approverChat(AAD.requester1));
    expect(notices).toHaveLength(1);
    expect(text(notices[0]?.card)).toContain(`Your access request ${request.id} was approved.`);
  });

  it('gives a claim back when the send fails, and the retry sends it', async () => {
    const request = await created({ flow: aFlow() });
    await approved(request.id);
    bot.failNext('send', 503);

    const failed = await notifyTeams(deps, { type: 'request.approved', requestId: request.id }).catch(
      (e: unknown) => e,
    );
    const claimAfterFailure = await claimItem(request.id, 'NOTICE#approved#requester-1');
    const retried = await notifyTeams(deps, { type: 'request.approved', requestId: request.id });

    expect(failed).toBeInstanceOf(TeamsNotifyIncompleteError);
    expect(claimAfterFailure).toBeUndefined();
    expect(retried.notified).toBe(1);
    expect(bot.cardsIn(approverChat(AAD.requester1))).toHaveLength(1);
    expect(await claimItem(request.id, 'NOTICE#approved#requester-1')).toMatchObject({
      entity: 'teams-notice',
      state: 'sent',
    });
  });

  it('takes over a claim left by a delivery that died, but not one that is still fresh', async () => {
    const request = await created();
    const claim = (claimedAt: number) =>
      table.doc.send(
        new PutCommand({
          TableName: table.tableName,
          Item: {
            ...claimKey(request.id, 'COPY#approver#approver-1'),
            entity: 'teams-copy',
            state: 'sending',
            claimedAt,
            ttl: Math.floor(claimedAt / 1000) + 3600,
          },
        }),
      );
    await claim(Date.now());

    const blocked = await notifyTeams(deps, { type: 'request.created', requestId: request.id }).catch(
      (e: unknown) => e,
    );
    const sentWhileFresh = sentTo();
    await claim(Date.now() - STALE_CLAIM_SECONDS * 1000 - 1000);
    const takenOver = await notifyTeams(deps, { type: 'request.created', requestId: request.id });

    expect(blocked).toBeInstanceOf(TeamsNotifyIncompleteError);
    expect(sentWhileFresh).not.toContain(approverChat(AAD.approver1));
    expect(sentWhileFresh).toHaveLength(2);
    expect(takenOver.posted).toBe(1);
    expect(posts().filter((p) => p.conversationId === approverChat(AAD.approver1))).toHaveLength(1);
    expect((await state.record(request.id)).copies.map((c) => c.approver ?? c.channel)).toEqual([
      'approver-1',
      'dba-1',
      CHANNEL,
    ]);
  });

  it('never sends a card again when recording it failed after the send; the claim stays until it is stale', async () => {
    const request = await created({ flow: aFlow() });
    const failing: TeamsNotifyDeps = {
      ...deps,
      state: {
        record: (id) => state.record(id),
        claimSend: (id, message, now) => state.claimSend(id, message, now),
        releaseSend: (id, message) => state.releaseSend(id, message),
        markRendered: (id, copy, version) => state.markRendered(id, copy, version),
        markNoticeSent: (id, notice, now) => state.markNoticeSent(id, notice, now),
        markCopySent: async () => {
          throw new Error('DynamoDB is unavailable');
        },
      },
    };

    const first = await notifyTeams(failing, { type: 'request.created', requestId: request.id });
    const redelivered = await notifyTeams(deps, { type: 'request.created', requestId: request.id }).catch(
      (e: unknown) => e,
    );

    expect(first.posted).toBe(2);
    expect(redelivered).toBeInstanceOf(TeamsNotifyIncompleteError);
    expect(sentTo()).toEqual([approverChat(AAD.approver1), approverChat(AAD.dba1)].sort());
  });

  it('counts a notice recorded before claims existed (no state) as sent', async () => {
    const request = await created({ flow: aFlow() });
    await approved(request.id);
    await table.doc.send(
      new PutCommand({
        TableName: table.tableName,
        Item: { ...claimKey(request.id, 'NOTICE#approved#requester-1'), entity: 'teams-notice', ttl: 2000000000 },
      }),
    );

    const result = await notifyTeams(deps, { type: 'request.approved', requestId: request.id });
    const claimed = await state.claimSend(request.id, { notice: 'approved#requester-1' }, new Date());

    expect(result.notified).toBe(0);
    expect(claimed).toBe('sent');
    expect(bot.cardsIn(approverChat(AAD.requester1))).toEqual([]);
  });
});

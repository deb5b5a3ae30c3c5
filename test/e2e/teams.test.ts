import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { APPROVE_VERB } from '#lib/channels/teams/cards.ts';
import { NOT_KNOWN, OTHER_TENANT } from '#lib/channels/teams/invoke.ts';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { BotFrameworkStandIn } from '../fixtures/teams/bot-framework.ts';
import { call, until } from '../support/http.ts';

/**
 * Teams approvals end to end on the local runtime, the whole lifecycle: the Microsoft stand-in (Bot Framework token
 * issuer, Entra token endpoint, Bot Connector, Graph) on one local server; people from SCIM; the request over HTTP;
 * the approval card sent 1:1 to the approver by the notify function (an EventBridge target); a signed
 * `adaptiveCard/action` invoke on `/webhooks/teams` approves (its answer carries the updated card); the grant; the
 * requester's "active" notice (found in Graph by email); the grant expiring after its minute; the approver's card
 * rewritten to say so, and the requester's "expired" notice.
 *
 * The approver's Teams account (Entra object id) is linked through the directory admin route; Carol's is not: her
 * click is mapped through Graph (her object id → her email → the directory) and her account linked.
 */
const APP_ID = '6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a6b';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const APP_PASSWORD = 'e2e-teams-client-secret';
const ALICE = { sub: 'alice-teams', email: 'alice.teams@example.com', aad: '0b6d1f7e-1111-4a2b-9c3d-5e6f7a8b9c0d' };
const BOB = { sub: 'bob-teams', email: 'bob.teams@example.com', aad: '0b6d1f7e-2222-4a2b-9c3d-5e6f7a8b9c0d' };
const CAROL = { sub: 'carol-teams', email: 'carol.teams@example.com', aad: '0b6d1f7e-3333-4a2b-9c3d-5e6f7a8b9c0d' };
const STRANGER = { aad: '0b6d1f7e-ffff-4a2b-9c3d-5e6f7a8b9c0d' };

let stint: Stint;
let bot: BotFrameworkStandIn;

beforeAll(async () => {
  bot = (await BotFrameworkStandIn.start())
    .registerBot({ appId: APP_ID, appPassword: APP_PASSWORD, tenantId: TENANT_ID })
    // Bob is found by his linked account, Alice by Graph (her email): neither needs the other way.
    .addUser({ aadObjectId: BOB.aad, email: 'bob@teams-only.example.com' })
    .addUser({ aadObjectId: ALICE.aad, email: ALICE.email })
    .addUser({ aadObjectId: CAROL.aad, email: CAROL.email });
  const dir = await clusterParentDir('stint-e2e-teams');
  stint = await startStint({
    pgDataDir: join(dir, 'pg'),
    pgPort: await freePort(),
    port: await freePort(),
    env: { E2E_TEAMS_APP_PASSWORD: APP_PASSWORD },
    config: {
      teams: {
        appId: APP_ID,
        openIdMetadataUrl: bot.openIdMetadataUrl,
        tenantId: TENANT_ID,
        appPasswordRef: 'env:E2E_TEAMS_APP_PASSWORD',
        serviceUrl: bot.serviceUrl,
        loginUrl: bot.loginUrl,
        graphUrl: bot.graphUrl,
      },
    },
  });
}, 180_000);

afterAll(async () => {
  await stint?.stop();
  await bot?.stop();
});

async function scim(method: string, path: string, body: unknown) {
  return call(stint.url, method, `/scim/v2${path}`, {
    body,
    headers: { authorization: `Bearer ${stint.scimToken}`, 'content-type': 'application/scim+json' },
  });
}

/** What the Connector POSTs when someone clicks Approve on Stint's card. */
function clickOn(requestId: string, who: { aad: string }, tenantId = TENANT_ID) {
  return {
    type: 'invoke',
    name: 'adaptiveCard/action',
    channelId: 'msteams',
    serviceUrl: BotFrameworkStandIn.SERVICE_URL,
    from: { id: `29:${who.aad}`, aadObjectId: who.aad },
    conversation: { id: `a:personal-${who.aad}`, conversationType: 'personal', tenantId },
    channelData: { tenant: { id: tenantId } },
    value: { action: { type: 'Action.Execute', verb: APPROVE_VERB, data: { requestId } } },
  };
}

const InvokeAnswer = z.object({
  statusCode: z.literal(200),
  type: z.literal('application/vnd.microsoft.card.adaptive'),
  value: z.object({ type: z.literal('AdaptiveCard'), body: z.array(z.unknown()) }),
});

/** The cards in a 1:1 chat with the bot, as they read now. */
const chatWith = (who: { aad: string }) => async () => bot.cardsIn(bot.personalConversation(who.aad));
const says = (card: { card: unknown } | undefined, text: string) => JSON.stringify(card?.card ?? '').includes(text);

describe('Teams approval through the local runtime', () => {
  it('sends the card, verifies the signed click, grants, notifies the requester, and shows the expiry', async () => {
    const ids: Record<string, string> = {};
    for (const person of [ALICE, BOB, CAROL]) {
      const created = await scim('POST', '/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: person.email,
        externalId: person.sub,
        emails: [{ value: person.email, primary: true, type: 'work' }],
        active: true,
      });
      expect(created.status).toBe(201);
      ids[person.sub] = z.object({ id: z.string() }).parse(created.json).id;
    }
    expect(
      (
        await scim('POST', '/Groups', {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
          displayName: 'dba',
          members: [{ value: BOB.sub }],
        })
      ).status,
    ).toBe(201);
    const admin = await stint.token({ sub: 'admin-teams', email: 'admin.teams@example.com', groups: ['stint-admins'] });
    const linked = await call(stint.url, 'PUT', `/directory/users/${ids[BOB.sub] ?? ''}/accounts`, {
      token: admin,
      body: { accounts: [{ kind: 'teams', aadObjectId: BOB.aad }] },
    });
    expect(linked.status, linked.text).toBe(200);

    const token = await stint.token({ sub: ALICE.sub, email: ALICE.email, groups: [] });
    const created = await call(stint.url, 'POST', '/requests', {
      token,
      body: { flowId: 'demo-admin', durationMinutes: 1, justification: 'fix order 44' },
    });
    expect(created.status).toBe(201);
    const { id } = z.object({ id: z.string() }).parse(created.json);

    // The notify function sends Bob (an approver through group dba) the card in his 1:1 chat with the bot.
    const [approvalCard] = await until(chatWith(BOB), (cards) => cards.length === 1);
    expect(says(approvalCard, APPROVE_VERB)).toBe(true);
    expect(says(approvalCard, `"requestId":"${id}"`)).toBe(true);
    expect(says(approvalCard, 'You are asked because you are in group dba')).toBe(true);
    expect(says(approvalCard, 'fix order 44')).toBe(true);
    // Connector calls carried a token the stand-in issued for the bot's own credentials and tenant.
    expect(bot.tokenRequests).toContainEqual({ tenant: TENANT_ID, scope: 'https://api.botframework.com/.default' });

    const post = async (activity: unknown, bearer: string) =>
      call(stint.url, 'POST', '/webhooks/teams', {
        body: activity,
        headers: { authorization: `Bearer ${bearer}` },
      });

    // A token for another bot, and one signed with a key the metadata does not publish: refused before anything.
    const otherBot = await bot.token({ appId: '00000000-0000-4000-8000-000000000000', now: new Date() });
    const wrongAudience = await post(clickOn(id, BOB), otherBot);
    expect(wrongAudience.status).toBe(401);
    expect(wrongAudience.json).toEqual({ error: 'wrong-audience' });
    const rogue = await bot.token({ appId: APP_ID, now: new Date() }, { key: 'rogue' });
    expect((await post(clickOn(id, BOB), rogue)).status).toBe(401);

    // Someone Graph does not know: told so on the card, no vote.
    const unknown = await post(clickOn(id, STRANGER), await bot.token({ appId: APP_ID, now: new Date() }));
    expect(unknown.status).toBe(200);
    expect(unknown.text).toContain(NOT_KNOWN);
    // Carol (not linked) is found through Graph by her object id, and refused as no approver; her account is linked.
    const carol = await post(clickOn(id, CAROL), await bot.token({ appId: APP_ID, now: new Date() }));
    expect(carol.text).toContain('Not recorded: you are not an approver of this request.');
    expect(bot.graphLookups).toEqual([STRANGER.aad, CAROL.aad]);
    const carolUser = await call(stint.url, 'GET', `/directory/users/${ids[CAROL.sub] ?? ''}`, { token: admin });
    expect(JSON.stringify(carolUser.json)).toContain(CAROL.aad);
    // Bob, from another tenant's conversation: refused before anything.
    const elsewhere = await post(
      clickOn(id, BOB, '0f0e0d0c-0b0a-4909-8807-060504030201'),
      await bot.token({ appId: APP_ID, now: new Date() }),
    );
    expect(elsewhere.text).toContain(OTHER_TENANT);

    const answer = await post(clickOn(id, BOB), await bot.token({ appId: APP_ID, now: new Date() }));
    expect(answer.status, answer.text).toBe(200);
    const card = InvokeAnswer.parse(answer.json).value;
    const cardText = JSON.stringify(card);
    expect(cardText).toContain('Approved: Stint is granting the access.');
    expect(cardText).toContain(BOB.email);
    expect(cardText).not.toContain(APPROVE_VERB);

    const active = await until(
      () => call(stint.url, 'GET', `/requests/${id}`, { token }),
      (r) => z.object({ status: z.string() }).parse(r.json).status === 'ACTIVE',
    );
    const request = z
      .object({ votes: z.array(z.object({ by: z.string(), vote: z.string(), channel: z.string() })) })
      .parse(active.json);
    expect(request.votes).toEqual([expect.objectContaining({ by: BOB.sub, vote: 'approve', channel: 'teams' })]);
    expect(bot.metadataRequests).toContain('/v1/.well-known/openidconfiguration');

    // Alice (no linked account: found in Graph by her email) is told her access is active and how to get it.
    const notices = await until(chatWith(ALICE), (cards) => cards.some((c) => says(c, 'is active until')));
    expect(
      says(
        notices.find((c) => says(c, 'is active until')),
        `stint access ${id}`,
      ),
    ).toBe(true);
    expect(bot.graphLookups).toContain(ALICE.email);

    // The grant expires after its minute: Bob's copy of the card is rewritten, and Alice is told.
    const [expiredCard] = await until(chatWith(BOB), (cards) => says(cards[0], 'Access expired'));
    expect(expiredCard?.activityId).toBe(approvalCard?.activityId);
    expect(says(expiredCard, `Approved by ${BOB.email} (teams)`)).toBe(true);
    expect(says(expiredCard, APPROVE_VERB)).toBe(false);
    await until(chatWith(ALICE), (cards) => cards.some((c) => says(c, `Your access (request ${id}) has expired.`)));
    const final = await call(stint.url, 'GET', `/requests/${id}`, { token });
    expect(z.object({ status: z.string() }).parse(final.json).status).toBe('EXPIRED');
    // Every card was sent once: Bob's one approval card, and one notice per event for Alice (approved, active, expired).
    expect((await chatWith(BOB)()).length).toBe(1);
    expect((await chatWith(ALICE)()).length).toBe(3);
  }, 300_000);
});

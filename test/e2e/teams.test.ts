import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { APPROVE_VERB } from '#lib/channels/teams/cards.ts';
import { NOT_KNOWN } from '#lib/channels/teams/invoke.ts';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { BotFrameworkStandIn } from '../fixtures/teams/bot-framework.ts';
import { call, until } from '../support/http.ts';

/**
 * Teams approvals end to end on the local runtime: the Bot Framework stand-in publishes the OpenID metadata and signs
 * Connector tokens; people come from SCIM; a signed `adaptiveCard/action` invoke on `/webhooks/teams` approves, and
 * the invoke's answer carries the updated card.
 */
const APP_ID = '6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a6b';
const ALICE = { sub: 'alice-teams', email: 'alice.teams@example.com', aad: '0b6d1f7e-1111-4a2b-9c3d-5e6f7a8b9c0d' };
const BOB = { sub: 'bob-teams', email: 'bob.teams@example.com', aad: '0b6d1f7e-2222-4a2b-9c3d-5e6f7a8b9c0d' };

let stint: Stint;
let bot: BotFrameworkStandIn;

beforeAll(async () => {
  bot = await BotFrameworkStandIn.start();
  const dir = await clusterParentDir('stint-e2e-teams');
  stint = await startStint({
    pgDataDir: join(dir, 'pg'),
    pgPort: await freePort(),
    port: await freePort(),
    config: { teams: { appId: APP_ID, openIdMetadataUrl: bot.openIdMetadataUrl } },
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
function clickOn(requestId: string, who: { aad: string }) {
  return {
    type: 'invoke',
    name: 'adaptiveCard/action',
    channelId: 'msteams',
    serviceUrl: BotFrameworkStandIn.SERVICE_URL,
    from: { id: `29:${who.aad}`, aadObjectId: who.aad },
    value: { action: { type: 'Action.Execute', verb: APPROVE_VERB, data: { requestId } } },
  };
}

const InvokeAnswer = z.object({
  statusCode: z.literal(200),
  type: z.literal('application/vnd.microsoft.card.adaptive'),
  value: z.object({ type: z.literal('AdaptiveCard'), body: z.array(z.unknown()) }),
});

describe('Teams approval through the local runtime', () => {
  it('verifies the Bot Framework token, maps the aadObjectId, approves and answers with the updated card', async () => {
    const ids: Record<string, string> = {};
    for (const person of [ALICE, BOB]) {
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
      body: { flowId: 'demo-admin', durationMinutes: 5, justification: 'fix order 44' },
    });
    expect(created.status).toBe(201);
    const { id } = z.object({ id: z.string() }).parse(created.json);

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

    // Alice's Teams account is linked to nobody: told so on the card, no vote.
    const unknown = await post(clickOn(id, ALICE), await bot.token({ appId: APP_ID, now: new Date() }));
    expect(unknown.status).toBe(200);
    expect(unknown.text).toContain(NOT_KNOWN);

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
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BotFrameworkAuth } from '#lib/channels/teams/auth.ts';
import { APPROVE_VERB, REFRESH_VERB, REJECT_VERB } from '#lib/channels/teams/cards.ts';
import { TeamsConnector } from '#lib/channels/teams/connector.ts';
import {
  handleTeamsActivity,
  LOOKUP_FAILED,
  NOT_KNOWN,
  OTHER_TENANT,
  type TeamsActivityDeps,
} from '#lib/channels/teams/invoke.ts';
import type { AccessFlow } from '#lib/domain/flow.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { RequestService } from '#lib/services/requests.ts';
import { Store } from '#lib/store/store.ts';
import { MemoryDirectory } from '../../../fixtures/slack/directory.ts';
import { BotFrameworkStandIn } from '../../../fixtures/teams/bot-framework.ts';
import { type LocalTable, startDynalite } from '../../../support/dynalite.ts';
import { aFlow, anIdentity, aRequest } from '../../../support/fixtures.ts';
import { RecordingExecutions } from '../../../support/recording-executions.ts';
import { ROLES, TestClock } from '../../../support/services.ts';

const APP_ID = '6f1c2a4e-1b2c-4d3e-8f90-a1b2c3d4e5f6';
const NOW = '2030-01-15T10:00:00.000Z';
const BOT = { appId: APP_ID, appPassword: 'stand-in-client-secret', tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' };
const OTHER_TENANT_ID = '0f0e0d0c-0b0a-4909-8807-060504030201';
const AAD = {
  requester: '00000000-0000-4000-8000-000000000001',
  approver: '00000000-0000-4000-8000-000000000002',
  dba1: '00000000-0000-4000-8000-000000000003',
  dba2: '00000000-0000-4000-8000-000000000004',
  mallory: '00000000-0000-4000-8000-000000000005',
  stranger: '00000000-0000-4000-8000-0000000000ff',
  /** In Graph and in the directory, no linked Teams account. */
  dba3: '00000000-0000-4000-8000-000000000006',
  /** In Graph without a mailbox (mail null): known by user principal name. */
  dba4: '00000000-0000-4000-8000-000000000007',
  /** In Graph, but the directory has nobody with that email. */
  outsider: '00000000-0000-4000-8000-000000000008',
  /** In Graph and in the directory, but deactivated there. */
  leaver: '00000000-0000-4000-8000-000000000009',
  /** In Graph with dba-1's email, though dba-1 is linked to another Teams account. */
  twin: '00000000-0000-4000-8000-00000000000a',
};

let table: LocalTable;
let bot: BotFrameworkStandIn;
let store: Store;
let executions: RecordingExecutions;
let clock: TestClock;
let deps: TeamsActivityDeps;
let directory: MemoryDirectory;

const quorumFlow = aFlow({
  id: 'db-quorum',
  approval: {
    mode: 'manual',
    sets: [{ users: [], groups: ['dba'] }],
    rule: { type: 'quorum', count: 2 },
    timeoutMinutes: 60,
    reasonRequired: false,
  },
});

const teams = (aadObjectId: string) => [{ kind: 'teams' as const, aadObjectId }];

beforeEach(async () => {
  table = await startDynalite();
  bot = (await BotFrameworkStandIn.start())
    .registerBot(BOT)
    .addUser({ aadObjectId: AAD.dba3, email: 'dba-3@example.com' })
    .addUser({ aadObjectId: AAD.dba4, email: 'dba-4@example.com', mail: null })
    .addUser({ aadObjectId: AAD.outsider, email: 'outsider@partner.example' })
    .addUser({ aadObjectId: AAD.leaver, email: 'leaver@example.com' });
  clock = new TestClock(NOW);
  store = new Store(table.doc, table.tableName, { now: clock.now });
  executions = new RecordingExecutions();
  directory = new MemoryDirectory()
    .addUser({ id: 'requester-1', email: 'requester-1@example.com', accounts: teams(AAD.requester) })
    .addUser({ id: 'approver-1', email: 'approver-1@example.com', accounts: teams(AAD.approver) })
    .addUser({ id: 'dba-1', email: 'dba-1@example.com', accounts: teams(AAD.dba1) })
    .addUser({ id: 'dba-2', email: 'dba-2@example.com', accounts: teams(AAD.dba2) })
    .addUser({ id: 'mallory', email: 'mallory@example.com', accounts: teams(AAD.mallory) })
    .addUser({ id: 'dba-3', email: 'dba-3@example.com' })
    .addUser({ id: 'dba-4', email: 'dba-4@example.com' })
    .addUser({ id: 'leaver', email: 'leaver@example.com', active: false })
    .addGroup('dba', ['dba-1', 'dba-2', 'dba-3', 'dba-4', 'leaver']);
  deps = {
    auth: new BotFrameworkAuth({ appId: APP_ID, openIdMetadataUrl: bot.openIdMetadataUrl, now: clock.now }),
    directory,
    requests: new RequestService({ store, executions, roles: ROLES, now: clock.now }),
    store,
    tenantId: BOT.tenantId,
    graphLookup: true,
    connector: new TeamsConnector({
      appId: BOT.appId,
      tenantId: BOT.tenantId,
      appPassword: async () => BOT.appPassword,
      serviceUrl: bot.serviceUrl,
      loginUrl: bot.loginUrl,
      graphUrl: bot.graphUrl,
      now: clock.now,
    }),
  };
});

afterEach(async () => {
  await bot.stop();
  await table.stop();
});

async function pending(flow: AccessFlow = aFlow(), token = 'approval-token'): Promise<AccessRequest> {
  const request = aRequest({ flow, approvalToken: token, requester: anIdentity({ sub: 'requester-1' }) });
  await store.createRequest(request);
  executions.live(token);
  return request;
}

function invoke(
  aadObjectId: string | undefined,
  requestId: string,
  verb = APPROVE_VERB,
  reason?: string,
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    type: 'invoke',
    name: 'adaptiveCard/action',
    channelId: 'msteams',
    serviceUrl: BotFrameworkStandIn.SERVICE_URL,
    from: { id: `29:${aadObjectId ?? 'anon'}`, ...(aadObjectId === undefined ? {} : { aadObjectId }) },
    conversation: { id: 'a:conversation' },
    value: {
      action: {
        type: 'Action.Execute',
        verb,
        data: { requestId, ...(reason === undefined ? {} : { reason }) },
      },
      trigger: 'manual',
    },
    ...extra,
  });
}

async function call(rawBody: string, token?: string) {
  const bearer = token ?? (await bot.token({ appId: APP_ID, now: clock.now() }));
  return handleTeamsActivity(deps, { headers: { Authorization: `Bearer ${bearer}` }, rawBody });
}

type Answer = { statusCode: number; type: string; value: { body: { type: string; text?: string }[] } };
function answer(response: { body?: string }): Answer {
  return JSON.parse(response.body ?? '{}');
}
function texts(response: { body?: string }): string[] {
  return answer(response).value.body.flatMap((e) => (typeof e.text === 'string' ? [e.text] : []));
}
function actionsOf(response: { body?: string }): string[] {
  const card = JSON.parse(response.body ?? '{}').value;
  return (card.actions ?? []).map((a: { verb: string }) => a.verb);
}
async function votesOf(id: string) {
  return (await store.getRequest(id))?.votes ?? [];
}

describe('Bot Framework token', () => {
  const cases: [string, () => Promise<string | undefined>, string][] = [
    ['the wrong audience', () => bot.token({ appId: 'another-bot', now: clock.now() }), 'wrong-audience'],
    [
      'the wrong issuer',
      () => bot.token({ appId: APP_ID, now: clock.now() }, { claims: { iss: 'https://evil.example.com' } }),
      'wrong-issuer',
    ],
    [
      'an expired token (beyond the 5-minute skew)',
      () => bot.token({ appId: APP_ID, now: new Date(Date.parse(NOW) - 2 * 3600_000) }, { expiresInSeconds: 3600 }),
      'expired',
    ],
    [
      'a key the metadata does not publish',
      () => bot.token({ appId: APP_ID, now: clock.now() }, { key: 'rogue' }),
      'unknown-key',
    ],
    [
      'a forged signature under the published key id',
      () => bot.token({ appId: APP_ID, now: clock.now() }, { key: 'rogue-same-kid' }),
      'bad-token',
    ],
    [
      'a serviceUrl claim other than the activity’s',
      () => bot.token({ appId: APP_ID, now: clock.now(), serviceUrl: 'https://evil.example.com/' }),
      'service-url-mismatch',
    ],
  ];
  for (const [name, token, reason] of cases) {
    it(`refuses ${name} with 401 and records no vote`, async () => {
      const request = await pending();
      const response = await call(invoke(AAD.approver, request.id), await token());
      expect(response.status).toBe(401);
      expect(JSON.parse(response.body ?? '{}')).toEqual({ error: reason });
      expect(await votesOf(request.id)).toEqual([]);
      expect(executions.resumes).toEqual([]);
    });
  }

  it('refuses an activity without an Authorization header', async () => {
    const request = await pending();
    const response = await handleTeamsActivity(deps, { headers: {}, rawBody: invoke(AAD.approver, request.id) });
    expect(response.status).toBe(401);
    expect(JSON.parse(response.body ?? '{}')).toEqual({ error: 'missing-token' });
    expect(await votesOf(request.id)).toEqual([]);
  });

  it('refuses a token with alg none', async () => {
    const request = await pending();
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({
        iss: 'https://api.botframework.com',
        aud: APP_ID,
        exp: Date.parse(NOW) / 1000 + 600,
        serviceUrl: BotFrameworkStandIn.SERVICE_URL,
      }),
    ).toString('base64url');
    const response = await call(invoke(AAD.approver, request.id), `${header}.${payload}.`);
    expect(response.status).toBe(401);
    expect(await votesOf(request.id)).toEqual([]);
  });

  it('accepts a token expired less than 5 minutes ago (clock skew) and fetches the metadata once', async () => {
    const request = await pending(quorumFlow);
    const skewed = await bot.token({ appId: APP_ID, now: new Date(Date.parse(NOW) - 3600_000 - 60_000) });
    expect((await call(invoke(AAD.dba1, request.id), skewed)).status).toBe(200);
    expect((await call(invoke(AAD.dba2, request.id))).status).toBe(200);
    expect((await votesOf(request.id)).map((v) => v.by)).toEqual(['dba-1', 'dba-2']);
    expect(bot.metadataRequests.filter((p) => p.endsWith('openidconfiguration'))).toHaveLength(1);
  });
});

describe('who clicked', () => {
  it('approves, resumes the workflow once and answers with the updated card', async () => {
    const request = await pending();
    const response = await call(invoke(AAD.approver, request.id));
    expect(response.status).toBe(200);
    expect(answer(response)).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
    expect(texts(response)).toContain('**Approved by approver-1@example.com (teams)**');
    expect(actionsOf(response)).toEqual([]);
    const after = await store.getRequest(request.id);
    expect(after?.status).toBe('APPROVED');
    expect(after?.decision).toMatchObject({ outcome: 'approved', by: 'approver-1', channel: 'teams' });
    expect(executions.resumes).toEqual([{ token: 'approval-token', live: true }]);
  });

  it('rejects with the reason typed into the card', async () => {
    const request = await pending();
    const response = await call(invoke(AAD.approver, request.id, REJECT_VERB, 'not during the freeze'));
    expect(texts(response)).toContain('**Rejected by approver-1@example.com (teams) — “not during the freeze”**');
    expect((await store.getRequest(request.id))?.decision).toMatchObject({
      outcome: 'rejected',
      reason: 'not during the freeze',
    });
    expect(executions.fails.map((f) => f.error)).toEqual(['Rejected']);
  });

  it('tells a Teams user linked to no Stint identity so, and records nothing', async () => {
    const request = await pending();
    const response = await call(invoke(AAD.stranger, request.id));
    expect(response.status).toBe(200);
    expect(texts(response)).toContain(NOT_KNOWN);
    expect(actionsOf(response)).toEqual([APPROVE_VERB, REJECT_VERB]);
    expect(await votesOf(request.id)).toEqual([]);
  });

  it('tells a user without an aadObjectId (not an Entra ID user) that they are not known', async () => {
    const request = await pending();
    const response = await call(invoke(undefined, request.id));
    expect(texts(response)).toContain(NOT_KNOWN);
    expect(await votesOf(request.id)).toEqual([]);
  });

  it('refuses the requester approving their own request, with the reason in the card', async () => {
    const request = await pending();
    const response = await call(invoke(AAD.requester, request.id));
    expect(texts(response)).toContain('Not recorded: requesters cannot approve their own request.');
    expect(await votesOf(request.id)).toEqual([]);
    expect(executions.resumes).toEqual([]);
  });

  it('refuses a non-approver, with the reason in the card', async () => {
    const request = await pending();
    const response = await call(invoke(AAD.mallory, request.id));
    expect(texts(response)).toContain('Not recorded: you are not an approver of this request.');
    expect(await votesOf(request.id)).toEqual([]);
  });

  it('answers a card refresh with the current card and records nothing', async () => {
    const request = await pending();
    const response = await call(invoke(AAD.mallory, request.id, REFRESH_VERB));
    expect(actionsOf(response)).toEqual([APPROVE_VERB, REJECT_VERB]);
    expect(await votesOf(request.id)).toEqual([]);
  });

  it('acknowledges other activities without acting on them', async () => {
    const request = await pending();
    const message = JSON.stringify({ type: 'message', text: 'approve', serviceUrl: BotFrameworkStandIn.SERVICE_URL });
    const response = await call(message);
    expect(response).toEqual({ status: 200 });
    expect(await votesOf(request.id)).toEqual([]);
  });
});

describe('exactly the right votes', () => {
  it('counts a double click once and shows the duplicate', async () => {
    const request = await pending();
    const [a, b] = await Promise.all([call(invoke(AAD.approver, request.id)), call(invoke(AAD.approver, request.id))]);
    expect((await votesOf(request.id)).map((v) => v.by)).toEqual(['approver-1']);
    expect(executions.resumes).toHaveLength(1);
    const notices = [...texts(a), ...texts(b)].filter((t) => t.startsWith('Approved:') || t.startsWith('Your '));
    expect(notices.sort()).toEqual([
      'Approved: Stint is granting the access.',
      'Your approve was already recorded; nothing changed.',
    ]);
  });

  it('decides a quorum of 2 once when two approvers click at once', async () => {
    const request = await pending(quorumFlow);
    await Promise.all([call(invoke(AAD.dba1, request.id)), call(invoke(AAD.dba2, request.id))]);
    const after = await store.getRequest(request.id);
    expect(after?.votes.map((v) => v.by).sort()).toEqual(['dba-1', 'dba-2']);
    expect(after?.status).toBe('APPROVED');
    expect(executions.resumes).toEqual([{ token: 'approval-token', live: true }]);
    expect(executions.fails).toEqual([]);
  });
});

describe('who clicked, without a linked Teams account (Microsoft Graph)', () => {
  it('finds the clicker by the email Graph reports, records the vote and links the account', async () => {
    const request = await pending(quorumFlow);

    const response = await call(invoke(AAD.dba3, request.id));

    expect(texts(response)).toContain('Your approval was recorded; more approvals are needed.');
    expect((await votesOf(request.id)).map((v) => ({ by: v.by, channel: v.channel }))).toEqual([
      { by: 'dba-3', channel: 'teams' },
    ]);
    expect(directory.links).toEqual([{ userId: 'dba-3', account: { kind: 'teams', aadObjectId: AAD.dba3 } }]);
    expect(bot.graphLookups).toEqual([AAD.dba3]);
    expect(bot.tokenRequests).toEqual([{ tenant: BOT.tenantId, scope: 'https://graph.microsoft.com/.default' }]);
  });

  it('uses the linked account on the next click, without asking Graph again', async () => {
    const request = await pending(quorumFlow);
    await call(invoke(AAD.dba3, request.id));

    const again = await call(invoke(AAD.dba3, request.id));

    expect(texts(again)).toContain('Your approve was already recorded; nothing changed.');
    expect(bot.graphLookups).toEqual([AAD.dba3]);
  });

  it('falls back to the user principal name when Graph has no mail for the user', async () => {
    const request = await pending(quorumFlow);
    await call(invoke(AAD.dba4, request.id));
    expect((await votesOf(request.id)).map((v) => v.by)).toEqual(['dba-4']);
  });

  it('still records the vote when linking the account fails', async () => {
    const request = await pending(quorumFlow);
    directory.linkAccount = async () => {
      throw new Error('conflict');
    };
    const response = await call(invoke(AAD.dba3, request.id));
    expect(texts(response)).toContain('Your approval was recorded; more approvals are needed.');
    expect((await votesOf(request.id)).map((v) => v.by)).toEqual(['dba-3']);
  });

  const unknown: [string, string][] = [
    ['a user Graph does not know', AAD.stranger],
    ['a Graph user whose email is in no directory user', AAD.outsider],
    ['a Graph user whose directory user is inactive', AAD.leaver],
  ];
  for (const [name, aad] of unknown) {
    it(`tells ${name} they are not known, records nothing and links nothing`, async () => {
      const request = await pending(quorumFlow);
      const response = await call(invoke(aad, request.id));
      expect(texts(response)).toContain(NOT_KNOWN);
      expect(await votesOf(request.id)).toEqual([]);
      expect(directory.links).toEqual([]);
      expect(bot.graphLookups).toEqual([aad]);
    });
  }

  it('does not trust the email of someone already linked to another Teams account', async () => {
    const request = await pending(quorumFlow);
    bot.addUser({ aadObjectId: AAD.twin, email: 'dba-1@example.com' });
    const response = await call(invoke(AAD.twin, request.id));
    expect(texts(response)).toContain(NOT_KNOWN);
    expect(await votesOf(request.id)).toEqual([]);
    expect(directory.links).toEqual([]);
  });

  it('says Stint could not check who clicked when Graph fails, records nothing, and the next click works', async () => {
    const request = await pending(quorumFlow);
    bot.failNext('graph', 503);

    const failed = await call(invoke(AAD.dba3, request.id));

    expect(failed.status).toBe(200);
    expect(texts(failed)).toContain(LOOKUP_FAILED);
    expect(actionsOf(failed)).toEqual([APPROVE_VERB, REJECT_VERB]);
    expect(await votesOf(request.id)).toEqual([]);
    expect(directory.links).toEqual([]);

    const retried = await call(invoke(AAD.dba3, request.id));
    expect(texts(retried)).toContain('Your approval was recorded; more approvals are needed.');
  });

  it('says Stint could not check when the Graph token cannot be had', async () => {
    const request = await pending(quorumFlow);
    bot.failNext('token', 500);
    const response = await call(invoke(AAD.dba3, request.id));
    expect(texts(response)).toContain(LOOKUP_FAILED);
    expect(await votesOf(request.id)).toEqual([]);
  });

  it('does not ask Graph when graphLookup is off', async () => {
    const request = await pending(quorumFlow);
    deps = { ...deps, graphLookup: false };

    const response = await call(invoke(AAD.dba3, request.id));

    expect(texts(response)).toContain(NOT_KNOWN);
    expect(await votesOf(request.id)).toEqual([]);
    expect(bot.graphLookups).toEqual([]);
    expect(bot.tokenRequests).toEqual([]);
  });

  it('does not ask Graph without a connector (no client secret configured)', async () => {
    const request = await pending(quorumFlow);
    const { connector: _, ...withoutConnector } = deps;
    deps = withoutConnector;
    const response = await call(invoke(AAD.dba3, request.id));
    expect(texts(response)).toContain(NOT_KNOWN);
    expect(bot.graphLookups).toEqual([]);
  });
});

describe('the bot’s tenant', () => {
  const otherTenant: [string, Record<string, unknown>][] = [
    ['conversation.tenantId', { conversation: { id: 'a:conversation', tenantId: OTHER_TENANT_ID } }],
    ['channelData.tenant.id', { channelData: { tenant: { id: OTHER_TENANT_ID } } }],
    [
      'channelData.tenant.id while conversation.tenantId is the bot’s',
      {
        conversation: { id: 'a:conversation', tenantId: BOT.tenantId },
        channelData: { tenant: { id: OTHER_TENANT_ID } },
      },
    ],
  ];
  for (const [name, extra] of otherTenant) {
    it(`refuses a click from another tenant (${name}), even by a linked approver, and records nothing`, async () => {
      const request = await pending();
      const response = await call(invoke(AAD.approver, request.id, APPROVE_VERB, undefined, extra));
      expect(response.status).toBe(200);
      expect(texts(response)).toEqual([OTHER_TENANT]);
      expect(await votesOf(request.id)).toEqual([]);
      expect(executions.resumes).toEqual([]);
      expect(bot.graphLookups).toEqual([]);
    });
  }

  it('refuses a card refresh from another tenant without showing the request', async () => {
    const request = await pending();
    const response = await call(
      invoke(AAD.approver, request.id, REFRESH_VERB, undefined, { channelData: { tenant: { id: OTHER_TENANT_ID } } }),
    );
    expect(texts(response)).toEqual([OTHER_TENANT]);
    expect(response.body).not.toContain(request.id);
  });

  it('accepts a click naming the bot’s tenant in both places (any letter case)', async () => {
    const request = await pending();
    const response = await call(
      invoke(AAD.approver, request.id, APPROVE_VERB, undefined, {
        conversation: { id: 'a:conversation', conversationType: 'channel', tenantId: BOT.tenantId.toUpperCase() },
        channelData: { tenant: { id: BOT.tenantId }, channel: { id: '19:ops@thread.tacv2' } },
      }),
    );
    expect(texts(response)).toContain('Approved: Stint is granting the access.');
    expect((await votesOf(request.id)).map((v) => v.by)).toEqual(['approver-1']);
  });

  it('does not pin the tenant when none is configured', async () => {
    const request = await pending();
    const { tenantId: _, ...unpinned } = deps;
    deps = unpinned;
    const response = await call(
      invoke(AAD.approver, request.id, APPROVE_VERB, undefined, { channelData: { tenant: { id: OTHER_TENANT_ID } } }),
    );
    expect(texts(response)).toContain('Approved: Stint is granting the access.');
  });
});

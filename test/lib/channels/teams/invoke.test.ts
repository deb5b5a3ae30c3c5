import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BotFrameworkAuth } from '#lib/channels/teams/auth.ts';
import { APPROVE_VERB, REFRESH_VERB, REJECT_VERB } from '#lib/channels/teams/cards.ts';
import { handleTeamsActivity, NOT_KNOWN, type TeamsActivityDeps } from '#lib/channels/teams/invoke.ts';
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
const AAD = {
  requester: '00000000-0000-4000-8000-000000000001',
  approver: '00000000-0000-4000-8000-000000000002',
  dba1: '00000000-0000-4000-8000-000000000003',
  dba2: '00000000-0000-4000-8000-000000000004',
  mallory: '00000000-0000-4000-8000-000000000005',
  stranger: '00000000-0000-4000-8000-0000000000ff',
};

let table: LocalTable;
let bot: BotFrameworkStandIn;
let store: Store;
let executions: RecordingExecutions;
let clock: TestClock;
let deps: TeamsActivityDeps;

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
  bot = await BotFrameworkStandIn.start();
  clock = new TestClock(NOW);
  store = new Store(table.doc, table.tableName, { now: clock.now });
  executions = new RecordingExecutions();
  const directory = new MemoryDirectory()
    .addUser({ id: 'requester-1', email: 'requester-1@example.com', accounts: teams(AAD.requester) })
    .addUser({ id: 'approver-1', email: 'approver-1@example.com', accounts: teams(AAD.approver) })
    .addUser({ id: 'dba-1', email: 'dba-1@example.com', accounts: teams(AAD.dba1) })
    .addUser({ id: 'dba-2', email: 'dba-2@example.com', accounts: teams(AAD.dba2) })
    .addUser({ id: 'mallory', email: 'mallory@example.com', accounts: teams(AAD.mallory) })
    .addGroup('dba', ['dba-1', 'dba-2']);
  deps = {
    auth: new BotFrameworkAuth({ appId: APP_ID, openIdMetadataUrl: bot.openIdMetadataUrl, now: clock.now }),
    directory,
    requests: new RequestService({ store, executions, roles: ROLES, now: clock.now }),
    store,
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

function invoke(aadObjectId: string | undefined, requestId: string, verb = APPROVE_VERB, reason?: string): string {
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

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SlackApiError, SlackClient } from '#lib/channels/slack/client.ts';
import { SlackDeliveryError } from '#lib/channels/slack/failures.ts';
import { notifySlack, type SlackNotifyDeps } from '#lib/channels/slack/notify.ts';
import { SlackState, STALE_CLAIM_SECONDS } from '#lib/channels/slack/state.ts';
import { createOnCallProviders } from '#lib/oncall/providers.ts';
import { Store } from '#lib/store/store.ts';
import { type PagerDutyStandIn, startPagerDuty } from '../../../fixtures/pagerduty/server.ts';
import { MemoryDirectory } from '../../../fixtures/slack/directory.ts';
import { SlackStandIn } from '../../../fixtures/slack/server.ts';
import { type LocalTable, startDynalite } from '../../../support/dynalite.ts';
import { aFlow, anIdentity, aRequest } from '../../../support/fixtures.ts';

const TEAM = 'T0001';
let table: LocalTable;
let slack: SlackStandIn;
let store: Store;
let state: SlackState;
let deps: SlackNotifyDeps;

beforeEach(async () => {
  table = await startDynalite();
  slack = await SlackStandIn.start();
  store = new Store(table.doc, table.tableName);
  state = new SlackState(table.doc, table.tableName);
  const directory = new MemoryDirectory()
    .addUser({ id: 'requester-1', email: 'requester-1@example.com' })
    .addUser({ id: 'approver-1', email: 'approver-1@example.com' })
    .addUser({ id: 'dba-1', email: 'dba-1@example.com' })
    .addUser({ id: 'dba-2', email: 'dba-2@example.com', active: false })
    .addUser({ id: 'dba-3', email: 'dba-3@example.com' })
    .addGroup('dba', ['dba-1', 'dba-2', 'dba-3', 'requester-1']);
  for (const [id, email] of [
    ['U_REQ', 'requester-1@example.com'],
    ['U_APP', 'approver-1@example.com'],
    ['U_DBA1', 'dba-1@example.com'],
    ['U_DBA2', 'dba-2@example.com'],
  ] as const) {
    slack.addUser({ id, teamId: TEAM, email });
  }
  deps = {
    slack: new SlackClient({ token: async () => 'xoxb-test', baseUrl: slack.apiUrl }),
    directory,
    state,
    store,
    apiUrl: 'https://stint.example.com',
  };
});

afterEach(async () => {
  await slack.stop();
  await table.stop();
});

async function created() {
  const request = aRequest({ flow: aFlow({ slackChannel: 'C0OPS' }), requester: anIdentity({ sub: 'requester-1' }) });
  await store.createRequest(request);
  return request;
}

describe('notifySlack', () => {
  it('DMs each eligible approver found in Slack and posts to the flow channel, once', async () => {
    const request = await created();
    const first = await notifySlack(deps, { type: 'request.created', requestId: request.id });
    // EventBridge may deliver the same event twice.
    const again = await notifySlack(deps, { type: 'request.created', requestId: request.id });

    expect(first).toEqual({ posted: 3, updated: 0, notified: 0 });
    expect(again.posted).toBe(0);
    const posts = slack.callsOf('chat.postMessage');
    // dba-2 is inactive, dba-3 has no Slack account, the requester is never asked.
    expect(posts.map((p) => p.params.channel)).toEqual(['DU_APP', 'DU_DBA1', 'C0OPS']);
    expect(posts.every((p) => p.token === 'xoxb-test')).toBe(true);
    const blocks = JSON.stringify(posts[1]?.params.blocks);
    expect(blocks).toContain('you are in group dba');
    expect(blocks).toContain(`"value":"${request.id}"`);
    expect(blocks).toContain('investigating an incident');
    expect((await state.posts(request.id)).map((p) => [p.kind, p.approver ?? p.channel])).toEqual([
      ['approver', 'approver-1'],
      ['approver', 'dba-1'],
      ['channel', 'C0OPS'],
    ]);
  });

  it('updates every copy and DMs the requester when the request is approved', async () => {
    const request = await created();
    await notifySlack(deps, { type: 'request.created', requestId: request.id });
    await store.updateRequest(request.id, (r) => ({
      ...r,
      status: 'APPROVED',
      votes: [
        {
          by: 'approver-1',
          email: 'approver-1@example.com',
          vote: 'approve',
          channel: 'slack',
          at: r.createdAt,
          sets: [0],
        },
      ],
      decision: { outcome: 'approved', by: 'approver-1', channel: 'slack', at: r.createdAt },
    }));
    const result = await notifySlack(deps, { type: 'request.approved', requestId: request.id });
    expect(result).toEqual({ posted: 0, updated: 3, notified: 1 });
    const updates = slack.callsOf('chat.update');
    expect(updates.map((u) => u.params.ts)).toEqual((await state.posts(request.id)).map((p) => p.ts));
    expect(JSON.stringify(updates[0]?.params.blocks)).toContain('Approved by approver-1@example.com (slack)');
    const dm = slack.callsOf('chat.postMessage').at(-1);
    expect(dm?.params.channel).toBe('DU_REQ');
    expect(dm?.params.text).toContain('was approved');
  });

  it('brings the copies up to date when the request is decided while they are being posted', async () => {
    const request = await created();
    const client = deps.slack;
    const postMessage = client.postMessage.bind(client);
    let decided = false;
    client.postMessage = async (channel, message) => {
      const posted = await postMessage(channel, message);
      // approver-1 approves (through the API, say) as soon as their DM arrives.
      if (!decided) {
        decided = true;
        await store.updateRequest(request.id, (r) => ({
          ...r,
          status: 'APPROVED',
          decision: { outcome: 'approved', by: 'approver-1', channel: 'api', at: r.createdAt },
        }));
      }
      return posted;
    };

    const result = await notifySlack(deps, { type: 'request.created', requestId: request.id });

    expect(result).toMatchObject({ posted: 3, updated: 3 });
    const updates = slack.callsOf('chat.update');
    expect(updates.map((u) => u.params.ts).sort()).toEqual((await state.posts(request.id)).map((p) => p.ts).sort());
    for (const update of updates) expect(JSON.stringify(update.params.blocks)).toContain('Approved by approver-1');
  });

  it('tells the requester how to get the credentials when the grant is active', async () => {
    const request = await created();
    await store.updateRequest(request.id, (r) => ({ ...r, status: 'ACTIVE', expiresAt: '2030-01-15T11:00:00.000Z' }));
    await notifySlack(deps, { type: 'grant.active', requestId: request.id });
    const dm = slack.callsOf('chat.postMessage').at(-1);
    expect(JSON.stringify(dm?.params.blocks)).toContain(`GET https://stint.example.com/requests/${request.id}/access`);
  });
});

describe('notifySlack: escalation and expiry reminder', () => {
  /** Tier 0: approver-1; tier 1: lead-1 (named); tier 2: group dba. */
  async function escalating() {
    slack.addUser({ id: 'U_LEAD1', teamId: TEAM, email: 'lead-1@example.com' });
    deps.directory = (deps.directory as MemoryDirectory).addUser({ id: 'lead-1', email: 'lead-1@example.com' });
    const request = aRequest({
      requester: anIdentity({ sub: 'requester-1' }),
      flow: aFlow({
        slackChannel: 'C0OPS',
        approval: {
          mode: 'manual',
          sets: [{ users: ['approver-1'], groups: [] }],
          rule: { type: 'anyOf' },
          timeoutMinutes: 60,
          reasonRequired: false,
          escalation: {
            everyMinutes: 10,
            tiers: [
              { name: 'Leads', users: ['lead-1'], groups: [] },
              { users: [], groups: ['dba'] },
            ],
          },
        },
      }),
    });
    await store.createRequest(request);
    return request;
  }
  const escalateTo = (id: string, tier: number) =>
    store.updateRequest(id, (r) => ({ ...r, escalation: { tier, notifiedAt: r.createdAt } }));

  it('asks only the policy sets at creation, then DMs only the new tier when the request escalates', async () => {
    const request = await escalating();
    const created = await notifySlack(deps, { type: 'request.created', requestId: request.id });
    await escalateTo(request.id, 1);

    const escalated = await notifySlack(deps, { type: 'request.escalated', requestId: request.id });
    const redelivered = await notifySlack(deps, { type: 'request.escalated', requestId: request.id });

    expect(created.posted).toBe(2);
    expect(escalated).toEqual({ posted: 1, updated: 0, notified: 0 });
    expect(redelivered.posted).toBe(0);
    const posts = slack.callsOf('chat.postMessage');
    expect(posts.map((p) => p.params.channel)).toEqual(['DU_APP', 'C0OPS', 'DU_LEAD1']);
    const blocks = JSON.stringify(posts[2]?.params.blocks);
    expect(blocks).toContain('you are named in escalation tier 1 “Leads”');
    expect(blocks).toContain(`"value":"${request.id}"`);
  });

  it('DMs every tier a late reconciler jumped over, and records their copies for later updates', async () => {
    const request = await escalating();
    await notifySlack(deps, { type: 'request.created', requestId: request.id });
    await escalateTo(request.id, 2);

    const result = await notifySlack(deps, { type: 'request.escalated', requestId: request.id });

    expect(result.posted).toBe(2);
    expect(slack.callsOf('chat.postMessage').map((p) => p.params.channel)).toEqual([
      'DU_APP',
      'C0OPS',
      'DU_LEAD1',
      'DU_DBA1',
    ]);
    expect((await state.posts(request.id)).map((p) => p.approver ?? p.channel)).toEqual([
      'approver-1',
      'C0OPS',
      'lead-1',
      'dba-1',
    ]);
  });

  it('asks nobody when the escalation arrives after the request was decided', async () => {
    const request = await escalating();
    await escalateTo(request.id, 1);
    await store.updateRequest(request.id, (r) => ({ ...r, status: 'CANCELLED' }));

    const result = await notifySlack(deps, { type: 'request.escalated', requestId: request.id });

    expect(result.posted).toBe(0);
    expect(slack.callsOf('chat.postMessage')).toEqual([]);
  });

  it('DMs the requester that the grant ends in 10 minutes, without rewriting the approval copies', async () => {
    const request = await created();
    await notifySlack(deps, { type: 'request.created', requestId: request.id });
    await store.updateRequest(request.id, (r) => ({
      ...r,
      status: 'ACTIVE',
      expiresAt: '2030-01-15T11:00:00.000Z',
      remindedAt: '2030-01-15T10:50:00.000Z',
    }));

    const result = await notifySlack(deps, { type: 'grant.expiring', requestId: request.id });

    expect(result).toEqual({ posted: 0, updated: 0, notified: 1 });
    expect(slack.callsOf('chat.update')).toEqual([]);
    const dm = slack.callsOf('chat.postMessage').at(-1);
    expect(dm?.params.channel).toBe('DU_REQ');
    expect(dm?.params.text).toContain('ends in 10 minutes until 2030-01-15T11:00:00.000Z');
  });
});

describe('notifySlack: nothing lost, nothing twice', () => {
  const toChannel = (channel: string) => (params: Record<string, unknown>) => params.channel === channel;
  const postedTo = () => slack.succeededCallsOf('chat.postMessage').map((p) => p.params.channel);
  const approve = (id: string) =>
    store.updateRequest(id, (r) => ({
      ...r,
      status: 'APPROVED',
      decision: { outcome: 'approved', by: 'approver-1', channel: 'slack', at: r.createdAt },
    }));

  it('fails the delivery when one approver’s DM is rate limited, and the redelivery DMs only that approver', async () => {
    const request = await created();
    slack.failNext('chat.postMessage', 1, { status: 429, retryAfter: 30 }, toChannel('DU_APP'));

    const first = notifySlack(deps, { type: 'request.created', requestId: request.id });

    await expect(first).rejects.toThrow(SlackDeliveryError);
    await expect(first).rejects.toMatchObject({ retryable: 1, requestId: request.id });
    expect(postedTo()).toEqual(['DU_DBA1', 'C0OPS']);
    const again = await notifySlack(deps, { type: 'request.created', requestId: request.id });
    expect(again.posted).toBe(1);
    expect(postedTo()).toEqual(['DU_DBA1', 'C0OPS', 'DU_APP']);
    expect((await state.posts(request.id)).map((p) => p.approver ?? p.channel).sort()).toEqual([
      'C0OPS',
      'approver-1',
      'dba-1',
    ]);
    // A third delivery (EventBridge delivers at least once) sends nothing.
    await notifySlack(deps, { type: 'request.created', requestId: request.id });
    expect(postedTo()).toEqual(['DU_DBA1', 'C0OPS', 'DU_APP']);
  });

  it('retries a flow channel post that met a Slack 5xx, without posting the approvers’ DMs again', async () => {
    const request = await created();
    slack.failNext('chat.postMessage', 1, { status: 503 }, toChannel('C0OPS'));

    await expect(notifySlack(deps, { type: 'request.created', requestId: request.id })).rejects.toThrow(
      /1 Slack call\(s\) for request .* failed/,
    );
    await notifySlack(deps, { type: 'request.created', requestId: request.id });

    expect(postedTo()).toEqual(['DU_APP', 'DU_DBA1', 'C0OPS']);
  });

  it('logs permanent failures (users_not_found, channel_not_found) and does not ask for a redelivery', async () => {
    const request = await created();
    slack.failNext('users.lookupByEmail', 1, { error: 'users_not_found' }, (p) => p.email === 'approver-1@example.com');
    slack.failNext('chat.postMessage', 1, { error: 'channel_not_found' }, toChannel('C0OPS'));

    const result = await notifySlack(deps, { type: 'request.created', requestId: request.id });

    expect(result.posted).toBe(1);
    expect(postedTo()).toEqual(['DU_DBA1']);
    expect((await state.posts(request.id)).map((p) => p.approver ?? p.channel)).toEqual(['dba-1']);
  });

  it('retries a requester notice that failed, and never sends it twice', async () => {
    const request = await created();
    await approve(request.id);
    slack.failNext('conversations.open', 1, { status: 500 }, (p) => p.users === 'U_REQ');

    await expect(notifySlack(deps, { type: 'request.approved', requestId: request.id })).rejects.toThrow(
      SlackDeliveryError,
    );
    const retried = await notifySlack(deps, { type: 'request.approved', requestId: request.id });
    const redelivered = await notifySlack(deps, { type: 'request.approved', requestId: request.id });

    expect(retried.notified).toBe(1);
    expect(redelivered.notified).toBe(0);
    const dms = slack.succeededCallsOf('chat.postMessage').filter((p) => p.params.channel === 'DU_REQ');
    expect(dms.map((d) => d.params.text)).toEqual([expect.stringContaining('was approved')]);
  });

  it('sends each notice of a fully delivered event once, to the requester and the grantee, on redelivery too', async () => {
    slack.addUser({ id: 'U_GRANTEE', teamId: TEAM, email: 'grantee-1@example.com' });
    const request = aRequest({
      requester: anIdentity({ sub: 'requester-1' }),
      flow: aFlow({ slackChannel: 'C0OPS' }),
    });
    await store.createRequest({ ...request, grantee: anIdentity({ sub: 'grantee-1' }) });
    await store.updateRequest(request.id, (r) => ({ ...r, status: 'ACTIVE', expiresAt: '2030-01-15T11:00:00.000Z' }));

    const first = await notifySlack(deps, { type: 'grant.active', requestId: request.id });
    const again = await notifySlack(deps, { type: 'grant.active', requestId: request.id });

    expect(first.notified).toBe(2);
    expect(again.notified).toBe(0);
    expect(postedTo()).toEqual(['DU_REQ', 'DU_GRANTEE']);
  });

  it('sends a notice once when two deliveries of the same event run at the same time', async () => {
    const request = await created();
    await approve(request.id);

    const both = await Promise.allSettled([
      notifySlack(deps, { type: 'request.approved', requestId: request.id }),
      notifySlack(deps, { type: 'request.approved', requestId: request.id }),
    ]);
    // The one that found the other sending asks for a redelivery, which then finds the notice sent.
    const retried = await notifySlack(deps, { type: 'request.approved', requestId: request.id });

    expect(both.some((r) => r.status === 'fulfilled')).toBe(true);
    expect(retried.notified).toBe(0);
    expect(postedTo()).toEqual(['DU_REQ']);
  });

  it('takes over a claim left by an invocation that died, but not one that is still fresh', async () => {
    const request = await created();
    await approve(request.id);
    const at = Date.now();
    await state.claimSend(request.id, 'notice#approved#requester-1', new Date(at - 1000));

    await expect(
      notifySlack({ ...deps, now: () => new Date(at) }, { type: 'request.approved', requestId: request.id }),
    ).rejects.toThrow(SlackDeliveryError);
    expect(postedTo()).toEqual([]);
    const later = new Date(at + STALE_CLAIM_SECONDS * 1000);
    const takenOver = await notifySlack(
      { ...deps, now: () => later },
      { type: 'request.approved', requestId: request.id },
    );

    expect(takenOver.notified).toBe(1);
    expect(postedTo()).toEqual(['DU_REQ']);
  });

  it('fails the delivery when a copy cannot be updated for now, and updates it on the redelivery', async () => {
    const request = await created();
    await notifySlack(deps, { type: 'request.created', requestId: request.id });
    await approve(request.id);
    slack.failNext('chat.update', 1, { status: 429, retryAfter: 30 }, toChannel('C0OPS'));

    await expect(notifySlack(deps, { type: 'request.approved', requestId: request.id })).rejects.toMatchObject({
      retryable: 1,
    });
    const retried = await notifySlack(deps, { type: 'request.approved', requestId: request.id });

    expect(retried).toEqual({ posted: 0, updated: 3, notified: 0 });
    const updatedC0OPS = slack.succeededCallsOf('chat.update').filter((u) => u.params.channel === 'C0OPS');
    expect(updatedC0OPS).toHaveLength(1);
    expect(slack.succeededCallsOf('chat.postMessage').filter((p) => p.params.channel === 'DU_REQ')).toHaveLength(1);
  });

  it('does not retry an update Slack refuses for good (message_not_found)', async () => {
    const request = await created();
    await notifySlack(deps, { type: 'request.created', requestId: request.id });
    await approve(request.id);
    slack.failNext('chat.update', 1, { error: 'message_not_found' }, toChannel('C0OPS'));

    const result = await notifySlack(deps, { type: 'request.approved', requestId: request.id });

    expect(result).toEqual({ posted: 0, updated: 2, notified: 1 });
  });
});

describe('SlackClient', () => {
  const failureOf = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => (error instanceof SlackApiError ? { code: error.code, retryable: error.retryable } : error),
    );

  it('tells retryable failures (5xx, 429 too long to wait, internal_error, network) from permanent ones', async () => {
    slack.failNext('chat.postMessage', 1, { status: 500 });
    expect(await failureOf(deps.slack.postMessage('C1', { text: 'x', blocks: [] }))).toEqual({
      code: 'http_500',
      retryable: true,
    });
    slack.failNext('chat.postMessage', 1, { error: 'internal_error' });
    expect(await failureOf(deps.slack.postMessage('C1', { text: 'x', blocks: [] }))).toEqual({
      code: 'internal_error',
      retryable: true,
    });
    slack.failNext('chat.postMessage', 1, { status: 429, retryAfter: 30 });
    expect(await failureOf(deps.slack.postMessage('C1', { text: 'x', blocks: [] }))).toEqual({
      code: 'ratelimited',
      retryable: true,
    });
    slack.failNext('chat.postMessage', 1, { error: 'is_archived' });
    expect(await failureOf(deps.slack.postMessage('C1', { text: 'x', blocks: [] }))).toEqual({
      code: 'is_archived',
      retryable: false,
    });
    const down = new SlackClient({ token: async () => 'xoxb-test', baseUrl: 'http://127.0.0.1:9/api/' });
    expect(await failureOf(down.postMessage('C1', { text: 'x', blocks: [] }))).toEqual({
      code: 'network_error',
      retryable: true,
    });
  });

  it('waits out a 429 Retry-After and retries', async () => {
    slack.rateLimit('chat.postMessage', 0);
    const posted = await deps.slack.postMessage('C1', { text: 'hi', blocks: [] });
    expect(posted.channel).toBe('C1');
    expect(slack.callsOf('chat.postMessage').map((c) => c.params.rateLimited ?? false)).toEqual([true, false]);
  });

  it('gives up when Retry-After is longer than an interaction can wait', async () => {
    slack.rateLimit('chat.update', 30);
    await expect(deps.slack.update('C1', '1.1', { text: 'x', blocks: [] })).rejects.toThrow(
      'Slack chat.update: ratelimited',
    );
  });

  it('turns ok:false into an error naming Slack’s code', async () => {
    await expect(deps.slack.call('no.such.method', {})).rejects.toThrow('Slack no.such.method: unknown_method');
  });

  it('refuses a response_url outside Slack', async () => {
    await expect(deps.slack.respond('https://evil.example.com/hook', { text: 'x' })).rejects.toThrow(
      'untrusted_origin',
    );
  });
});

describe('notifySlack with on-call approver sets (PagerDuty stand-in)', () => {
  const onCallFlow = aFlow({
    approval: {
      mode: 'manual',
      sets: [
        { users: [], groups: [], oncall: { provider: 'pagerduty', schedule: 'PSCHED' } },
        { users: ['approver-1'], groups: [] },
      ],
      rule: { type: 'anyOf' },
      timeoutMinutes: 60,
      reasonRequired: false,
    },
  });
  const roster = (email: string) => [
    {
      user: { id: 'PUSER', name: 'On call', email },
      scheduleId: 'PSCHED',
      escalationPolicyId: 'PPOLICY',
      level: 1,
      start: new Date(Date.now() - 3_600_000).toISOString(),
      end: new Date(Date.now() + 3_600_000).toISOString(),
    },
  ];

  async function withPagerDuty(apiKey: string, run: (pd: PagerDutyStandIn) => Promise<void>) {
    const pd = await startPagerDuty({ apiKey: 'pd-key', roster: roster('DBA-1@example.com') });
    try {
      deps.oncall = createOnCallProviders(
        [{ name: 'pagerduty', kind: 'pagerduty', region: 'us', apiUrl: pd.url, secretRef: 'env:X', cacheSeconds: 0 }],
        { local: true, resolveSecret: async () => apiKey },
      );
      await run(pd);
    } finally {
      await pd.close();
    }
  }

  it('DMs whoever is on call when the request arrives, besides the other approvers', async () => {
    await withPagerDuty('pd-key', async () => {
      const request = aRequest({ flow: onCallFlow, requester: anIdentity({ sub: 'requester-1' }) });
      await store.createRequest(request);
      const result = await notifySlack(deps, { type: 'request.created', requestId: request.id });
      expect(result.posted).toBe(2);
      const posts = slack.callsOf('chat.postMessage');
      expect(posts.map((p) => p.params.channel)).toEqual(['DU_DBA1', 'DU_APP']);
      expect(JSON.stringify(posts[0]?.params.blocks)).toContain('you are on call in PSCHED (pagerduty)');
    });
  });

  it('still DMs the other approvers when the provider refuses the key', async () => {
    await withPagerDuty('wrong-key', async () => {
      const request = aRequest({ flow: onCallFlow, requester: anIdentity({ sub: 'requester-1' }) });
      await store.createRequest(request);
      await notifySlack(deps, { type: 'request.created', requestId: request.id });
      expect(slack.callsOf('chat.postMessage').map((p) => p.params.channel)).toEqual(['DU_APP']);
    });
  });
});

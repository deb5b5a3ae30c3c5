import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SlackClient } from '#lib/channels/slack/client.ts';
import { handleSlackInteraction, NOT_KNOWN, type SlackInteractionDeps } from '#lib/channels/slack/interactions.ts';
import { APPROVE_ACTION, DECISION_VIEW, REJECT_ACTION } from '#lib/channels/slack/messages.ts';
import { SlackState } from '#lib/channels/slack/state.ts';
import { signSlackRequest } from '#lib/channels/slack/verify.ts';
import type { AccessFlow } from '#lib/domain/flow.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { RequestService } from '#lib/services/requests.ts';
import { Store } from '#lib/store/store.ts';
import { MemoryDirectory } from '../../../fixtures/slack/directory.ts';
import { SlackStandIn } from '../../../fixtures/slack/server.ts';
import { type LocalTable, startDynalite } from '../../../support/dynalite.ts';
import { aFlow, anIdentity, aRequest } from '../../../support/fixtures.ts';
import { RecordingExecutions } from '../../../support/recording-executions.ts';
import { ROLES, TestClock } from '../../../support/services.ts';

const SECRET = 'slack-signing-secret-for-tests';
const TEAM = 'T0001';
const NOW = '2030-01-15T10:00:00.000Z';
const nowSeconds = Date.parse(NOW) / 1000;

let table: LocalTable;
let slack: SlackStandIn;
let store: Store;
let state: SlackState;
let executions: RecordingExecutions;
let directory: MemoryDirectory;
let deps: SlackInteractionDeps;
let clock: TestClock;

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

beforeEach(async () => {
  table = await startDynalite();
  slack = await SlackStandIn.start();
  clock = new TestClock(NOW);
  store = new Store(table.doc, table.tableName, { now: clock.now });
  state = new SlackState(table.doc, table.tableName);
  executions = new RecordingExecutions();
  directory = new MemoryDirectory()
    .addUser({ id: 'requester-1', email: 'requester-1@example.com', accounts: [slackAccount('U_REQ')] })
    .addUser({ id: 'approver-1', email: 'approver-1@example.com', accounts: [slackAccount('U_APP')] })
    .addUser({ id: 'dba-1', email: 'dba-1@example.com', accounts: [slackAccount('U_DBA1')] })
    .addUser({ id: 'dba-2', email: 'dba-2@example.com', accounts: [slackAccount('U_DBA2')] })
    .addUser({ id: 'mallory', email: 'mallory@example.com', accounts: [slackAccount('U_MAL')] })
    .addGroup('dba', ['dba-1', 'dba-2']);
  deps = {
    signingSecret: async () => SECRET,
    guard: state,
    directory,
    slack: new SlackClient({ token: async () => 'xoxb-test', baseUrl: slack.apiUrl, responseOrigins: [slack.url] }),
    requests: new RequestService({ store, executions, roles: ROLES, now: clock.now }),
    store,
    posts: state,
    now: clock.now,
  };
});

afterEach(async () => {
  await slack.stop();
  await table.stop();
});

function slackAccount(userId: string) {
  return { kind: 'slack' as const, teamId: TEAM, userId };
}

async function pending(flow: AccessFlow = aFlow(), token = 'approval-token'): Promise<AccessRequest> {
  const request = aRequest({ flow, approvalToken: token, requester: anIdentity({ sub: 'requester-1' }) });
  await store.createRequest(request);
  executions.live(token);
  await state.addPosts(
    request.id,
    [{ channel: 'D_APP', ts: '1.1', kind: 'approver', approver: 'approver-1' }],
    clock.now(),
  );
  return request;
}

let clicks = 0;
function click(userId: string, requestId: string, action = APPROVE_ACTION): string {
  clicks += 1;
  const payload = {
    type: 'block_actions',
    team: { id: TEAM },
    user: { id: userId, team_id: TEAM },
    trigger_id: `trigger-${clicks}`,
    response_url: slack.responseUrl(`${userId}-${clicks}`),
    actions: [{ action_id: action, value: requestId, type: 'button' }],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

function submission(userId: string, requestId: string, vote: 'approve' | 'reject', reason: string | null): string {
  const payload = {
    type: 'view_submission',
    team: { id: TEAM },
    user: { id: userId, team_id: TEAM },
    view: {
      callback_id: DECISION_VIEW,
      private_metadata: JSON.stringify({ requestId, vote }),
      state: { values: { reason: { reason_input: { type: 'plain_text_input', value: reason } } } },
    },
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

function signed(rawBody: string, at = nowSeconds, extra: Record<string, string> = {}) {
  return {
    rawBody,
    headers: {
      'x-slack-request-timestamp': String(at),
      'x-slack-signature': signSlackRequest(SECRET, at, rawBody),
      ...extra,
    },
  };
}

async function votesOf(id: string) {
  return (await store.getRequest(id))?.votes ?? [];
}

function lastAnswer(): string | undefined {
  const body = slack.responses.at(-1)?.body;
  return typeof body?.text === 'string' ? body.text : undefined;
}

describe('refused callbacks record no vote', () => {
  it('refuses a forged signature', async () => {
    const request = await pending();
    const body = click('U_APP', request.id);
    const forged = {
      rawBody: body,
      headers: {
        'x-slack-request-timestamp': String(nowSeconds),
        'x-slack-signature': signSlackRequest('guess', nowSeconds, body),
      },
    };
    const response = await handleSlackInteraction(deps, forged);
    expect(response.status).toBe(401);
    expect(JSON.parse(response.body ?? '{}')).toEqual({ error: 'bad-signature' });
    expect(await votesOf(request.id)).toEqual([]);
    expect(executions.resumes).toEqual([]);
  });

  it('refuses a body changed after signing', async () => {
    const request = await pending();
    const original = signed(click('U_MAL', 'other-request'));
    const response = await handleSlackInteraction(deps, { ...original, rawBody: click('U_APP', request.id) });
    expect(response.status).toBe(401);
    expect(await votesOf(request.id)).toEqual([]);
  });

  it('refuses a callback without a signature', async () => {
    const request = await pending();
    const response = await handleSlackInteraction(deps, {
      rawBody: click('U_APP', request.id),
      headers: { 'x-slack-request-timestamp': String(nowSeconds) },
    });
    expect(response.status).toBe(401);
    expect(JSON.parse(response.body ?? '{}')).toEqual({ error: 'missing-signature' });
    expect(await votesOf(request.id)).toEqual([]);
  });

  it('refuses a timestamp more than 5 minutes old, even correctly signed', async () => {
    const request = await pending();
    const response = await handleSlackInteraction(deps, signed(click('U_APP', request.id), nowSeconds - 301));
    expect(response.status).toBe(401);
    expect(JSON.parse(response.body ?? '{}')).toEqual({ error: 'stale-timestamp' });
    expect(await votesOf(request.id)).toEqual([]);
  });

  it('accepts a timestamp just inside the window', async () => {
    const request = await pending();
    const response = await handleSlackInteraction(deps, signed(click('U_APP', request.id), nowSeconds - 299));
    expect(response.status).toBe(200);
    expect((await votesOf(request.id)).map((v) => v.by)).toEqual(['approver-1']);
  });

  it('refuses a replay of a valid callback and records nothing more', async () => {
    const request = await pending(quorumFlow);
    const callback = signed(click('U_DBA1', request.id));
    const first = await handleSlackInteraction(deps, callback);
    const replay = await handleSlackInteraction(deps, callback);
    expect(first.status).toBe(200);
    expect(replay.status).toBe(401);
    expect(JSON.parse(replay.body ?? '{}')).toEqual({ error: 'replayed' });
    expect((await votesOf(request.id)).map((v) => v.by)).toEqual(['dba-1']);
    expect(slack.responses).toHaveLength(1);
  });
});

describe('who clicked', () => {
  it('tells a Slack user unknown to Stint so, and records nothing', async () => {
    const request = await pending();
    slack.addUser({ id: 'U_NEW', teamId: TEAM, email: 'nobody@example.com' });
    const response = await handleSlackInteraction(deps, signed(click('U_NEW', request.id)));
    expect(response.status).toBe(200);
    expect(lastAnswer()).toBe(NOT_KNOWN);
    expect(slack.responses.at(-1)?.body.response_type).toBe('ephemeral');
    expect(await votesOf(request.id)).toEqual([]);
    expect(slack.callsOf('chat.update')).toEqual([]);
  });

  it('maps an unlinked Slack user by email and links the account', async () => {
    const request = await pending();
    directory.addUser({ id: 'approver-1', email: 'approver-1@example.com' });
    slack.addUser({ id: 'U_LATE', teamId: TEAM, email: 'approver-1@example.com' });
    const response = await handleSlackInteraction(deps, signed(click('U_LATE', request.id)));
    expect(response.status).toBe(200);
    expect((await votesOf(request.id)).map((v) => [v.by, v.channel])).toEqual([['approver-1', 'slack']]);
    expect(directory.links).toEqual([{ userId: 'approver-1', account: slackAccount('U_LATE') }]);
  });

  it('refuses the requester approving their own request, with the reason shown', async () => {
    const request = await pending();
    await handleSlackInteraction(deps, signed(click('U_REQ', request.id)));
    expect(lastAnswer()).toBe('Not recorded: requesters cannot approve their own request.');
    expect(await votesOf(request.id)).toEqual([]);
    expect(executions.resumes).toEqual([]);
  });

  it('refuses a non-approver, with the reason shown', async () => {
    const request = await pending();
    await handleSlackInteraction(deps, signed(click('U_MAL', request.id)));
    expect(lastAnswer()).toBe('Not recorded: you are not an approver of this request.');
    expect(await votesOf(request.id)).toEqual([]);
  });

  it('refuses a non-approver pressing Reject before opening the reason modal', async () => {
    const request = await pending();
    await handleSlackInteraction(deps, signed(click('U_MAL', request.id, REJECT_ACTION)));
    expect(lastAnswer()).toBe('Not recorded: you are not an approver of this request.');
    expect(slack.callsOf('views.open')).toEqual([]);
  });
});

describe('exactly the right votes', () => {
  it('approves, resumes the workflow once and updates every copy', async () => {
    const request = await pending();
    await state.addPosts(request.id, [{ channel: 'C_OPS', ts: '2.2', kind: 'channel' }], clock.now());
    await handleSlackInteraction(deps, signed(click('U_APP', request.id)));
    const after = await store.getRequest(request.id);
    expect(after?.status).toBe('APPROVED');
    expect(after?.decision).toMatchObject({ outcome: 'approved', by: 'approver-1', channel: 'slack' });
    expect(executions.resumes).toEqual([{ token: 'approval-token', live: true }]);
    const updates = slack.callsOf('chat.update');
    expect(updates.map((u) => [u.params.channel, u.params.ts])).toEqual([
      ['D_APP', '1.1'],
      ['C_OPS', '2.2'],
    ]);
    expect(JSON.stringify(updates[0]?.params.blocks)).toContain('Approved by approver-1@example.com (slack)');
    expect(JSON.stringify(updates[0]?.params.blocks)).not.toContain(APPROVE_ACTION);
    expect(lastAnswer()).toBe('Approved: Stint is granting the access.');
  });

  it('counts a double click once', async () => {
    const request = await pending();
    const [a, b] = await Promise.all([
      handleSlackInteraction(deps, signed(click('U_APP', request.id))),
      handleSlackInteraction(deps, signed(click('U_APP', request.id))),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect((await votesOf(request.id)).map((v) => v.by)).toEqual(['approver-1']);
    expect(executions.resumes).toHaveLength(1);
    expect(slack.responses.map((r) => r.body.text).sort()).toEqual([
      'Approved: Stint is granting the access.',
      'Your approve was already recorded; nothing changed.',
    ]);
  });

  it('acknowledges an X-Slack-Retry-Num retry without processing it again', async () => {
    const request = await pending(quorumFlow);
    const body = click('U_DBA1', request.id);
    await handleSlackInteraction(deps, signed(body));
    const retry = await handleSlackInteraction(deps, signed(body, nowSeconds + 1, { 'X-Slack-Retry-Num': '1' }));
    expect(retry.status).toBe(200);
    expect((await votesOf(request.id)).map((v) => v.by)).toEqual(['dba-1']);
    expect(slack.responses).toHaveLength(1);
  });

  it('refuses a retry whose signature is forged', async () => {
    const request = await pending();
    const response = await handleSlackInteraction(deps, {
      rawBody: click('U_APP', request.id),
      headers: {
        'x-slack-request-timestamp': String(nowSeconds),
        'x-slack-signature': 'v0=00',
        'x-slack-retry-num': '1',
      },
    });
    expect(response.status).toBe(401);
  });

  it('decides a quorum of 2 once when two approvers click at once', async () => {
    const request = await pending(quorumFlow);
    await Promise.all([
      handleSlackInteraction(deps, signed(click('U_DBA1', request.id))),
      handleSlackInteraction(deps, signed(click('U_DBA2', request.id))),
    ]);
    const after = await store.getRequest(request.id);
    expect(after?.votes.map((v) => v.by).sort()).toEqual(['dba-1', 'dba-2']);
    expect(after?.status).toBe('APPROVED');
    expect(executions.resumes).toEqual([{ token: 'approval-token', live: true }]);
    expect(executions.fails).toEqual([]);
  });
});

describe('the reason modal', () => {
  it('opens a modal on Reject and records the reason on submission', async () => {
    const request = await pending();
    const opened = await handleSlackInteraction(deps, signed(click('U_APP', request.id, REJECT_ACTION)));
    expect(opened.status).toBe(200);
    expect(await votesOf(request.id)).toEqual([]);
    const [view] = slack.callsOf('views.open');
    expect(view?.params.trigger_id).toMatch(/^trigger-/);
    expect(JSON.stringify(view?.params.view)).toContain(DECISION_VIEW);

    const submitted = await handleSlackInteraction(deps, signed(submission('U_APP', request.id, 'reject', 'not now')));
    expect(JSON.parse(submitted.body ?? '{}')).toEqual({ response_action: 'clear' });
    const after = await store.getRequest(request.id);
    expect(after?.status).toBe('REJECTED');
    expect(after?.decision).toMatchObject({ outcome: 'rejected', reason: 'not now', channel: 'slack' });
    expect(executions.fails.map((f) => f.error)).toEqual(['Rejected']);
  });

  it('opens a modal on Approve when the flow requires a reason, and shows a missing reason in the modal', async () => {
    const flow = aFlow({
      approval: {
        mode: 'manual',
        sets: [{ users: ['approver-1'], groups: [] }],
        rule: { type: 'anyOf' },
        timeoutMinutes: 60,
        reasonRequired: true,
      },
    });
    const request = await pending(flow);
    await handleSlackInteraction(deps, signed(click('U_APP', request.id)));
    expect(slack.callsOf('views.open')).toHaveLength(1);
    const empty = await handleSlackInteraction(deps, signed(submission('U_APP', request.id, 'approve', null)));
    expect(JSON.parse(empty.body ?? '{}')).toEqual({
      response_action: 'errors',
      errors: { reason: 'Not recorded: this flow requires approvers to give a reason.' },
    });
    expect(await votesOf(request.id)).toEqual([]);
  });

  it('re-authorizes on submission: a forged modal from a non-approver records nothing', async () => {
    const request = await pending();
    const response = await handleSlackInteraction(deps, signed(submission('U_MAL', request.id, 'reject', 'no')));
    expect(JSON.parse(response.body ?? '{}')).toEqual({
      response_action: 'errors',
      errors: { reason: 'Not recorded: you are not an approver of this request.' },
    });
    expect(await votesOf(request.id)).toEqual([]);
  });
});

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { signSlackRequest } from '#lib/channels/slack/verify.ts';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { type SlackCall, SlackStandIn } from '../fixtures/slack/server.ts';
import { call, until } from '../support/http.ts';

/**
 * Slack approvals end to end on the local runtime: people provisioned through SCIM, the approver's DM with
 * Approve / Reject (notify function, an EventBridge target), a signed click on the interactions webhook, the
 * grant, the requester's DM, then a revoke that rewrites the approver's copy of the message; and a one-minute grant
 * that expires on its own, every copy rewritten and the requester told. The expiry test waits a real minute, so it
 * runs concurrently with the revoke test (its own people and flow, nothing shared but the stand-ins).
 */
const SIGNING_SECRET = 'e2e-slack-signing-secret';
const BOT_TOKEN = 'xoxb-e2e-bot-token';
const TEAM = 'T0E2E';
const ALICE = { sub: 'alice-e2e', email: 'alice.e2e@example.com', slack: 'UALICE' };
const BOB = { sub: 'bob-e2e', email: 'bob.e2e@example.com', slack: 'UBOB' };

let stint: Stint;
let slack: SlackStandIn;

beforeAll(async () => {
  slack = await SlackStandIn.start();
  slack.addUser({ id: ALICE.slack, teamId: TEAM, email: ALICE.email });
  slack.addUser({ id: BOB.slack, teamId: TEAM, email: BOB.email });
  const dir = await clusterParentDir('stint-e2e-slack');
  stint = await startStint({
    pgDataDir: join(dir, 'pg'),
    pgPort: await freePort(),
    port: await freePort(),
    env: { E2E_SLACK_SIGNING: SIGNING_SECRET, E2E_SLACK_BOT: BOT_TOKEN },
    config: {
      slack: { signingSecretRef: 'env:E2E_SLACK_SIGNING', botTokenRef: 'env:E2E_SLACK_BOT', apiUrl: slack.apiUrl },
    },
  });
}, 180_000);

afterAll(async () => {
  await stint?.stop();
  await slack?.stop();
});

async function scim(method: string, path: string, body: unknown) {
  const res = await call(stint.url, method, `/scim/v2${path}`, {
    body,
    headers: { authorization: `Bearer ${stint.scimToken}`, 'content-type': 'application/scim+json' },
  });
  return res;
}

/** What Slack sends when someone clicks a button: a form-encoded `payload`, signed with the app's signing secret. */
function signedClick(payload: unknown, at = Math.floor(Date.now() / 1000)) {
  const raw = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  return {
    raw,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(at),
      'x-slack-signature': signSlackRequest(SIGNING_SECRET, at, raw),
    },
  };
}

/** What Slack sends for `/stint <text>`: form fields, signed with the app's signing secret. */
function signedCommand(userId: string, text: string, at = Math.floor(Date.now() / 1000)) {
  const raw = new URLSearchParams({
    command: '/stint',
    text,
    user_id: userId,
    team_id: TEAM,
    response_url: slack.responseUrl(`command-${text.split(' ')[0] ?? ''}`),
    trigger_id: `trigger-${at}`,
  }).toString();
  return {
    raw,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(at),
      'x-slack-signature': signSlackRequest(SIGNING_SECRET, at, raw),
    },
  };
}

const Post = z.object({ channel: z.string(), ts: z.string() });
const textOf = (c: SlackCall) => JSON.stringify(c.params.blocks ?? c.params.text ?? '');

async function provision(person: { sub: string; email: string }) {
  const created = await scim('POST', '/Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: person.email,
    externalId: person.sub,
    emails: [{ value: person.email, primary: true, type: 'work' }],
    active: true,
  });
  expect(created.status).toBe(201);
}

const StatusView = z.object({ status: z.string() });

describe('Slack approval through the local runtime', () => {
  it.concurrent('DMs the approver and the flow channel, grants on a click, and updates every copy when the grant expires', async () => {
    const DAVE = { sub: 'dave-e2e', email: 'dave.e2e@example.com', slack: 'UDAVE' };
    const ERIN = { sub: 'erin-e2e', email: 'erin.e2e@example.com', slack: 'UERIN' };
    const CHANNEL = 'C0EXPIRY';
    for (const person of [DAVE, ERIN]) {
      slack.addUser({ id: person.slack, teamId: TEAM, email: person.email });
      await provision(person);
    }
    // A flow of its own: Erin (by name) approves, and the flow posts to a channel too.
    const admin = await stint.token({ sub: 'admin-e2e', email: 'admin.e2e@example.com', groups: ['stint-admins'] });
    const demo = await call(stint.url, 'GET', '/flows/demo-admin', { token: admin });
    const { id: _id, version: _v, lastChange: _l, ...flow } = z.record(z.string(), z.unknown()).parse(demo.json);
    const put = await call(stint.url, 'PUT', '/flows/slack-expiry', {
      token: admin,
      body: {
        ...flow,
        name: 'Admin, approved by Erin in Slack',
        slackChannel: CHANNEL,
        approval: {
          mode: 'manual',
          sets: [{ users: [ERIN.sub], groups: [] }],
          rule: { type: 'anyOf' },
          timeoutMinutes: 60,
          reasonRequired: false,
        },
      },
    });
    expect(put.status, put.text).toBe(200);

    const token = await stint.token({ sub: DAVE.sub, email: DAVE.email, groups: [] });
    const created = await call(stint.url, 'POST', '/requests', {
      token,
      body: { flowId: 'slack-expiry', durationMinutes: 1, justification: 'rotate the report job' },
    });
    expect(created.status, created.text).toBe(201);
    const { id } = z.object({ id: z.string() }).parse(created.json);
    const ofRequest = (c: SlackCall) => textOf(c).includes(id);

    const copies = await until(
      async () =>
        slack
          .succeededCallsOf('chat.postMessage')
          .filter((c) => ofRequest(c) && [`D${ERIN.slack}`, CHANNEL].includes(String(c.params.channel))),
      (posts) => posts.length === 2,
    );
    const erinCopy = copies.find((c) => c.params.channel === `D${ERIN.slack}`);
    expect(erinCopy === undefined ? '' : textOf(erinCopy)).toContain('"action_id":"stint_approve"');
    const where = copies.map((c) => Post.parse(c.answer));

    const click = signedClick({
      type: 'block_actions',
      team: { id: TEAM },
      user: { id: ERIN.slack, team_id: TEAM },
      response_url: slack.responseUrl('erin-click'),
      actions: [{ action_id: 'stint_approve', value: id, type: 'button' }],
    });
    const answer = await call(stint.url, 'POST', '/webhooks/slack/interactions', click);
    expect(answer.status).toBe(200);
    await until(
      async () => StatusView.parse((await call(stint.url, 'GET', `/requests/${id}`, { token })).json).status,
      (status) => status === 'ACTIVE',
    );
    const toDave = () =>
      slack.succeededCallsOf('chat.postMessage').filter((c) => c.params.channel === `D${DAVE.slack}`);
    await until(
      async () => toDave(),
      (posts) => posts.some((p) => textOf(p).includes(`:key: Your access (request \`${id}\`)`)),
    );

    // Nobody revokes: the grant ends when its minute is up.
    const ended = await until(
      async () => StatusView.parse((await call(stint.url, 'GET', `/requests/${id}`, { token })).json).status,
      (status) => !['ACTIVE', 'REVOKING'].includes(status),
      180_000,
    );
    expect(ended).toBe('EXPIRED');
    for (const copy of where) {
      const updates = await until(
        async () =>
          slack
            .succeededCallsOf('chat.update')
            .filter((c) => c.params.channel === copy.channel && c.params.ts === copy.ts),
        (calls) => calls.some((c) => textOf(c).includes('access has expired')),
      );
      const last = updates.at(-1);
      expect(last === undefined ? '' : textOf(last)).not.toContain('stint_approve');
    }
    const dms = await until(
      async () => toDave(),
      (posts) => posts.some((p) => textOf(p).includes(`:lock: Your access (request \`${id}\`) has expired.`)),
    );
    // Every notice once: active, (possibly the 10-minute reminder,) expired.
    const expiredDms = dms.filter((p) => textOf(p).includes('has expired.'));
    expect(expiredDms).toHaveLength(1);
  }, 240_000);

  it.concurrent('provisions people by SCIM, DMs the approver, takes a signed click, grants, tells the requester, updates on revoke', async () => {
    for (const person of [ALICE, BOB]) await provision(person);
    const group = await scim('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'dba',
      members: [{ value: BOB.sub }],
    });
    expect(group.status).toBe(201);

    // Alice asks; her token carries no groups: Bob is an approver through the directory's dba group.
    const token = await stint.token({ sub: ALICE.sub, email: ALICE.email, groups: [] });
    const created = await call(stint.url, 'POST', '/requests', {
      token,
      body: { flowId: 'demo-admin', durationMinutes: 5, justification: 'fix order 42' },
    });
    expect(created.status).toBe(201);
    const { id } = z.object({ id: z.string() }).parse(created.json);

    const [approvalDm] = await until(
      async () => slack.callsOf('chat.postMessage').filter((c) => c.params.channel === `D${BOB.slack}`),
      (posts) => posts.length === 1,
    );
    expect(approvalDm?.token).toBe(BOT_TOKEN);
    const dmText = approvalDm === undefined ? '' : textOf(approvalDm);
    expect(dmText).toContain('"action_id":"stint_approve"');
    expect(dmText).toContain('"action_id":"stint_reject"');
    expect(dmText).toContain(`"value":"${id}"`);
    expect(dmText).toContain('you are in group dba');
    expect(dmText).toContain('fix order 42');
    expect(slack.callsOf('chat.postMessage').filter((c) => c.params.channel === `D${ALICE.slack}`)).toEqual([]);
    const approverCopy = Post.parse(approvalDm?.answer);

    const click = signedClick({
      type: 'block_actions',
      team: { id: TEAM },
      user: { id: BOB.slack, team_id: TEAM },
      response_url: slack.responseUrl('bob-click'),
      actions: [{ action_id: 'stint_approve', value: id, type: 'button' }],
    });
    const answer = await call(stint.url, 'POST', '/webhooks/slack/interactions', {
      raw: click.raw,
      headers: click.headers,
    });
    expect(answer.status).toBe(200);
    expect(slack.responses).toContainEqual({
      path: '/response/bob-click',
      body: expect.objectContaining({ text: 'Approved: Stint is granting the access.' }),
    });

    // The same signed delivery again is a replay: refused, and no second vote.
    const replay = await call(stint.url, 'POST', '/webhooks/slack/interactions', {
      raw: click.raw,
      headers: click.headers,
    });
    expect(replay.status).toBe(401);

    const active = await until(
      () => call(stint.url, 'GET', `/requests/${id}`, { token }),
      (r) => z.object({ status: z.string() }).parse(r.json).status === 'ACTIVE',
    );
    const request = z
      .object({ votes: z.array(z.object({ by: z.string(), vote: z.string(), channel: z.string() })) })
      .parse(active.json);
    expect(request.votes).toEqual([expect.objectContaining({ by: BOB.sub, vote: 'approve', channel: 'slack' })]);

    const requesterDms = await until(
      async () => slack.callsOf('chat.postMessage').filter((c) => c.params.channel === `D${ALICE.slack}`),
      (posts) => posts.some((p) => textOf(p).includes(':key: Your access')),
    );
    const activeDm = requesterDms.find((p) => textOf(p).includes(':key: Your access'));
    expect(activeDm === undefined ? '' : textOf(activeDm)).toContain(`stint access ${id}`);

    const revoked = await call(stint.url, 'POST', `/requests/${id}/revoke`, { token, body: {} });
    expect(revoked.status).toBe(200);
    const updates = await until(
      async () =>
        slack
          .callsOf('chat.update')
          .filter((c) => c.params.channel === approverCopy.channel && c.params.ts === approverCopy.ts),
      (calls) => calls.some((c) => textOf(c).includes('access was revoked')),
    );
    const last = updates.at(-1);
    expect(last === undefined ? '' : textOf(last)).not.toContain('stint_approve');
    expect(last === undefined ? '' : textOf(last)).toContain(`approved by ${BOB.email} (slack)`);
    await until(
      async () => slack.callsOf('chat.postMessage').filter((c) => c.params.channel === `D${ALICE.slack}`),
      (posts) => posts.some((p) => textOf(p).includes(`:lock: Your access (request \`${id}\`) was revoked`)),
    );
  });

  it('asks for access and lists it with the /stint slash command', async () => {
    const CAROL = { sub: 'carol-e2e', email: 'carol.e2e@example.com', slack: 'UCAROL' };
    slack.addUser({ id: CAROL.slack, teamId: TEAM, email: CAROL.email });
    const created = await scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: CAROL.email,
      externalId: CAROL.sub,
      emails: [{ value: CAROL.email, primary: true, type: 'work' }],
      active: true,
    });
    expect(created.status).toBe(201);

    const ask = signedCommand(CAROL.slack, 'request demo-admin 5 check the nightly report');
    const answer = await call(stint.url, 'POST', '/webhooks/slack/commands', { raw: ask.raw, headers: ask.headers });
    expect(answer.status).toBe(200);
    const { response_type, text } = z.object({ response_type: z.string(), text: z.string() }).parse(answer.json);
    expect(response_type).toBe('ephemeral');
    const id = /^Request `([^`]+)` for demo-admin \(5 min\): PENDING\.$/.exec(text)?.[1];
    expect(id).toBeDefined();

    const token = await stint.token({ sub: CAROL.sub, email: CAROL.email, groups: [] });
    const stored = await call(stint.url, 'GET', `/requests/${id}`, { token });
    expect(z.object({ status: z.string(), justification: z.string() }).parse(stored.json)).toEqual({
      status: 'PENDING',
      justification: 'check the nightly report',
    });

    const list = signedCommand(CAROL.slack, 'list');
    const listed = await call(stint.url, 'POST', '/webhooks/slack/commands', { raw: list.raw, headers: list.headers });
    expect(z.object({ text: z.string() }).parse(listed.json).text).toContain(`\`${id}\` demo-admin — PENDING`);

    const replay = await call(stint.url, 'POST', '/webhooks/slack/commands', { raw: ask.raw, headers: ask.headers });
    expect(replay.status).toBe(401);
  });
});

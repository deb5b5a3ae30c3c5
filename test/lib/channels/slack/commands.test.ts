import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SlackClient } from '#lib/channels/slack/client.ts';
import { COMMAND_NOT_KNOWN, handleSlackCommand, type SlackCommandDeps, USAGE } from '#lib/channels/slack/commands.ts';
import { SlackState } from '#lib/channels/slack/state.ts';
import { signSlackRequest } from '#lib/channels/slack/verify.ts';
import { AdminService } from '#lib/services/admin.ts';
import { RequestService } from '#lib/services/requests.ts';
import { Store } from '#lib/store/store.ts';
import { MemoryDirectory } from '../../../fixtures/slack/directory.ts';
import { SlackStandIn } from '../../../fixtures/slack/server.ts';
import { type LocalTable, startDynalite } from '../../../support/dynalite.ts';
import { aFlow, anIdentity, anIntegration, aRequest } from '../../../support/fixtures.ts';
import { RecordingExecutions } from '../../../support/recording-executions.ts';
import { LOCAL_SECRETS, ROLES, seedFlow, seedIntegration, TestClock } from '../../../support/services.ts';

const SECRET = 'slack-signing-secret-for-tests';
const TEAM = 'T0001';
const NOW = '2030-01-15T10:00:00.000Z';
const nowSeconds = Date.parse(NOW) / 1000;

let table: LocalTable;
let slack: SlackStandIn;
let store: Store;
let executions: RecordingExecutions;
let deps: SlackCommandDeps;

beforeEach(async () => {
  table = await startDynalite();
  slack = await SlackStandIn.start();
  const clock = new TestClock(NOW);
  store = new Store(table.doc, table.tableName, { now: clock.now });
  executions = new RecordingExecutions();
  const directory = new MemoryDirectory()
    .addUser({ id: 'requester-1', email: 'requester-1@example.com', accounts: [slackAccount('U_REQ')] })
    .addUser({ id: 'sre-1', email: 'sre-1@example.com', accounts: [slackAccount('U_SRE')] })
    .addGroup('sre', ['sre-1']);
  await seedIntegration(store, anIntegration());
  await seedFlow(store, aFlow());
  await seedFlow(store, aFlow({ id: 'prod-admin', name: 'Production admin', requestors: sreOnly() }));
  deps = {
    signingSecret: async () => SECRET,
    guard: new SlackState(table.doc, table.tableName),
    directory,
    slack: new SlackClient({ token: async () => 'xoxb-test', baseUrl: slack.apiUrl, responseOrigins: [slack.url] }),
    requests: new RequestService({ store, executions, roles: ROLES, now: clock.now }),
    catalog: new AdminService({ store, roles: ROLES, now: clock.now, secretRefMode: LOCAL_SECRETS }),
    now: clock.now,
  };
});

afterEach(async () => {
  await slack.stop();
  await table.stop();
});

function sreOnly() {
  return { everyone: false, users: [], groups: ['sre'] };
}

function slackAccount(userId: string) {
  return { kind: 'slack' as const, teamId: TEAM, userId };
}

let sent = 0;
function command(userId: string, text: string): string {
  sent += 1;
  return new URLSearchParams({
    command: '/stint',
    text,
    user_id: userId,
    team_id: TEAM,
    response_url: slack.responseUrl(`cmd-${sent}`),
    trigger_id: `trigger-${sent}`,
  }).toString();
}

function signed(rawBody: string, at = nowSeconds) {
  return {
    rawBody,
    headers: { 'x-slack-request-timestamp': String(at), 'x-slack-signature': signSlackRequest(SECRET, at, rawBody) },
  };
}

/** The ephemeral text of a 200 answer. */
async function say(userId: string, text: string): Promise<string> {
  const response = await handleSlackCommand(deps, signed(command(userId, text)));
  expect(response.status).toBe(200);
  const body: unknown = JSON.parse(response.body ?? '{}');
  expect(body).toMatchObject({ response_type: 'ephemeral' });
  return typeof body === 'object' && body !== null && 'text' in body && typeof body.text === 'string' ? body.text : '';
}

async function requestsOf(sub: string) {
  return (await store.listRequestsByRequester(sub, {})).items;
}

describe('refused commands create nothing', () => {
  const body = () => command('U_REQ', 'request db-readonly 30 incident 42');

  it('refuses a forged signature', async () => {
    const rawBody = body();
    const response = await handleSlackCommand(deps, {
      rawBody,
      headers: {
        'x-slack-request-timestamp': String(nowSeconds),
        'x-slack-signature': signSlackRequest('not-the-secret', nowSeconds, rawBody),
      },
    });
    expect(response.status).toBe(401);
    expect(response.body).toContain('bad-signature');
    expect(await requestsOf('requester-1')).toEqual([]);
    expect(executions.starts).toEqual([]);
  });

  it('refuses a request without a signature', async () => {
    const response = await handleSlackCommand(deps, {
      rawBody: body(),
      headers: { 'x-slack-request-timestamp': String(nowSeconds) },
    });
    expect(response.status).toBe(401);
    expect(response.body).toContain('missing-signature');
    expect(await requestsOf('requester-1')).toEqual([]);
  });

  it('refuses a signature older than five minutes', async () => {
    const response = await handleSlackCommand(deps, signed(body(), nowSeconds - 6 * 60));
    expect(response.status).toBe(401);
    expect(response.body).toContain('stale-timestamp');
    expect(await requestsOf('requester-1')).toEqual([]);
  });

  it('refuses a replay of a valid command: one request only', async () => {
    const delivery = signed(body());
    expect((await handleSlackCommand(deps, delivery)).status).toBe(200);
    const replay = await handleSlackCommand(deps, delivery);
    expect(replay.status).toBe(401);
    expect(replay.body).toContain('replayed');
    expect(await requestsOf('requester-1')).toHaveLength(1);
    expect(executions.starts).toHaveLength(1);
  });
});

describe('/stint', () => {
  it('shows the usage without a sub-command and for help', async () => {
    expect(await say('U_REQ', '')).toBe(USAGE);
    expect(await say('U_REQ', 'help')).toBe(USAGE);
  });

  it('names an unknown sub-command and shows the usage', async () => {
    const text = await say('U_REQ', 'grant me everything');
    expect(text).toContain('Unknown command `grant`');
    expect(text).toContain(USAGE);
  });

  it('tells a Slack user who maps to no Stint identity so, and creates nothing', async () => {
    const text = await say('U_NOBODY', 'request db-readonly 30 let me in');
    expect(text).toBe(COMMAND_NOT_KNOWN);
    expect(executions.starts).toEqual([]);
    expect((await store.listAllRequests({})).items).toEqual([]);
  });
});

describe('/stint list', () => {
  it("lists the caller's newest ten requests, newest first, and nobody else's", async () => {
    const mine = [];
    for (let i = 0; i < 12; i += 1) {
      const createdAt = new Date(Date.parse(NOW) - (12 - i) * 60_000).toISOString();
      const request = aRequest({ requester: anIdentity({ sub: 'requester-1' }), createdAt });
      await store.createRequest(request);
      mine.push(request);
    }
    const granted = aRequest({
      requester: anIdentity({ sub: 'requester-1' }),
      status: 'ACTIVE',
      grantedAt: NOW,
      expiresAt: '2030-01-15T10:30:00.000Z',
    });
    await store.createRequest(granted);
    const theirs = aRequest({ requester: anIdentity({ sub: 'sre-1' }) });
    await store.createRequest(theirs);

    const lines = (await say('U_REQ', 'list')).split('\n');

    expect(lines[0]).toBe('Your newest 10 request(s):');
    expect(lines).toHaveLength(11);
    expect(lines[1]).toBe(`• \`${granted.id}\` db-readonly — ACTIVE — expires 2030-01-15T10:30:00.000Z`);
    expect(lines[2]).toBe(`• \`${mine[11]?.id}\` db-readonly — PENDING — 30 min once granted`);
    const listed = lines.slice(1).join('\n');
    expect(listed).not.toContain(theirs.id);
    expect(listed).not.toContain(mine[0]?.id);
  });

  it('says so when the caller has no request', async () => {
    expect(await say('U_SRE', 'list')).toContain('You have no requests.');
  });
});

describe('/stint flows', () => {
  it('lists only the flows the caller may request under', async () => {
    const text = await say('U_REQ', 'flows');
    expect(text).toContain('`db-readonly` Database read-only — up to 120 min, justification required');
    expect(text).not.toContain('prod-admin');
  });

  it('lists a flow open to one of the caller’s directory groups', async () => {
    const text = await say('U_SRE', 'flows');
    expect(text).toContain('`db-readonly`');
    expect(text).toContain('`prod-admin` Production admin');
  });
});

describe('/stint request', () => {
  it('creates a request on the slack channel and answers with its id and status', async () => {
    const text = await say('U_REQ', 'request db-readonly 45 incident 42: read the orders table');

    const [request] = await requestsOf('requester-1');
    expect(request).toMatchObject({
      flowId: 'db-readonly',
      durationMinutes: 45,
      justification: 'incident 42: read the orders table',
      status: 'PENDING',
      requester: { sub: 'requester-1' },
      lastChange: { channel: 'slack', action: 'create' },
    });
    expect(text).toBe(`Request \`${request?.id}\` for db-readonly (45 min): PENDING.`);
    expect(executions.starts).toEqual([{ requestId: request?.id, attempt: 0 }]);
  });

  it('shows the flow’s refusal when the duration is over its maximum, and creates nothing', async () => {
    const text = await say('U_REQ', 'request db-readonly 121 a long night');
    expect(text).toBe('Refused: the duration can be at most 120 minutes under this flow.');
    expect(await requestsOf('requester-1')).toEqual([]);
    expect(executions.starts).toEqual([]);
  });

  it('refuses a flow the caller may not request under', async () => {
    const text = await say('U_REQ', 'request prod-admin 30 need it');
    expect(text).toMatch(/^Refused: /);
    expect(await requestsOf('requester-1')).toEqual([]);
  });

  it('shows the usage when the minutes are missing or not a number', async () => {
    expect(await say('U_REQ', 'request db-readonly')).toContain('Usage: `/stint request');
    expect(await say('U_REQ', 'request db-readonly soon please')).toContain('Usage: `/stint request');
    expect(await requestsOf('requester-1')).toEqual([]);
  });
});

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { DEMO } from '#lib/local/seed.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { type PagerDutyOnCall, type PagerDutyStandIn, startPagerDuty } from '../fixtures/pagerduty/server.ts';
import { requestsOver } from '../support/e2e-requests.ts';
import { call, until } from '../support/http.ts';

/**
 * On-call end to end, through the local runtime over HTTP, on the synthesized template: the config's `oncall` block
 * points at PagerDuty stand-ins (one healthy, one that answers 500 to everything), whose rosters are relative to now.
 * - An approver set `oncall: { provider, schedule }`: whoever is on call now approves and the request goes ACTIVE;
 *   someone who was on call yesterday is refused; a provider answering 500 admits nobody, and the other set still
 *   approves.
 * - The on-call approver finds the request in `GET /requests?scope=approvals`; who was on call yesterday does not.
 * - On-call requestors with `approval: auto`: auto-approved, the duration capped at the shift's end, refused once the
 *   shift is over.
 */
let stint: Stint;
let pagerduty: PagerDutyStandIn;
let down: PagerDutyStandIn;

const people = {
  alice: { sub: 'alice', email: 'alice@example.com', groups: [] as string[] },
  olga: { sub: 'olga', email: 'olga@example.com', groups: [] as string[] },
  nina: { sub: 'nina', email: 'nina@example.com', groups: [] as string[] },
  dave: { sub: 'dave', email: 'dave@example.com', groups: [] as string[] },
  /** Olga again, as an auditor: she may see every request, so a refused vote tells her why. */
  olgaAuditor: { sub: 'olga', email: 'olga@example.com', groups: ['stint-auditors'] },
  root: { sub: 'root', email: 'root@example.com', groups: ['stint-admins'] },
};
type Person = keyof typeof people;
const tokens = {} as Record<Person, string>;

const HOUR = 3_600_000;
const at = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();
const OLGA = { id: 'PUSER01', name: 'Olga', email: 'Olga@Example.com' };
const NINA = { id: 'PUSER02', name: 'Nina', email: 'nina@example.com' };
const onCall = (user: typeof OLGA, scheduleId: string, start: string, end: string): PagerDutyOnCall => ({
  user,
  scheduleId,
  escalationPolicyId: 'PPOLICY',
  level: 1,
  start,
  end,
});
/** Olga is on call now in both schedules (in PREQUEST until 30 minutes from now); Nina was on call yesterday. */
const rosterNow = (): PagerDutyOnCall[] => [
  onCall(OLGA, 'PAPPROVE', at(-HOUR), at(8 * HOUR)),
  onCall(NINA, 'PAPPROVE', at(-25 * HOUR), at(-HOUR)),
  onCall(OLGA, 'PREQUEST', at(-HOUR), at(30 * 60_000)),
  onCall(NINA, 'PREQUEST', at(-25 * HOUR), at(-HOUR)),
];

const requests = requestsOver<Person>({
  url: () => stint.url,
  token: (who) => tokens[who],
  admin: 'root',
  justification: 'incident 4711',
  flow: () => ({
    requestors: { everyone: true },
    targets: [{ integrationId: DEMO.integrationId, resource: DEMO.database, permission: 'readonly' }],
    defaultMinutes: 5,
    maxMinutes: 120,
    justificationRequired: true,
  }),
});

const Problem = z.looseObject({
  type: z.string(),
  status: z.number(),
  detail: z.string(),
  field: z.string().optional(),
});
const Shift = z.object({ provider: z.string(), schedule: z.string().optional(), start: z.string(), end: z.string() });
const Voted = z.looseObject({
  votes: z.array(
    z.looseObject({
      by: z.string(),
      sets: z.array(z.number()),
      oncall: z.array(Shift.extend({ set: z.number() })).optional(),
    }),
  ),
  approval: z
    .looseObject({
      sets: z.array(
        z.looseObject({
          index: z.number(),
          oncall: z.looseObject({ provider: z.string(), unavailable: z.string().optional() }).optional(),
        }),
      ),
    })
    .optional(),
});

/** Two approver sets: whoever is on call in `provider`'s PAPPROVE, or dave. */
const approvedBy = (provider: string) => ({
  approval: {
    mode: 'manual' as const,
    sets: [
      { name: 'Primary on-call', users: [], groups: [], oncall: { provider, schedule: 'PAPPROVE' } },
      { name: 'Dave', users: ['dave'], groups: [] },
    ],
    rule: { type: 'anyOf' as const },
    timeoutMinutes: 30,
    reasonRequired: false,
  },
});

beforeAll(async () => {
  pagerduty = await startPagerDuty({ apiKey: 'pd-key', roster: rosterNow() });
  down = await startPagerDuty({ apiKey: 'pd-key', roster: rosterNow() });
  down.failNext({ kind: 'error', status: 500, times: 10_000 });
  stint = await startStint({
    pgDataDir: join(await clusterParentDir('stint-e2e-oncall'), 'pg'),
    pgPort: await freePort(),
    port: 0,
    scheduleEveryMs: 1000,
    env: { E2E_PAGERDUTY_KEY: 'pd-key' },
    config: {
      oncall: [
        // No cache: every vote and request asks the stand-in, so the roster a test sets is the one that counts.
        {
          name: 'pagerduty',
          kind: 'pagerduty',
          apiUrl: pagerduty.url,
          secretRef: 'env:E2E_PAGERDUTY_KEY',
          cacheSeconds: 0,
        },
        { name: 'pd-down', kind: 'pagerduty', apiUrl: down.url, secretRef: 'env:E2E_PAGERDUTY_KEY', cacheSeconds: 0 },
      ],
    },
  });
  for (const name of Object.keys(people) as Person[]) tokens[name] = await stint.token(people[name]);
  await requests.putFlow('oncall-approve', approvedBy('pagerduty'));
  await requests.putFlow('oncall-down', approvedBy('pd-down'));
  await requests.putFlow('oncall-request', {
    requestors: { everyone: false, users: [], groups: [], oncall: [{ provider: 'pagerduty', schedule: 'PREQUEST' }] },
    approval: { mode: 'auto' },
  });
}, 180_000);

afterAll(async () => {
  await stint?.stop();
  await pagerduty?.close();
  await down?.close();
});

describe('on-call approvers', { timeout: 120_000 }, () => {
  it('refuses a flow naming an on-call provider that is not configured (400 naming the field)', async () => {
    const res = await call(stint.url, 'PUT', '/flows/oncall-unknown', {
      token: tokens.root,
      body: { name: 'x', ...approvedByBody('opsgenie') },
    });
    expect(res.status, res.text).toBe(400);
    expect(Problem.parse(res.json)).toMatchObject({
      field: 'body.approval.sets.0.oncall.provider',
      detail: "No on-call provider 'opsgenie' is configured (configured: pagerduty, pd-down)",
    });
  });

  it('the on-call user approves and the request goes ACTIVE; who was on call yesterday is refused', async () => {
    const created = await requests.create('alice', 'oncall-approve');
    expect(created.status).toBe('PENDING');

    const byNina = await requests.act('nina', created.id, 'approve');
    expect(byNina.status, byNina.text).toBe(404); // not an approver now: the request does not exist for her
    expect((await requests.get('alice', created.id)).status).toBe('PENDING');

    const seen = Voted.parse((await call(stint.url, 'GET', `/requests/${created.id}`, { token: tokens.olga })).json);
    expect(seen.approval?.sets[0]?.oncall).toEqual({ provider: 'pagerduty', schedule: 'PAPPROVE' });

    const byOlga = await requests.act('olga', created.id, 'approve', { reason: 'on call' });
    expect(byOlga.status, byOlga.text).toBe(200);
    const granted = Voted.parse(await requests.reach('alice', created.id, 'ACTIVE'));
    // Olga still sees the request she decided (she voted on it), now that nobody asks who is on call for it.
    expect((await call(stint.url, 'GET', `/requests/${created.id}`, { token: tokens.olga })).status).toBe(200);
    expect(granted.votes).toHaveLength(1);
    expect(granted.votes[0]).toMatchObject({ by: 'olga', sets: [0] });
    expect(granted.votes[0]?.oncall).toEqual([
      expect.objectContaining({ set: 0, provider: 'pagerduty', schedule: 'PAPPROVE' }),
    ]);
    const asked = pagerduty.requests.filter((r) => r.query.getAll('schedule_ids[]').includes('PAPPROVE'));
    expect(asked.length).toBeGreaterThan(0);
    await requests.revoke('alice', created.id);
  });

  it('the on-call approver lists the request with scope=approvals; who was on call yesterday does not', async () => {
    const created = await requests.create('alice', 'oncall-approve');
    const Listing = z.object({
      items: z.array(
        z.looseObject({
          id: z.string(),
          approval: z.looseObject({ eligible: z.boolean(), mine: z.array(z.looseObject({ index: z.number() })) }),
        }),
      ),
    });
    const listing = async (who: Person) => {
      const res = await call(stint.url, 'GET', '/requests?scope=approvals', { token: tokens[who] });
      expect(res.status, res.text).toBe(200);
      return Listing.parse(res.json).items;
    };
    const inbox = async (who: Person) => (await listing(who)).map((r) => r.id);

    const olgas = (await listing('olga')).find((r) => r.id === created.id);
    // The inbox's approval view says why: she may vote now, through the on-call set, on her shift.
    expect(olgas?.approval.eligible).toBe(true);
    expect(olgas?.approval.mine).toEqual([
      expect.objectContaining({ index: 0, onCallShift: expect.objectContaining({ provider: 'pagerduty' }) }),
    ]);
    expect(await inbox('nina')).not.toContain(created.id);
    expect(await inbox('dave')).toContain(created.id);

    const cancelled = await requests.act('alice', created.id, 'cancel');
    expect(cancelled.status, cancelled.text).toBe(200);
    expect(await inbox('olga')).not.toContain(created.id);
  });

  it('a provider answering 500 admits nobody through its set, and the other set still approves', async () => {
    const created = await requests.create('alice', 'oncall-down');

    const view = Voted.parse((await call(stint.url, 'GET', `/requests/${created.id}`, { token: tokens.dave })).json);
    expect(view.approval?.sets[0]?.oncall?.unavailable).toMatch(/pd-down/);

    const byOlga = await requests.act('olga', created.id, 'approve');
    expect(byOlga.status, byOlga.text).toBe(404); // on call, but the provider cannot say so: fail closed
    const seeing = await requests.act('olgaAuditor', created.id, 'approve');
    expect(seeing.status, seeing.text).toBe(403);
    expect(Problem.parse(seeing.json)).toMatchObject({ type: 'https://stint.dev/problems/not-approver' });
    expect(Problem.parse(seeing.json).detail).toMatch(
      /^you are not an approver of this request \(who is on call could not be checked, so nobody is admitted as on call: on-call provider pd-down: .*500/,
    );
    expect((await requests.get('alice', created.id)).status).toBe('PENDING');

    const byDave = await requests.act('dave', created.id, 'approve');
    expect(byDave.status, byDave.text).toBe(200);
    const approved = Voted.parse(await requests.reach('alice', created.id, 'ACTIVE'));
    expect(approved.votes).toEqual([expect.objectContaining({ by: 'dave', sets: [1] })]);
    expect(approved.votes[0]).not.toHaveProperty('oncall');
    await requests.revoke('alice', created.id);
  });
});

describe('a shift change before a decision', { timeout: 120_000 }, () => {
  it('the reconciler records who is on call, then the new person once the shift changes', async () => {
    const created = await requests.create('alice', 'oncall-approve');
    const notified = z.looseObject({
      onCallNotified: z.array(z.object({ set: z.number(), email: z.string() })).optional(),
    });
    const emails = async () =>
      (notified.parse(await requests.get('alice', created.id)).onCallNotified ?? []).map((n) => `${n.set}:${n.email}`);
    expect(await until(emails, (e) => e.length > 0, 20_000)).toEqual(['0:olga@example.com']);

    // Olga's shift ends now and Nina's begins.
    pagerduty.setRoster([
      onCall(OLGA, 'PAPPROVE', at(-HOUR), at(-1_000)),
      onCall(NINA, 'PAPPROVE', at(-1_000), at(8 * HOUR)),
      ...rosterNow().filter((o) => o.scheduleId === 'PREQUEST'),
    ]);
    try {
      expect(await until(emails, (e) => e.length > 1, 20_000)).toEqual(['0:olga@example.com', '0:nina@example.com']);
      const byNina = await requests.act('nina', created.id, 'approve');
      expect(byNina.status, byNina.text).toBe(200);
      await requests.reach('alice', created.id, 'ACTIVE');
      expect(await emails()).toEqual(['0:olga@example.com', '0:nina@example.com']);
    } finally {
      pagerduty.setRoster(rosterNow());
    }
    await requests.revoke('alice', created.id);
  });
});

describe('on-call requestors', { timeout: 120_000 }, () => {
  it('auto-approves whoever is on call with the duration capped at the shift end, and refuses others', async () => {
    const res = await call(stint.url, 'POST', '/requests', {
      token: tokens.olga,
      body: { flowId: 'oncall-request', durationMinutes: 120, justification: 'incident 4711' },
    });
    expect(res.status, res.text).toBe(201);
    const made = z
      .looseObject({
        id: z.string(),
        status: z.string(),
        durationMinutes: z.number(),
        onCall: Shift.extend({ askedMinutes: z.number().optional() }),
      })
      .parse(res.json);
    expect(made.status).toBe('APPROVED');
    expect(made.durationMinutes).toBeGreaterThanOrEqual(28);
    expect(made.durationMinutes).toBeLessThanOrEqual(30);
    expect(made.onCall).toMatchObject({ provider: 'pagerduty', schedule: 'PREQUEST', askedMinutes: 120 });
    const active = await requests.reach('olga', made.id, 'ACTIVE');
    expect(Date.parse(active.expiresAt ?? '')).toBeLessThanOrEqual(Date.parse(made.onCall.end));

    const byNina = await call(stint.url, 'POST', '/requests', {
      token: tokens.nina,
      body: { flowId: 'oncall-request', durationMinutes: 10, justification: 'incident 4711' },
    });
    expect(byNina.status, byNina.text).toBe(403);
    expect(Problem.parse(byNina.json).detail).toBe(
      'you may not request access under flow oncall-request: it admits whoever is on call in PREQUEST (pagerduty), and you are not on call now',
    );
    await requests.revoke('olga', made.id);
  });

  it('refuses the on-call requestor once their shift is over', async () => {
    pagerduty.setRoster([onCall(OLGA, 'PREQUEST', at(-2 * HOUR), at(-60_000))]);
    try {
      const res = await call(stint.url, 'POST', '/requests', {
        token: tokens.olga,
        body: { flowId: 'oncall-request', durationMinutes: 10, justification: 'incident 4711' },
      });
      expect(res.status, res.text).toBe(403);
      expect(res.contentType).toContain('application/problem+json');
      expect(Problem.parse(res.json).detail).toContain('you are not on call now');
    } finally {
      pagerduty.setRoster(rosterNow());
    }
  });
});

function approvedByBody(provider: string) {
  return {
    requestors: { everyone: true },
    targets: [{ integrationId: DEMO.integrationId, resource: DEMO.database, permission: 'readonly' }],
    defaultMinutes: 5,
    maxMinutes: 120,
    ...approvedBy(provider),
  };
}

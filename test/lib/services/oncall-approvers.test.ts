import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForbiddenError, NotApproverError, NotFoundError, ValidationError } from '#lib/domain/errors.ts';
import { createOnCallProviders } from '#lib/oncall/providers.ts';
import { AdminService } from '#lib/services/admin.ts';
import { Reconciler } from '#lib/services/reconciler.ts';
import { RequestService } from '#lib/services/requests.ts';
import { Store } from '#lib/store/store.ts';
import { type PagerDutyOnCall, type PagerDutyStandIn, startPagerDuty } from '../../fixtures/pagerduty/server.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aFlow, anIdentity, anIntegration } from '../../support/fixtures.ts';
import { RecordingExecutions } from '../../support/recording-executions.ts';
import { LOCAL_SECRETS, ROLES, seedFlow, seedIntegration, TestClock } from '../../support/services.ts';

/**
 * Shift members as approvers and on-call requestors against dynalite and the PagerDuty stand-in: the service asks
 * the provider at the moment of the vote (or the request), with the service's own clock, and fails closed.
 */
const NOW = '2030-01-15T10:00:00.000Z';
const HOUR = 3_600_000;
const iso = (offsetMs: number) => new Date(Date.parse(NOW) + offsetMs).toISOString();
const OLGA = { id: 'PUSER01', name: 'Olga', email: 'Olga@Example.com' };
const shift = (start: string, end: string): PagerDutyOnCall => ({
  user: OLGA,
  scheduleId: 'PSCHED',
  escalationPolicyId: 'PPOLICY',
  level: 1,
  start,
  end,
});

const approveFlow = aFlow({
  id: 'oncall-approve',
  approval: {
    mode: 'manual',
    sets: [
      { users: [], groups: [], oncall: { provider: 'pagerduty', schedule: 'PSCHED' } },
      { users: ['dave'], groups: [] },
    ],
    rule: { type: 'anyOf' },
    timeoutMinutes: 60,
    reasonRequired: false,
  },
});
const requestFlow = aFlow({
  id: 'oncall-request',
  requestors: { everyone: false, users: [], groups: [], oncall: [{ provider: 'pagerduty', schedule: 'PSCHED' }] },
  approval: { mode: 'auto' },
  maxMinutes: 240,
});

const alice = anIdentity({ sub: 'alice' });
const olga = anIdentity({ sub: 'olga', email: 'olga@example.com' });
const dave = anIdentity({ sub: 'dave' });
const root = anIdentity({ sub: 'root', groups: ['stint-admins'] });

let table: LocalTable;
let store: Store;
let pd: PagerDutyStandIn;
let clock: TestClock;
let service: RequestService;

function serviceWith(apiKey: string): RequestService {
  const oncall = createOnCallProviders(
    [{ name: 'pagerduty', kind: 'pagerduty', region: 'us', apiUrl: pd.url, secretRef: 'env:X', cacheSeconds: 60 }],
    { local: true, resolveSecret: async () => apiKey, now: () => clock.now().getTime() },
  );
  return new RequestService({ store, executions: new RecordingExecutions(), roles: ROLES, now: clock.now, oncall });
}

beforeEach(async () => {
  table = await startDynalite();
  clock = new TestClock(NOW);
  store = new Store(table.doc, table.tableName, { now: clock.now });
  pd = await startPagerDuty({ apiKey: 'pd-key', roster: [shift(iso(-HOUR), iso(2 * HOUR))], now: clock.now });
  service = serviceWith('pd-key');
  await seedIntegration(store, anIntegration());
  await seedFlow(store, approveFlow);
  await seedFlow(store, requestFlow);
});
afterEach(async () => {
  await pd.close();
  await table.stop();
});

const ask = (flowId: string, durationMinutes = 30) => ({ flowId, durationMinutes, justification: 'incident' });

describe('on-call approvers (store, service, PagerDuty stand-in)', () => {
  it('lets whoever is on call at the moment of the vote approve, and stores the shift with the vote', async () => {
    const created = await service.create(ask(approveFlow.id), alice, 'api');
    const { request, oncall } = await service.vote(created.id, olga, { vote: 'approve', channel: 'api' });
    expect(request.status).toBe('APPROVED');
    expect(oncall.get(0)).toEqual({ shifts: [expect.objectContaining({ email: 'olga@example.com' })] });
    const stored = await store.getRequest(created.id);
    expect(stored?.votes[0]?.oncall).toEqual([
      {
        set: 0,
        provider: 'pagerduty',
        schedule: 'PSCHED',
        escalationPolicy: 'PPOLICY',
        level: 1,
        start: iso(-HOUR),
        end: iso(2 * HOUR),
      },
    ]);
    const asked = pd.requests.at(-1);
    expect(asked?.query.getAll('schedule_ids[]')).toEqual(['PSCHED']);
    expect(asked?.query.get('since')).toBe(NOW);
    // After her shift, she still sees the request she voted on; someone who never voted does not.
    clock.advanceMinutes(3 * 60);
    expect((await service.get(created.id, olga)).id).toBe(created.id);
    await expect(service.get(created.id, anIdentity({ sub: 'nina' }))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses the same person once the shift has ended (asked again at the new moment)', async () => {
    const created = await service.create(ask(approveFlow.id), alice, 'api');
    clock.advanceMinutes(3 * 60);
    await expect(service.vote(created.id, olga, { vote: 'approve', channel: 'api' })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect((await store.getRequest(created.id))?.votes).toEqual([]);
  });

  it('fails closed when the provider refuses the key, and the other set still approves', async () => {
    service = serviceWith('wrong-key');
    const created = await service.create(ask(approveFlow.id), alice, 'api');
    const seen = await service.getWithOnCall(created.id, dave);
    expect(seen.oncall.get(0)).toEqual({ unavailable: expect.stringContaining('on-call provider pagerduty') });
    const auditorOlga = anIdentity({ sub: 'olga', email: 'olga@example.com', groups: ['stint-auditors'] });
    const refused = await service
      .vote(created.id, auditorOlga, { vote: 'approve', channel: 'api' })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(NotApproverError);
    expect((refused as Error).message).toContain('who is on call could not be checked');
    const { request } = await service.vote(created.id, dave, { vote: 'approve', channel: 'api' });
    expect(request.status).toBe('APPROVED');
    expect(request.votes.map((v) => [v.by, v.sets])).toEqual([['dave', [1]]]);
  });
});

describe('on-call approvers in GET /requests?scope=approvals (store, service, PagerDuty stand-in)', () => {
  const approvals = (who: typeof olga) =>
    service.list(who, { scope: 'approvals' }).then((p) => p.items.map((r) => r.id));
  const byOlga = aFlow({
    id: 'olga-approves',
    approval: {
      mode: 'manual',
      sets: [{ users: ['olga'], groups: [] }],
      rule: { type: 'anyOf' },
      timeoutMinutes: 60,
      reasonRequired: false,
    },
  });

  it('lists the pending request to whoever is on call now, asking the provider for the schedule', async () => {
    const created = await service.create(ask(approveFlow.id), alice, 'api');
    const before = pd.requests.length;

    expect(await approvals(olga)).toEqual([created.id]);
    const asked = pd.requests.slice(before);
    expect(asked.map((r) => r.query.getAll('schedule_ids[]'))).toEqual([['PSCHED']]);
    expect(asked[0]?.query.get('since')).toBe(NOW);
  });

  it('does not list it to someone off call, nor to the same person once the shift is over', async () => {
    const created = await service.create(ask(approveFlow.id), alice, 'api');

    expect(await approvals(anIdentity({ sub: 'nina', email: 'nina@example.com' }))).toEqual([]);
    expect(await approvals(dave)).toEqual([created.id]);
    clock.advanceMinutes(3 * 60);
    expect(await approvals(olga)).toEqual([]);
  });

  it('lists nothing through a provider that is down, and still lists the caller’s other approvals', async () => {
    service = serviceWith('wrong-key');
    await seedFlow(store, byOlga);
    await service.create(ask(approveFlow.id), alice, 'api');
    clock.advanceMinutes(1);
    const named = await service.create(ask(byOlga.id), alice, 'api');

    expect(await approvals(olga)).toEqual([named.id]);
    expect(pd.requests.at(-1)?.status).toBe(401);
  });
});

describe('on-call requestors (store, service, PagerDuty stand-in)', () => {
  it('auto-approves whoever is on call, caps the duration at the shift end and stores the shift', async () => {
    const made = await service.create(ask(requestFlow.id, 240), olga, 'api');
    expect(made.status).toBe('APPROVED');
    expect(made.durationMinutes).toBe(120);
    expect((await store.getRequest(made.id))?.onCall).toEqual({
      provider: 'pagerduty',
      schedule: 'PSCHED',
      escalationPolicy: 'PPOLICY',
      level: 1,
      start: iso(-HOUR),
      end: iso(2 * HOUR),
      askedMinutes: 240,
    });
  });

  it('refuses them once the shift is over (403)', async () => {
    clock.advanceMinutes(2 * 60 + 1);
    const refused = await service.create(ask(requestFlow.id), olga, 'api').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ForbiddenError);
    expect((refused as Error).message).toContain('you are not on call now');
  });
});

describe('flows naming on-call providers (admin)', () => {
  const admin = (oncall: { name: string; kind: 'pagerduty' | 'opsgenie' }[]) =>
    new AdminService({ store, roles: ROLES, secretRefMode: LOCAL_SECRETS, oncall });
  const { id: _i, version: _v, lastChange: _l, deleted: _d, ...input } = approveFlow;

  it('accepts a flow naming a configured provider', async () => {
    const flow = await admin([{ name: 'pagerduty', kind: 'pagerduty' }]).putFlow('named', input, root, 'api');
    expect(flow.approval.mode === 'manual' && flow.approval.sets[0]?.oncall?.provider).toBe('pagerduty');
  });

  it('refuses a provider that is not configured, naming the field', async () => {
    const refused = await admin([])
      .putFlow('named', input, root, 'api')
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ValidationError);
    expect(refused).toMatchObject({
      field: 'body.approval.sets.0.oncall.provider',
      message: "No on-call provider 'pagerduty' is configured (none is: see docs/oncall.md)",
    });
  });

  it('refuses an escalation policy for an Opsgenie provider', async () => {
    const refused = await admin([{ name: 'pagerduty', kind: 'opsgenie' }])
      .putFlow(
        'named',
        {
          ...input,
          approval: {
            ...approveFlow.approval,
            sets: [{ users: [], groups: [], oncall: { provider: 'pagerduty', escalationPolicy: 'P1' } }],
          } as typeof input.approval,
        },
        root,
        'api',
      )
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ field: 'body.approval.sets.0.oncall.escalationPolicy' });
  });
});

describe('a shift change before a decision (reconciler)', () => {
  it('records the new on-call person once, and nobody twice', async () => {
    const providers = createOnCallProviders(
      [{ name: 'pagerduty', kind: 'pagerduty', region: 'us', apiUrl: pd.url, secretRef: 'env:X', cacheSeconds: 0 }],
      { local: true, resolveSecret: async () => 'pd-key', now: () => clock.now().getTime() },
    );
    const reconciler = new Reconciler({
      store,
      executions: new RecordingExecutions(),
      now: clock.now,
      oncall: providers,
    });
    const created = await service.create(ask(approveFlow.id), alice, 'api');

    expect((await reconciler.run()).onCallChanged).toBe(1);
    expect((await store.getRequest(created.id))?.onCallNotified?.map((n) => n.email)).toEqual(['olga@example.com']);
    expect((await reconciler.run()).onCallChanged).toBe(0);

    pd.setRoster([
      shift(iso(-HOUR), iso(30 * 60_000)),
      { ...shift(iso(30 * 60_000), iso(9 * HOUR)), user: { id: 'PUSER02', name: 'Nina', email: 'nina@example.com' } },
    ]);
    clock.advanceMinutes(31);
    expect((await reconciler.run()).onCallChanged).toBe(1);
    const stored = await store.getRequest(created.id);
    expect(stored?.onCallNotified?.map((n) => [n.email, n.end])).toEqual([
      ['olga@example.com', iso(2 * HOUR)],
      ['nina@example.com', iso(9 * HOUR)],
    ]);
    expect((await reconciler.run()).onCallChanged).toBe(0);
  });
});

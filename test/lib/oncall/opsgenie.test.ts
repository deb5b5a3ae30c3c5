import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OnCallProviderConfig } from '#lib/oncall/config.ts';
import { createOnCallProvider, type OnCallProviderDeps } from '#lib/oncall/providers.ts';
import {
  OnCallAuthError,
  OnCallQueryError,
  OnCallRateLimitedError,
  OnCallUnavailableError,
} from '#lib/oncall/types.ts';
import { type OpsgenieSchedule, type OpsgenieStandIn, startOpsgenie } from '../../fixtures/opsgenie/server.ts';

const NOW = new Date('2026-12-04T12:00:00Z');
const YESTERDAY = new Date('2026-12-03T12:00:00Z');
const SCHEDULE_ID = 'd875a1b4-9b4e-4219-a1b3-0c26936d18de';
const dana = { id: '11111111-1111-4111-8111-111111111111', username: 'Dana.Primary@Example.com' };
const erin = { id: '22222222-2222-4222-8222-222222222222', username: 'erin@example.com' };
const finn = { id: '33333333-3333-4333-8333-333333333333', username: 'finn@example.com' };

const schedules: OpsgenieSchedule[] = [
  {
    id: SCHEDULE_ID,
    name: 'Platform On-Call',
    shifts: [
      { participant: { type: 'user', user: erin }, start: '2026-12-03T08:00:00Z', end: '2026-12-04T08:00:00Z' },
      // Dana's on-call is cut into two back-to-back periods (e.g. a day and a night rotation slot): one shift.
      { participant: { type: 'user', user: dana }, start: '2026-12-04T08:00:00Z', end: '2026-12-04T20:00:00Z' },
      { participant: { type: 'user', user: dana }, start: '2026-12-04T20:00:00Z', end: '2026-12-05T08:00:00Z' },
    ],
  },
  {
    id: '44444444-4444-4444-8444-444444444444',
    name: 'Database Team',
    shifts: [
      {
        participant: { type: 'team', id: 'team-db', name: 'db-team', members: [finn] },
        start: '2026-12-04T00:00:00Z',
        end: '2026-12-06T00:00:00Z',
      },
    ],
  },
];

let og: OpsgenieStandIn;
beforeAll(async () => {
  og = await startOpsgenie({ apiKey: 'eb24a1b2-genie-key', schedules });
  process.env.TEST_OG_KEY = 'eb24a1b2-genie-key';
  process.env.TEST_OG_WRONG_KEY = 'wrong-genie-key';
});
afterAll(async () => {
  await og.close();
});
afterEach(() => {
  og.requests.length = 0;
  og.setSchedules(schedules);
});

function provider(overrides: Partial<Record<string, unknown>> = {}, deps: Partial<OnCallProviderDeps> = {}) {
  const config = OnCallProviderConfig.parse({
    name: 'og',
    kind: 'opsgenie',
    apiUrl: og.url,
    secretRef: 'env:TEST_OG_KEY',
    cacheSeconds: 0,
    ...overrides,
  });
  return createOnCallProvider(config, { local: true, ...deps });
}

describe('Opsgenie on-call provider', () => {
  it('asks on-calls and the schedule timeline with GenieKey and the documented parameters', async () => {
    await provider().whoIsOnCall({ schedule: SCHEDULE_ID }, NOW);

    const onCalls = og.requests.find((r) => r.path.endsWith('/on-calls'));
    const timeline = og.requests.find((r) => r.path.endsWith('/timeline'));
    expect(og.requests).toHaveLength(2);
    expect(onCalls?.path).toBe(`/v2/schedules/${SCHEDULE_ID}/on-calls`);
    expect(onCalls?.headers.authorization).toBe('GenieKey eb24a1b2-genie-key');
    expect(Object.fromEntries(onCalls?.query ?? [])).toEqual({
      scheduleIdentifierType: 'id',
      flat: 'false',
      date: '2026-12-04T12:00:00Z',
    });
    expect(timeline?.headers.authorization).toBe('GenieKey eb24a1b2-genie-key');
    expect(Object.fromEntries(timeline?.query ?? [])).toEqual({
      identifierType: 'id',
      date: '2026-12-03T12:00:00Z',
      interval: '1',
      intervalUnit: 'weeks',
    });
  });

  it('answers who is on call now with the shift end from the timeline and a lower-cased email', async () => {
    const shifts = await provider().whoIsOnCall({ schedule: SCHEDULE_ID }, NOW);

    expect(shifts).toEqual([
      {
        provider: 'og',
        email: 'dana.primary@example.com',
        providerUserId: dana.id,
        schedule: SCHEDULE_ID,
        start: '2026-12-04T08:00:00.000Z',
        // Both back-to-back periods: the shift ends at 08:00 tomorrow, not at 20:00 today.
        end: '2026-12-05T08:00:00.000Z',
      },
    ]);
  });

  it('answers who was on call yesterday for a moment yesterday, and not today', async () => {
    const yesterday = await provider().whoIsOnCall({ schedule: SCHEDULE_ID }, YESTERDAY);
    const today = await provider().whoIsOnCall({ schedule: SCHEDULE_ID }, NOW);

    expect(yesterday.map((s) => [s.email, s.end])).toEqual([['erin@example.com', '2026-12-04T08:00:00.000Z']]);
    expect(today.map((s) => s.email)).toEqual(['dana.primary@example.com']);
  });

  it('finds a schedule by name (scheduleIdentifierType=name, identifierType=name)', async () => {
    const shifts = await provider().whoIsOnCall({ schedule: 'Platform On-Call' }, NOW);

    expect(og.requests.map((r) => r.path)).toEqual(
      expect.arrayContaining([
        '/v2/schedules/Platform%20On-Call/on-calls',
        '/v2/schedules/Platform%20On-Call/timeline',
      ]),
    );
    expect(og.requests.find((r) => r.path.endsWith('/on-calls'))?.query.get('scheduleIdentifierType')).toBe('name');
    expect(og.requests.find((r) => r.path.endsWith('/timeline'))?.query.get('identifierType')).toBe('name');
    expect(shifts.map((s) => [s.email, s.schedule])).toEqual([['dana.primary@example.com', SCHEDULE_ID]]);
  });

  it('resolves a team participant to its members, with the team period as their shift', async () => {
    const shifts = await provider().whoIsOnCall({ schedule: 'Database Team' }, NOW);

    expect(shifts).toEqual([
      expect.objectContaining({
        email: 'finn@example.com',
        providerUserId: finn.id,
        start: '2026-12-04T00:00:00.000Z',
        end: '2026-12-06T00:00:00.000Z',
      }),
    ]);
  });

  it('caps a shift that runs past the timeline window at the window end (never longer than the real shift)', async () => {
    og.setSchedules([
      {
        id: SCHEDULE_ID,
        name: 'Long',
        shifts: [
          { participant: { type: 'user', user: dana }, start: '2026-11-01T00:00:00Z', end: '2027-01-01T00:00:00Z' },
        ],
      },
    ]);

    const [shift] = await provider().whoIsOnCall({ schedule: SCHEDULE_ID }, NOW);

    expect(shift?.start).toBe('2026-12-03T12:00:00.000Z');
    expect(shift?.end).toBe('2026-12-10T12:00:00.000Z');
  });

  it('refuses an escalation policy or level query (Opsgenie answers per schedule) without calling', async () => {
    const error = await provider()
      .whoIsOnCall({ schedule: SCHEDULE_ID, level: 1 }, NOW)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OnCallQueryError);
    expect(og.requests).toHaveLength(0);
  });

  it('maps 401 to OnCallAuthError without the key in the message', async () => {
    const error = await provider({ secretRef: 'env:TEST_OG_WRONG_KEY' })
      .whoIsOnCall({ schedule: SCHEDULE_ID }, NOW)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OnCallAuthError);
    expect((error as Error).message).toContain('Could not authenticate');
    expect((error as Error).message).not.toContain('wrong-genie-key');
  });

  it('maps an unknown schedule (404) to OnCallQueryError', async () => {
    const error = await provider()
      .whoIsOnCall({ schedule: 'No Such Schedule' }, NOW)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OnCallQueryError);
    expect((error as OnCallQueryError).status).toBe(404);
  });

  it('retries a 429 once when Retry-After is short, and succeeds', async () => {
    og.failNext({ kind: 'rate-limit', retryAfterSeconds: 1 });

    const shifts = await provider().whoIsOnCall({ schedule: SCHEDULE_ID }, NOW);

    expect(og.requests.map((r) => r.status).sort()).toEqual([200, 200, 429]);
    expect(shifts.map((s) => s.email)).toEqual(['dana.primary@example.com']);
  });

  it('maps a 429 without Retry-After to OnCallRateLimitedError, without retrying', async () => {
    og.failNext({ kind: 'rate-limit', times: 2 });

    const error = await provider()
      .whoIsOnCall({ schedule: SCHEDULE_ID }, NOW)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OnCallRateLimitedError);
    expect(og.requests.map((r) => r.status)).toEqual([429, 429]);
  });

  it('maps 500 to OnCallUnavailableError', async () => {
    og.failNext({ kind: 'error', status: 503, times: 2 });

    const error = await provider()
      .whoIsOnCall({ schedule: SCHEDULE_ID }, NOW)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OnCallUnavailableError);
    expect((error as OnCallUnavailableError).status).toBe(503);
  });

  it('maps a provider that does not answer to OnCallUnavailableError (timeout)', async () => {
    og.failNext({ kind: 'hang', times: 2 });

    const error = await provider({}, { timeoutMs: 300 })
      .whoIsOnCall({ schedule: SCHEDULE_ID }, NOW)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OnCallUnavailableError);
    expect(og.requests.map((r) => r.status)).toEqual(['hung', 'hung']);
  });

  it('uses the EU endpoint for region eu without apiUrl', async () => {
    const sent: string[] = [];
    const config = OnCallProviderConfig.parse({
      name: 'og-eu',
      kind: 'opsgenie',
      region: 'eu',
      secretRef: 'env:TEST_OG_KEY',
    });
    const eu = createOnCallProvider(config, {
      local: true,
      http: {
        async send(request) {
          sent.push(request.url);
          return { status: 503, headers: {}, body: '' };
        },
      },
    });

    await expect(eu.whoIsOnCall({ schedule: SCHEDULE_ID }, NOW)).rejects.toBeInstanceOf(OnCallUnavailableError);
    expect(sent.map((u) => new URL(u).origin)).toEqual(['https://api.eu.opsgenie.com', 'https://api.eu.opsgenie.com']);
  });
});

describe('Opsgenie stand-in', () => {
  const get = (path: string, authorization = `GenieKey ${og.apiKey}`) =>
    fetch(`${og.url}${path}`, { headers: { authorization } });

  it('refuses a key sent any other way than GenieKey', async () => {
    const response = await get(`/v2/schedules/${SCHEDULE_ID}/on-calls`, `Bearer ${og.apiKey}`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ message: 'Could not authenticate' });
  });

  it('refuses the timeline’s parameter name on the on-calls endpoint (identifierType vs scheduleIdentifierType)', async () => {
    const response = await get(`/v2/schedules/${SCHEDULE_ID}/on-calls?identifierType=id`);
    expect(response.status).toBe(422);
  });

  it('answers flat=true with user names only, as documented', async () => {
    const response = await get(`/v2/schedules/${SCHEDULE_ID}/on-calls?flat=true&date=2026-12-04T12:00:00Z`);
    const body = (await response.json()) as { data: Record<string, unknown> };
    expect(body.data.onCallRecipients).toEqual(['Dana.Primary@Example.com']);
    expect(body.data.onCallParticipants).toBeUndefined();
  });
});

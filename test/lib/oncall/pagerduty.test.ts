import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OnCallProviderConfig } from '#lib/oncall/config.ts';
import { createOnCallProvider, type OnCallProviderDeps } from '#lib/oncall/providers.ts';
import {
  OnCallAuthError,
  OnCallQueryError,
  OnCallRateLimitedError,
  OnCallUnavailableError,
} from '#lib/oncall/types.ts';
import { type PagerDutyOnCall, type PagerDutyStandIn, startPagerDuty } from '../../fixtures/pagerduty/server.ts';

const NOW = new Date('2026-12-04T12:00:00Z');
const YESTERDAY = new Date('2026-12-03T12:00:00Z');
const alice = { id: 'PALICE1', name: 'Alice Oncall', email: 'Alice.Oncall@Example.COM' };
const bob = { id: 'PBOB001', name: 'Bob Backup', email: 'bob@example.com' };
const carol = { id: 'PCAROL1', name: 'Carol Yesterday', email: 'carol@example.com' };

const roster: PagerDutyOnCall[] = [
  // Today's primary (level 1) and backup (level 2) on schedule PSCHED1 under policy PPOLICY.
  {
    user: alice,
    scheduleId: 'PSCHED1',
    escalationPolicyId: 'PPOLICY',
    level: 1,
    start: '2026-12-04T08:00:00Z',
    end: '2026-12-05T08:00:00Z',
  },
  {
    user: bob,
    scheduleId: 'PSCHED2',
    escalationPolicyId: 'PPOLICY',
    level: 2,
    start: '2026-12-01T00:00:00Z',
    end: '2026-12-08T00:00:00Z',
  },
  // Yesterday's primary: the shift ended this morning.
  {
    user: carol,
    scheduleId: 'PSCHED1',
    escalationPolicyId: 'PPOLICY',
    level: 1,
    start: '2026-12-03T08:00:00Z',
    end: '2026-12-04T08:00:00Z',
  },
];

let pd: PagerDutyStandIn;
beforeAll(async () => {
  pd = await startPagerDuty({ apiKey: 'u+pd-key-123', roster });
  process.env.TEST_PD_KEY = 'u+pd-key-123';
  process.env.TEST_PD_WRONG_KEY = 'not-the-key';
});
afterAll(async () => {
  await pd.close();
});
afterEach(() => {
  pd.requests.length = 0;
  pd.setRoster(roster);
});

function provider(overrides: Partial<Record<string, unknown>> = {}, deps: Partial<OnCallProviderDeps> = {}) {
  const config = OnCallProviderConfig.parse({
    name: 'pd',
    kind: 'pagerduty',
    apiUrl: pd.url,
    secretRef: 'env:TEST_PD_KEY',
    cacheSeconds: 0,
    ...overrides,
  });
  return createOnCallProvider(config, { local: true, ...deps });
}

describe('PagerDuty on-call provider', () => {
  it('asks GET /oncalls with the documented auth, version header and filters', async () => {
    await provider().whoIsOnCall({ schedule: 'PSCHED1', escalationPolicy: 'PPOLICY' }, NOW);

    expect(pd.requests).toHaveLength(1);
    const [request] = pd.requests;
    expect(request?.path).toBe('/oncalls');
    expect(request?.headers.authorization).toBe('Token token=u+pd-key-123');
    expect(request?.headers.accept).toBe('application/vnd.pagerduty+json;version=2');
    expect(request?.query.getAll('schedule_ids[]')).toEqual(['PSCHED1']);
    expect(request?.query.getAll('escalation_policy_ids[]')).toEqual(['PPOLICY']);
    expect(request?.query.getAll('include[]')).toEqual(['users']);
    expect(request?.query.get('since')).toBe('2026-12-04T12:00:00.000Z');
    expect(request?.query.get('until')).toBe('2026-12-04T12:00:00.000Z');
    expect(request?.query.get('limit')).toBe('100');
    expect(request?.query.get('offset')).toBe('0');
  });

  it('answers who is on call now, with the shift and a lower-cased email', async () => {
    const shifts = await provider().whoIsOnCall({ schedule: 'PSCHED1' }, NOW);

    expect(shifts).toEqual([
      {
        provider: 'pd',
        email: 'alice.oncall@example.com',
        name: 'Alice Oncall',
        providerUserId: 'PALICE1',
        schedule: 'PSCHED1',
        escalationPolicy: 'PPOLICY',
        level: 1,
        start: '2026-12-04T08:00:00.000Z',
        end: '2026-12-05T08:00:00.000Z',
      },
    ]);
  });

  it('answers who was on call yesterday for a moment yesterday, and not today', async () => {
    const yesterday = await provider().whoIsOnCall({ schedule: 'PSCHED1' }, YESTERDAY);
    const today = await provider().whoIsOnCall({ schedule: 'PSCHED1' }, NOW);

    expect(yesterday.map((s) => s.email)).toEqual(['carol@example.com']);
    expect(today.map((s) => s.email)).toEqual(['alice.oncall@example.com']);
  });

  it('drops an on-call that ends exactly at the moment asked (the API returns overlaps)', async () => {
    const shifts = await provider().whoIsOnCall({ schedule: 'PSCHED1' }, new Date('2026-12-04T08:00:00Z'));

    expect(pd.requests[0]?.status).toBe(200);
    expect(shifts.map((s) => s.email)).toEqual(['alice.oncall@example.com']);
  });

  it('filters by escalation level (the API has no level filter)', async () => {
    const all = await provider().whoIsOnCall({ escalationPolicy: 'PPOLICY' }, NOW);
    const second = await provider().whoIsOnCall({ escalationPolicy: 'PPOLICY', level: 2 }, NOW);

    expect(all.map((s) => [s.email, s.level])).toEqual([
      ['alice.oncall@example.com', 1],
      ['bob@example.com', 2],
    ]);
    expect(second.map((s) => s.email)).toEqual(['bob@example.com']);
  });

  it('follows classic pagination (limit, offset, more) across pages', async () => {
    const many: PagerDutyOnCall[] = Array.from({ length: 230 }, (_, i) => ({
      user: { id: `PU${i}`, name: `User ${i}`, email: `user${i}@example.com` },
      scheduleId: 'PBIG',
      escalationPolicyId: `PPOL${i}`,
      level: 1,
      start: '2026-12-04T00:00:00Z',
      end: '2026-12-05T00:00:00Z',
    }));
    pd.setRoster(many);

    const shifts = await provider().whoIsOnCall({ schedule: 'PBIG' }, NOW);

    expect(pd.requests.map((r) => r.query.get('offset'))).toEqual(['0', '100', '200']);
    expect(shifts).toHaveLength(230);
    expect(new Set(shifts.map((s) => s.email)).size).toBe(230);
  });

  it('keeps a permanent on-call (null start and end) as never going off call', async () => {
    pd.setRoster([{ user: bob, scheduleId: null, escalationPolicyId: 'PDIRECT', level: 1, start: null, end: null }]);

    const shifts = await provider().whoIsOnCall({ escalationPolicy: 'PDIRECT' }, NOW);

    expect(shifts).toEqual([
      expect.objectContaining({ email: 'bob@example.com', start: null, end: null, escalationPolicy: 'PDIRECT' }),
    ]);
    expect(shifts[0]?.schedule).toBeUndefined();
  });

  it('maps 401 to OnCallAuthError without the key in the message', async () => {
    const error = await provider({ secretRef: 'env:TEST_PD_WRONG_KEY' })
      .whoIsOnCall({ schedule: 'PSCHED1' }, NOW)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OnCallAuthError);
    expect((error as OnCallAuthError).status).toBe(401);
    expect((error as Error).message).toContain('Authentication failed');
    expect((error as Error).message).not.toContain('not-the-key');
    expect(pd.requests[0]?.status).toBe(401);
  });

  it('retries a 429 once when Retry-After is short, and succeeds', async () => {
    pd.failNext({ kind: 'rate-limit', retryAfterSeconds: 1 });

    const shifts = await provider().whoIsOnCall({ schedule: 'PSCHED1' }, NOW);

    expect(pd.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(shifts.map((s) => s.email)).toEqual(['alice.oncall@example.com']);
  });

  it('gives up on a 429 asking for a long wait, with the wait on the error', async () => {
    pd.failNext({ kind: 'rate-limit', retryAfterSeconds: 30 });

    const error = await provider()
      .whoIsOnCall({ schedule: 'PSCHED1' }, NOW)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OnCallRateLimitedError);
    expect((error as OnCallRateLimitedError).retryAfterSeconds).toBe(30);
    expect(pd.requests.map((r) => r.status)).toEqual([429]);
  });

  it('does not retry a 429 without Retry-After', async () => {
    pd.failNext({ kind: 'rate-limit' });

    const error = await provider()
      .whoIsOnCall({ schedule: 'PSCHED1' }, NOW)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OnCallRateLimitedError);
    expect((error as OnCallRateLimitedError).retryAfterSeconds).toBeUndefined();
    expect(pd.requests).toHaveLength(1);
  });

  it('maps 500 to OnCallUnavailableError', async () => {
    pd.failNext({ kind: 'error', status: 500 });

    const error = await provider()
      .whoIsOnCall({ schedule: 'PSCHED1' }, NOW)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OnCallUnavailableError);
    expect((error as OnCallUnavailableError).status).toBe(500);
  });

  it('maps a provider that does not answer to OnCallUnavailableError (timeout)', async () => {
    pd.failNext({ kind: 'hang' });

    const error = await provider({}, { timeoutMs: 300 })
      .whoIsOnCall({ schedule: 'PSCHED1' }, NOW)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OnCallUnavailableError);
    expect((error as Error).message).toContain('timed out');
    expect(pd.requests[0]?.status).toBe('hung');
  });

  it('fails closed on an answer without user emails (include[]=users not honoured)', async () => {
    pd.ignoreIncludes(true);

    const error = await provider()
      .whoIsOnCall({ schedule: 'PSCHED1' }, NOW)
      .catch((e: unknown) => e)
      .finally(() => pd.ignoreIncludes(false));

    expect(error).toBeInstanceOf(OnCallUnavailableError);
    expect((error as Error).message).toContain('oncalls.0.user.email');
  });

  it('maps another 4xx (a wrong apiUrl path: 404) to OnCallQueryError', async () => {
    const error = await provider({ apiUrl: `${pd.url}/not-oncalls` })
      .whoIsOnCall({ schedule: 'PSCHED1' }, NOW)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OnCallQueryError);
    expect((error as OnCallQueryError).status).toBe(404);
  });
});

describe('PagerDuty stand-in', () => {
  const get = (query: string, headers: Record<string, string> = {}) =>
    fetch(`${pd.url}/oncalls${query}`, {
      headers: {
        authorization: `Token token=${pd.apiKey}`,
        accept: 'application/vnd.pagerduty+json;version=2',
        ...headers,
      },
    });

  it('refuses a Bearer token with PagerDuty’s 401 error object', async () => {
    const response = await get('', { authorization: `Bearer ${pd.apiKey}` });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: { message: 'Authentication failed', code: 2006 } });
  });

  it('refuses a request without the version Accept header (stricter than PagerDuty, on purpose)', async () => {
    const response = await get('', { accept: 'application/json' });
    expect(response.status).toBe(406);
  });

  it.each([
    ['?schedule_id=PSCHED1', 2001],
    ['?limit=101', 2001],
    ['?since=yesterday', 2004],
    ['?since=2026-12-04T12:00:00Z&until=2026-12-04T11:00:00Z', 2005],
  ])('answers 400 to %s with code %i', async (query, code) => {
    const response = await get(query);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: number } }).error.code).toBe(code);
  });

  it('answers user references without email unless include[]=users', async () => {
    const body = (await (await get('?schedule_ids[]=PSCHED1&since=2026-12-04T12:00:00Z')).json()) as {
      oncalls: { user: Record<string, unknown> }[];
    };
    expect(body.oncalls[0]?.user).toMatchObject({ id: 'PALICE1', type: 'user_reference' });
    expect(body.oncalls[0]?.user.email).toBeUndefined();
  });
});

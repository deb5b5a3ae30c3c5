import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OnCallProviderConfig, oncallProvidersOf } from '#lib/oncall/config.ts';
import { createOnCallProvider, createOnCallProviders } from '#lib/oncall/providers.ts';
import { OnCallUnavailableError } from '#lib/oncall/types.ts';
import { type PagerDutyOnCall, type PagerDutyStandIn, startPagerDuty } from '../../fixtures/pagerduty/server.ts';

const T0 = new Date('2026-12-04T12:00:00Z');
const alice = { id: 'PALICE1', name: 'Alice', email: 'alice@example.com' };
const bob = { id: 'PBOB001', name: 'Bob', email: 'bob@example.com' };
const roster: PagerDutyOnCall[] = [
  // Alice's shift ends 30 s after T0; Bob's starts then.
  {
    user: alice,
    scheduleId: 'PS',
    escalationPolicyId: 'PP',
    level: 1,
    start: '2026-12-04T00:00:00Z',
    end: '2026-12-04T12:00:30Z',
  },
  {
    user: bob,
    scheduleId: 'PS',
    escalationPolicyId: 'PP',
    level: 1,
    start: '2026-12-04T12:00:30Z',
    end: '2026-12-05T00:00:00Z',
  },
];

let pd: PagerDutyStandIn;
beforeAll(async () => {
  pd = await startPagerDuty({ apiKey: 'cache-key', roster });
  process.env.TEST_PD_CACHE_KEY = 'cache-key';
});
afterAll(async () => {
  await pd.close();
});
afterEach(() => {
  pd.requests.length = 0;
});

/** A provider with a 60 s cache and a clock the test moves. */
function cachedProvider() {
  let clock = T0.getTime();
  const provider = createOnCallProvider(
    OnCallProviderConfig.parse({ name: 'pd', kind: 'pagerduty', apiUrl: pd.url, secretRef: 'env:TEST_PD_CACHE_KEY' }),
    { local: true, now: () => clock },
  );
  return {
    provider,
    advance(ms: number) {
      clock += ms;
      return new Date(clock);
    },
  };
}

describe('on-call answer cache', () => {
  it('answers the same query within the TTL without asking the provider again', async () => {
    const { provider, advance } = cachedProvider();

    const first = await provider.whoIsOnCall({ schedule: 'PS' }, T0);
    const second = await provider.whoIsOnCall({ schedule: 'PS' }, advance(10_000));

    expect(pd.requests).toHaveLength(1);
    expect(first.map((s) => s.email)).toEqual(['alice@example.com']);
    expect(second).toEqual(first);
  });

  it('keys the cache by query: another schedule, policy or level asks the provider', async () => {
    const { provider } = cachedProvider();

    await provider.whoIsOnCall({ schedule: 'PS' }, T0);
    await provider.whoIsOnCall({ schedule: 'PS', level: 1 }, T0);
    await provider.whoIsOnCall({ escalationPolicy: 'PP' }, T0);

    expect(pd.requests).toHaveLength(3);
  });

  it('drops a cached shift once it has ended, even within the TTL', async () => {
    const { provider, advance } = cachedProvider();

    await provider.whoIsOnCall({ schedule: 'PS' }, T0);
    const later = await provider.whoIsOnCall({ schedule: 'PS' }, advance(40_000));

    expect(pd.requests).toHaveLength(1);
    // Alice's shift ended at +30 s: the cache no longer names her (Bob shows once the entry expires).
    expect(later).toEqual([]);
  });

  it('asks the provider again after the TTL and sees the new shift', async () => {
    const { provider, advance } = cachedProvider();

    await provider.whoIsOnCall({ schedule: 'PS' }, T0);
    const after = await provider.whoIsOnCall({ schedule: 'PS' }, advance(61_000));

    expect(pd.requests).toHaveLength(2);
    expect(after.map((s) => s.email)).toEqual(['bob@example.com']);
  });

  it('always asks the provider for an earlier moment than the cached one', async () => {
    const { provider } = cachedProvider();

    await provider.whoIsOnCall({ schedule: 'PS' }, T0);
    await provider.whoIsOnCall({ schedule: 'PS' }, new Date(T0.getTime() - 24 * 3600_000));

    expect(pd.requests).toHaveLength(2);
  });

  it('never caches a failure: the next call asks again and succeeds', async () => {
    const { provider, advance } = cachedProvider();
    pd.failNext({ kind: 'error', status: 500 });

    await expect(provider.whoIsOnCall({ schedule: 'PS' }, T0)).rejects.toBeInstanceOf(OnCallUnavailableError);
    const next = await provider.whoIsOnCall({ schedule: 'PS' }, advance(1_000));

    expect(pd.requests.map((r) => r.status)).toEqual([500, 200]);
    expect(next.map((s) => s.email)).toEqual(['alice@example.com']);
  });

  it('answers no stale entry after the TTL when the provider is down (fail closed)', async () => {
    const { provider, advance } = cachedProvider();

    await provider.whoIsOnCall({ schedule: 'PS' }, T0);
    pd.failNext({ kind: 'error', status: 503 });

    await expect(provider.whoIsOnCall({ schedule: 'PS' }, advance(61_000))).rejects.toBeInstanceOf(
      OnCallUnavailableError,
    );
    expect(pd.requests.map((r) => r.status)).toEqual([200, 503]);
  });

  it('with cacheSeconds 0 asks the provider every time', async () => {
    const provider = createOnCallProvider(
      OnCallProviderConfig.parse({
        name: 'pd',
        kind: 'pagerduty',
        apiUrl: pd.url,
        secretRef: 'env:TEST_PD_CACHE_KEY',
        cacheSeconds: 0,
      }),
      { local: true },
    );

    await provider.whoIsOnCall({ schedule: 'PS' }, T0);
    await provider.whoIsOnCall({ schedule: 'PS' }, T0);

    expect(pd.requests).toHaveLength(2);
  });

  it('turns an unresolvable secretRef into OnCallUnavailableError naming the reference only', async () => {
    const provider = createOnCallProvider(
      OnCallProviderConfig.parse({ name: 'pd', kind: 'pagerduty', apiUrl: pd.url, secretRef: 'env:TEST_PD_UNSET' }),
      { local: true },
    );

    const error = await provider.whoIsOnCall({ schedule: 'PS' }, T0).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OnCallUnavailableError);
    expect((error as Error).message).toContain('env:TEST_PD_UNSET');
    expect(pd.requests).toHaveLength(0);
  });
});

describe('STINT_ONCALL (oncallProvidersOf)', () => {
  it('reads no provider when the variable is absent', () => {
    expect(oncallProvidersOf({ oncallJson: '[]' })).toEqual([]);
  });

  it('parses providers with their defaults and builds one provider per name', () => {
    const configs = oncallProvidersOf({
      oncallJson: JSON.stringify([
        { name: 'pd', kind: 'pagerduty', secretRef: 'env:PD' },
        { name: 'og', kind: 'opsgenie', region: 'eu', secretRef: 'env:OG', cacheSeconds: 30 },
      ]),
    });

    expect(configs).toEqual([
      { name: 'pd', kind: 'pagerduty', region: 'us', secretRef: 'env:PD', cacheSeconds: 60 },
      { name: 'og', kind: 'opsgenie', region: 'eu', secretRef: 'env:OG', cacheSeconds: 30 },
    ]);
    const providers = createOnCallProviders(configs, { local: true });
    expect([...providers.keys()]).toEqual(['pd', 'og']);
    expect(providers.get('og')?.kind).toBe('opsgenie');
  });

  it.each([
    ['not json', 'STINT_ONCALL is not JSON'],
    [JSON.stringify([{ name: 'pd', kind: 'victorops', secretRef: 'env:X' }]), 'STINT_ONCALL: 0.kind'],
    [
      JSON.stringify([
        { name: 'pd', kind: 'pagerduty', secretRef: 'env:X' },
        { name: 'pd', kind: 'opsgenie', secretRef: 'env:Y' },
      ]),
      '"pd" is named twice',
    ],
  ])('refuses %s', (json, message) => {
    expect(() => oncallProvidersOf({ oncallJson: json })).toThrow(message);
  });
});

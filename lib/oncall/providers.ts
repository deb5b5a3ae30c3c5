import { resolveSecret } from '#lib/secrets/resolve.ts';
import type { OnCallProviderConfig } from './config.ts';
import type { OnCallDeps } from './http.ts';
import { createOpsgenieProvider } from './opsgenie.ts';
import { createPagerDutyProvider } from './pagerduty.ts';
import { OnCallQuery, type OnCallShift, OnCallUnavailableError, type OnCallProvider as Provider } from './types.ts';

export type OnCallProviderDeps = OnCallDeps & {
  /** Resolves `secretRef` (lib/secrets/resolve.ts: Secrets Manager ARN, or env:/file: locally). */
  resolveSecret?: (ref: string) => Promise<string>;
  /** Wall clock for the cache (ms); default Date.now. */
  now?: () => number;
};

/**
 * A provider as the rest of Stint uses it: its client (PagerDuty or Opsgenie) behind a short cache.
 *
 * The cache keeps successful answers only, keyed by the query, for `cacheSeconds`. An entry answers a later moment
 * `at` when it was fetched for a moment at most `cacheSeconds` earlier, and only with the shifts that still hold at
 * `at` (a shift that ended in between is dropped; a shift that began in between shows once the entry expires, so a
 * new person on call waits at most `cacheSeconds`). An earlier moment (who was on call yesterday) always asks the
 * provider. A failure is thrown, never cached, and never answered from an older entry: after the TTL, a provider
 * that is down answers nothing (fail closed).
 *
 * The API key is resolved on each fetch (resolveSecret caches Secrets Manager values for 5 minutes itself), so a
 * rotated key is picked up and the key never sits in this object.
 */
export function createOnCallProvider(config: OnCallProviderConfig, deps: OnCallProviderDeps): Provider {
  const resolve = deps.resolveSecret ?? resolveSecret;
  const now = deps.now ?? Date.now;
  const ttlMs = config.cacheSeconds * 1000;
  const cache = new Map<string, { at: number; expiresAt: number; shifts: OnCallShift[] }>();

  async function fetchShifts(query: OnCallQuery, at: Date): Promise<OnCallShift[]> {
    let key: string;
    try {
      key = await resolve(config.secretRef);
    } catch (error) {
      // SecretResolutionError names the reference, never the value.
      const reason = error instanceof Error ? error.message : 'cannot resolve the API key';
      throw new OnCallUnavailableError(config.name, reason);
    }
    const client =
      config.kind === 'pagerduty'
        ? createPagerDutyProvider(config, key, deps)
        : createOpsgenieProvider(config, key, deps);
    return client.whoIsOnCall(query, at);
  }

  return {
    name: config.name,
    kind: config.kind,
    async whoIsOnCall(rawQuery, at) {
      const query = OnCallQuery.parse(rawQuery);
      const cacheKey = JSON.stringify([query.schedule ?? null, query.escalationPolicy ?? null, query.level ?? null]);
      const moment = at.getTime();
      const hit = cache.get(cacheKey);
      if (hit !== undefined && now() < hit.expiresAt && hit.at <= moment && moment < hit.at + ttlMs) {
        return hit.shifts.filter((s) => holdsAt(s, moment));
      }
      const shifts = await fetchShifts(query, at);
      if (ttlMs > 0) cache.set(cacheKey, { at: moment, expiresAt: now() + ttlMs, shifts });
      return shifts;
    },
  };
}

function holdsAt(shift: OnCallShift, moment: number): boolean {
  return (
    (shift.start === null || Date.parse(shift.start) <= moment) &&
    (shift.end === null || moment < Date.parse(shift.end))
  );
}

/** Every configured provider by name (create once per cold start, at module scope, so the cache lives with it). */
export function createOnCallProviders(
  configs: readonly OnCallProviderConfig[],
  deps: OnCallProviderDeps,
): Map<string, Provider> {
  return new Map(configs.map((c) => [c.name, createOnCallProvider(c, deps)]));
}

import * as z from 'zod';
import { apiUrlOf, type OnCallProviderConfig } from './config.ts';
import { jsonGetter, type OnCallDeps, parseAnswer } from './http.ts';
import { type OnCallProvider, type OnCallQuery, OnCallShift, OnCallUnavailableError } from './types.ts';

/**
 * PagerDuty REST API v2, "List all of the on-calls": `GET /oncalls`
 * (https://developer.pagerduty.com/api-reference/3a6b910f11050-list-all-of-the-on-calls; schema in
 * github.com/PagerDuty/api-schema reference/REST/openapiv3.json).
 *
 * - Auth: `Authorization: Token token=<key>` ("this format must be followed precisely or you will receive a 401",
 *   https://developer.pagerduty.com/docs/rest-api-v2/authentication/).
 * - Version: `Accept: application/vnd.pagerduty+json;version=2` (without it the token's own version answers,
 *   https://developer.pagerduty.com/docs/rest-api-v2/versioning/).
 * - Filters: `schedule_ids[]`, `escalation_policy_ids[]`; `since`/`until` ("if an on-call period overlaps with the
 *   range, it will be included"; both default to now), `include[]=users` (full user objects, with `email`),
 *   `time_zone`. The API has no escalation-level filter: `escalation_level` is filtered here.
 * - Classic pagination: `limit` (default 25, max 100), `offset`, `more`
 *   (https://developer.pagerduty.com/docs/rest-api-v2/pagination/).
 * - Each on-call has `start`/`end` (null: a permanent on-call, a user targeted directly by an escalation rule) and
 *   `escalation_level`.
 */
const PAGE_LIMIT = 100;
/** 20 pages of 100: far beyond any one schedule or policy at one moment; more fails closed rather than truncating. */
const MAX_PAGES = 20;

const Reference = z.object({ id: z.string().min(1), summary: z.string().optional() });

const OnCallsPage = z.object({
  oncalls: z.array(
    z.object({
      // With include[]=users the user is a full User object; without an email Stint cannot map it, so it is required.
      user: z.object({
        id: z.string().min(1),
        email: z.string().min(3, { error: 'is required (was include[]=users honoured?)' }),
        name: z.string().optional(),
        summary: z.string().optional(),
      }),
      schedule: Reference.nullable().optional(),
      escalation_policy: Reference,
      escalation_level: z.number().int(),
      start: z.string().nullable(),
      end: z.string().nullable(),
    }),
  ),
  limit: z.number().int().optional(),
  offset: z.number().int().optional(),
  more: z.boolean(),
});

export function createPagerDutyProvider(
  config: Pick<OnCallProviderConfig, 'name' | 'kind' | 'region' | 'apiUrl'>,
  apiKey: string,
  deps: OnCallDeps,
): OnCallProvider {
  const base = apiUrlOf({ ...config, kind: 'pagerduty' });
  const get = jsonGetter(
    config.name,
    deps,
    {
      authorization: `Token token=${apiKey}`,
      accept: 'application/vnd.pagerduty+json;version=2',
      'content-type': 'application/json',
    },
    apiKey,
  );

  return {
    name: config.name,
    kind: 'pagerduty',
    async whoIsOnCall(query: OnCallQuery, at: Date): Promise<OnCallShift[]> {
      const moment = at.toISOString();
      const shifts: OnCallShift[] = [];
      const seen = new Set<string>();
      for (let page = 0, offset = 0; ; page++) {
        if (page === MAX_PAGES) {
          throw new OnCallUnavailableError(config.name, `GET /oncalls: more than ${MAX_PAGES} pages; fail closed`);
        }
        const params = new URLSearchParams();
        if (query.schedule !== undefined) params.append('schedule_ids[]', query.schedule);
        if (query.escalationPolicy !== undefined) params.append('escalation_policy_ids[]', query.escalationPolicy);
        params.append('include[]', 'users');
        params.set('since', moment);
        params.set('until', moment);
        params.set('time_zone', 'UTC');
        params.set('limit', String(PAGE_LIMIT));
        params.set('offset', String(offset));
        const body = await get(`${base}/oncalls?${params}`, 'GET /oncalls');
        const answer = parseAnswer(config.name, OnCallsPage, body, 'GET /oncalls');
        for (const entry of answer.oncalls) {
          if (query.level !== undefined && entry.escalation_level !== query.level) continue;
          const start = isoOrNull(config.name, entry.start, 'start');
          const end = isoOrNull(config.name, entry.end, 'end');
          // The API includes on-calls that merely overlap [since, until]; keep those that hold at `at` exactly.
          if (start !== null && Date.parse(start) > at.getTime()) continue;
          if (end !== null && Date.parse(end) <= at.getTime()) continue;
          // A user whose email is not an address cannot be mapped to anyone: skipped (never approves), others stay.
          const email = emailOf(entry.user.email);
          if (email === undefined) continue;
          const shift = OnCallShift.parse({
            provider: config.name,
            email,
            ...(nameOf(entry.user) === undefined ? {} : { name: nameOf(entry.user) }),
            providerUserId: entry.user.id,
            ...(entry.schedule?.id === undefined ? {} : { schedule: entry.schedule.id }),
            escalationPolicy: entry.escalation_policy.id,
            level: entry.escalation_level,
            start,
            end,
          });
          // A schedule used by two rules of a policy yields the same shift twice.
          const key = JSON.stringify([shift.providerUserId, shift.schedule, shift.escalationPolicy, shift.level]);
          if (seen.has(key)) continue;
          seen.add(key);
          shifts.push(shift);
        }
        if (!answer.more || answer.oncalls.length === 0) return shifts;
        offset += answer.oncalls.length;
      }
    },
  };
}

function nameOf(user: { name?: string | undefined; summary?: string | undefined }): string | undefined {
  return user.name ?? user.summary;
}

function isoOrNull(provider: string, value: string | null, field: string): string | null {
  if (value === null) return null;
  const time = Date.parse(value);
  if (Number.isNaN(time))
    throw new OnCallUnavailableError(provider, `GET /oncalls: ${field} is not a date; fail closed`);
  return new Date(time).toISOString();
}

/** Lower-cased and checked: the email is how a provider's user becomes a Stint identity (undefined: not an address). */
export function emailOf(raw: string): string | undefined {
  const email = raw.trim().toLowerCase();
  return z.email().max(254).safeParse(email).success ? email : undefined;
}

import * as z from 'zod';
import { apiUrlOf, type OnCallProviderConfig } from './config.ts';
import { jsonGetter, type OnCallDeps, parseAnswer } from './http.ts';
import { emailOf } from './pagerduty.ts';
import { type OnCallProvider, type OnCallQuery, OnCallQueryError, OnCallShift } from './types.ts';

/**
 * Opsgenie REST API (https://api.opsgenie.com; EU accounts https://api.eu.opsgenie.com), `Authorization: GenieKey
 * <key>` of an API integration with Read access (https://docs.opsgenie.com/docs/authentication).
 *
 * Who: "Get On Calls", `GET /v2/schedules/{scheduleIdentifier}/on-calls` with `scheduleIdentifierType` (id | name),
 * `flat` and `date` (yyyy-MM-dd'T'HH:mm:ssZ; https://docs.opsgenie.com/docs/who-is-on-call-api). With flat=false the
 * answer lists `onCallParticipants` (users, or teams/escalations with their own nested participants) with ids, which
 * flat=true (user names only) would lose.
 *
 * Until when: the on-calls answer has no shift bounds. "Get Schedule Timeline", `GET /v2/schedules/{identifier}/
 * timeline` with `identifierType`, `date`, `interval`, `intervalUnit` (days | weeks | months)
 * (https://docs.opsgenie.com/docs/schedule-api), returns `finalTimeline.rotations[].periods[]` with `startDate`,
 * `endDate` and `recipient` {id, type, name}: the period holding `date` for the participant is its shift. Note the
 * parameter names differ between the two endpoints (scheduleIdentifierType vs identifierType); the official Go SDK
 * (opsgenie-go-sdk-v2 schedule/request.go, who_is_oncall_request.go) sends exactly these.
 *
 * The timeline is read from one day before `at` for one week: a shift that started earlier shows as starting at the
 * window's start, one that ends later as ending at the window's end. Both only ever shorten the shift (a duration
 * capped at `end` stays within the real shift). Someone the on-calls answer names without a period holding `at`
 * (e.g. a forwarding the timeline does not show) is left out: their shift end is unknown, so they fail closed.
 */
const Participant = z.object({
  id: z.string().optional(),
  name: z.string().optional(),
  type: z.string(),
  get onCallParticipants() {
    return z.array(Participant).optional();
  },
  forwardedFrom: z.object({ id: z.string().optional(), name: z.string().optional() }).optional(),
});
type Participant = z.infer<typeof Participant>;

const OnCallsAnswer = z.object({
  data: z.object({
    _parent: z.object({ id: z.string().min(1), name: z.string().optional() }),
    onCallParticipants: z.array(Participant),
  }),
});

const TimelineAnswer = z.object({
  data: z.object({
    startDate: z.string().optional(),
    endDate: z.string().optional(),
    finalTimeline: z.object({
      rotations: z
        .array(
          z.object({
            id: z.string().optional(),
            name: z.string().optional(),
            periods: z
              .array(
                z.object({
                  startDate: z.iso.datetime({ offset: true }),
                  endDate: z.iso.datetime({ offset: true }),
                  type: z.string().optional(),
                  recipient: z.object({ id: z.string().optional(), type: z.string(), name: z.string().optional() }),
                }),
              )
              .default([]),
          }),
        )
        .default([]),
    }),
  }),
});
type Period = z.infer<typeof TimelineAnswer>['data']['finalTimeline']['rotations'][number]['periods'][number];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Opsgenie's documented date format (yyyy-MM-dd'T'HH:mm:ssZ), in UTC. */
function opsgenieDate(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function createOpsgenieProvider(
  config: Pick<OnCallProviderConfig, 'name' | 'kind' | 'region' | 'apiUrl'>,
  apiKey: string,
  deps: OnCallDeps,
): OnCallProvider {
  const base = apiUrlOf({ ...config, kind: 'opsgenie' });
  const get = jsonGetter(config.name, deps, { authorization: `GenieKey ${apiKey}` }, apiKey);

  return {
    name: config.name,
    kind: 'opsgenie',
    async whoIsOnCall(query: OnCallQuery, at: Date): Promise<OnCallShift[]> {
      if (query.schedule === undefined || query.escalationPolicy !== undefined || query.level !== undefined) {
        throw new OnCallQueryError(
          config.name,
          'Opsgenie answers per schedule: name a schedule (id or name), without escalationPolicy or level',
        );
      }
      // A UUID is a schedule id; anything else a schedule name.
      const type = UUID.test(query.schedule) ? 'id' : 'name';
      const path = `${base}/v2/schedules/${encodeURIComponent(query.schedule)}`;
      const onCallsParams = new URLSearchParams({
        scheduleIdentifierType: type,
        flat: 'false',
        date: opsgenieDate(at),
      });
      const timelineParams = new URLSearchParams({
        identifierType: type,
        date: opsgenieDate(new Date(at.getTime() - DAY_MS)),
        interval: '1',
        intervalUnit: 'weeks',
      });
      // Both asked at once; both settle before a failure is thrown, so no request outlives the call.
      const [onCallsResult, timelineResult] = await Promise.allSettled([
        get(`${path}/on-calls?${onCallsParams}`, 'GET /v2/schedules/{id}/on-calls'),
        get(`${path}/timeline?${timelineParams}`, 'GET /v2/schedules/{id}/timeline'),
      ]);
      if (onCallsResult.status === 'rejected') throw onCallsResult.reason;
      if (timelineResult.status === 'rejected') throw timelineResult.reason;
      const onCallsBody = onCallsResult.value;
      const timelineBody = timelineResult.value;
      const onCalls = parseAnswer(config.name, OnCallsAnswer, onCallsBody, 'GET /v2/schedules/{id}/on-calls');
      const timeline = parseAnswer(config.name, TimelineAnswer, timelineBody, 'GET /v2/schedules/{id}/timeline');
      const periods = timeline.data.finalTimeline.rotations.flatMap((r) => r.periods);
      const scheduleId = onCalls.data._parent.id;

      const shifts: OnCallShift[] = [];
      const seen = new Set<string>();
      for (const participant of onCalls.data.onCallParticipants) {
        const bounds = shiftOf(periods, participant, at.getTime());
        if (bounds === undefined) continue;
        for (const user of usersOf(participant)) {
          const email = user.name === undefined ? undefined : emailOf(user.name);
          if (email === undefined || user.id === undefined || seen.has(user.id)) continue;
          seen.add(user.id);
          shifts.push(
            OnCallShift.parse({
              provider: config.name,
              email,
              providerUserId: user.id,
              schedule: scheduleId,
              start: bounds.start,
              end: bounds.end,
            }),
          );
        }
      }
      return shifts;
    },
  };
}

/** The users a participant stands for: itself, or the members a team or escalation resolves to (nested). */
function usersOf(participant: Participant): Participant[] {
  if (participant.type === 'user') return [participant];
  return (participant.onCallParticipants ?? []).flatMap(usersOf);
}

/**
 * The participant's shift at `at`: the periods holding `at` whose recipient is the participant (or whom it was
 * forwarded from), widened over the same recipient's back-to-back periods (a rotation often cuts one person's
 * on-call into consecutive periods).
 */
function shiftOf(periods: Period[], participant: Participant, at: number): { start: string; end: string } | undefined {
  const ids = new Set([participant.id, participant.forwardedFrom?.id].filter((v): v is string => v !== undefined));
  const names = new Set(
    [participant.name, participant.forwardedFrom?.name].filter((v): v is string => v !== undefined),
  );
  const mine = periods
    .filter((p) => (p.recipient.id !== undefined && ids.has(p.recipient.id)) || names.has(p.recipient.name ?? '\u0000'))
    .map((p) => ({ start: Date.parse(p.startDate), end: Date.parse(p.endDate) }))
    .filter((p) => p.end > p.start)
    .sort((a, b) => a.start - b.start);
  const holding = mine.filter((p) => p.start <= at && at < p.end);
  if (holding.length === 0) return undefined;
  let start = Math.min(...holding.map((p) => p.start));
  let end = Math.max(...holding.map((p) => p.end));
  for (let grown = true; grown; ) {
    grown = false;
    for (const p of mine) {
      if (p.start <= end && p.end > end) {
        end = p.end;
        grown = true;
      }
      if (p.end >= start && p.start < start) {
        start = p.start;
        grown = true;
      }
    }
  }
  return { start: new Date(start).toISOString(), end: new Date(end).toISOString() };
}

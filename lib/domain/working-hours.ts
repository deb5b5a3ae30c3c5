import type { WorkingHours } from './flow.ts';

const ISO_WEEKDAY: Readonly<Record<string, number>> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

function minutesOf(hhmm: string): number {
  const [h = '0', m = '0'] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

/** ISO weekday (1 = Monday) and minute of the day of `now` in an IANA time zone. */
function localTime(timezone: string, now: Date): { weekday: number; minute: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(now);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  const weekday = ISO_WEEKDAY[part('weekday')];
  if (weekday === undefined) throw new Error(`unexpected weekday from Intl: ${part('weekday')}`);
  return { weekday, minute: Number(part('hour')) * 60 + Number(part('minute')) };
}

/**
 * Whether `now` falls inside the window, in the window's time zone. `start` is inclusive, `end` exclusive.
 * - `start < end`: a same-day window on each listed day.
 * - `end < start`: a window that crosses midnight; it belongs to the day it starts on, so with
 *   days = Mon–Fri and 22:00–06:00, Saturday 02:00 is inside (Friday's night) and Monday 02:00 is not.
 * - `start == end`: the whole of each listed day.
 * An unknown time zone throws a RangeError (FlowInput rejects those up front).
 */
export function withinWorkingHours(wh: WorkingHours, now: Date): boolean {
  const { weekday, minute } = localTime(wh.timezone, now);
  const start = minutesOf(wh.start);
  const end = minutesOf(wh.end);
  const onDay = (d: number) => wh.days.includes(d);
  if (start === end) return onDay(weekday);
  if (start < end) return onDay(weekday) && minute >= start && minute < end;
  if (minute >= start) return onDay(weekday);
  if (minute < end) return onDay(weekday === 1 ? 7 : weekday - 1);
  return false;
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WorkingHours } from '#lib/domain/flow.ts';
import { withinWorkingHours } from '#lib/domain/working-hours.ts';

const weekdays = [1, 2, 3, 4, 5];

describe('withinWorkingHours', () => {
  // 2026-01-05 is a Monday.
  const office = { timezone: 'UTC', days: weekdays, start: '09:00', end: '17:00' };
  it.each([
    ['Monday 09:00 (start is inclusive)', '2026-01-05T09:00:00Z', true],
    ['Monday 08:59', '2026-01-05T08:59:59Z', false],
    ['Friday 16:59', '2026-01-09T16:59:00Z', true],
    ['Friday 17:00 (end is exclusive)', '2026-01-09T17:00:00Z', false],
    ['Saturday noon', '2026-01-10T12:00:00Z', false],
    ['Sunday noon', '2026-01-11T12:00:00Z', false],
  ])('same-day window in UTC: %s → %s', (_, at, expected) => {
    expect(withinWorkingHours(office, new Date(at))).toBe(expected);
  });

  const night = { timezone: 'UTC', days: weekdays, start: '22:00', end: '06:00' };
  it.each([
    ['Monday 22:00, the start of Monday night', '2026-01-05T22:00:00Z', true],
    ['Tuesday 02:00, still Monday night', '2026-01-06T02:00:00Z', true],
    ['Tuesday 06:00, the end', '2026-01-06T06:00:00Z', false],
    ['Tuesday 12:00, between nights', '2026-01-06T12:00:00Z', false],
    ['Saturday 03:00, the tail of Friday night', '2026-01-10T03:00:00Z', true],
    ['Saturday 22:00, no Saturday night', '2026-01-10T22:00:00Z', false],
    ['Monday 02:00, the tail of a Sunday night that is not listed', '2026-01-05T02:00:00Z', false],
    ['Sunday 23:00, Sunday not listed', '2026-01-11T23:00:00Z', false],
  ])('window across midnight: %s → %s', (_, at, expected) => {
    expect(withinWorkingHours(night, new Date(at))).toBe(expected);
  });

  it('wraps Monday early hours back to Sunday night when Sunday is listed', () => {
    const sundayNights = { ...night, days: [7] };
    expect(withinWorkingHours(sundayNights, new Date('2026-01-05T02:00:00Z'))).toBe(true);
    expect(withinWorkingHours(sundayNights, new Date('2026-01-11T23:00:00Z'))).toBe(true);
    expect(withinWorkingHours(sundayNights, new Date('2026-01-06T02:00:00Z'))).toBe(false);
  });

  it('judges the hour and the weekday in the window time zone, not UTC', () => {
    const tokyo = { timezone: 'Asia/Tokyo', days: weekdays, start: '09:00', end: '18:00' };
    // Sunday 2026-01-04 23:30 UTC is Monday 08:30 in Tokyo (UTC+9): not yet open.
    expect(withinWorkingHours(tokyo, new Date('2026-01-04T23:30:00Z'))).toBe(false);
    // Monday 00:30 UTC is Monday 09:30 in Tokyo: open, although it is only 00:30 in UTC.
    expect(withinWorkingHours(tokyo, new Date('2026-01-05T00:30:00Z'))).toBe(true);
    // Friday 10:00 UTC is Friday 19:00 in Tokyo: closed, although it is office time in UTC.
    expect(withinWorkingHours(tokyo, new Date('2026-01-09T10:00:00Z'))).toBe(false);
  });

  it('follows daylight saving time (New York is UTC-5 in winter, UTC-4 in summer)', () => {
    const ny = { timezone: 'America/New_York', days: weekdays, start: '09:00', end: '17:00' };
    expect(withinWorkingHours(ny, new Date('2026-01-05T13:30:00Z'))).toBe(false); // 08:30 EST
    expect(withinWorkingHours(ny, new Date('2026-07-06T13:30:00Z'))).toBe(true); // 09:30 EDT
  });

  it('handles a window across midnight in a non-UTC zone with a half-hour offset', () => {
    const delhi = { timezone: 'Asia/Kolkata', days: [5], start: '23:00', end: '01:30' };
    // Friday 2026-01-09 18:00 UTC = Friday 23:30 IST.
    expect(withinWorkingHours(delhi, new Date('2026-01-09T18:00:00Z'))).toBe(true);
    // Friday 19:45 UTC = Saturday 01:15 IST, the tail of Friday night.
    expect(withinWorkingHours(delhi, new Date('2026-01-09T19:45:00Z'))).toBe(true);
    // Friday 20:00 UTC = Saturday 01:30 IST: closed.
    expect(withinWorkingHours(delhi, new Date('2026-01-09T20:00:00Z'))).toBe(false);
  });

  it('treats start equal to end as the whole of each listed day', () => {
    const allDay = { timezone: 'UTC', days: [1], start: '00:00', end: '00:00' };
    expect(withinWorkingHours(allDay, new Date('2026-01-05T00:00:00Z'))).toBe(true);
    expect(withinWorkingHours(allDay, new Date('2026-01-05T23:59:00Z'))).toBe(true);
    expect(withinWorkingHours(allDay, new Date('2026-01-06T00:00:00Z'))).toBe(false);
  });

  it('is always open with every day listed and a 00:00–00:00 window', () => {
    const always = { timezone: 'Europe/Paris', days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '00:00' };
    fc.assert(
      fc.property(fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }), (d) => {
        expect(withinWorkingHours(always, d)).toBe(true);
      }),
    );
  });

  it('matches an oracle computed from UTC fields for a night window on random days', () => {
    const isoDay = (d: Date) => ((d.getUTCDay() + 6) % 7) + 1;
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }),
        fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 }),
        (d, days) => {
          const hour = d.getUTCHours();
          const yesterday = isoDay(new Date(d.getTime() - 86_400_000));
          const expected = (hour >= 20 && days.includes(isoDay(d))) || (hour < 4 && days.includes(yesterday));
          expect(withinWorkingHours({ timezone: 'UTC', days, start: '20:00', end: '04:00' }, d)).toBe(expected);
        },
      ),
    );
  });
});

describe('WorkingHours schema', () => {
  it('refuses an unknown time zone, naming the field', () => {
    const result = WorkingHours.safeParse({ timezone: 'Mars/Olympus', days: [1], start: '09:00', end: '17:00' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['timezone']);
  });

  it('accepts an IANA time zone', () => {
    expect(WorkingHours.parse({ timezone: 'Europe/Paris', days: [1], start: '09:00', end: '17:00' }).timezone).toBe(
      'Europe/Paris',
    );
  });
});

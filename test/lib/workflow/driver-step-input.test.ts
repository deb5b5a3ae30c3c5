import { describe, expect, it } from 'vitest';
import { DriverStepInput } from '#lib/workflow/contract.ts';

/** What a driver function takes from the state machine: the route's hint is read when it parses, never required. */
describe('DriverStepInput', () => {
  const base = { requestId: 'r1', attempt: 0, action: 'grant' };

  it("keeps the route's integrationIds and drops the rest of the route", () => {
    const route = { next: 'grant', waitSeconds: 1, version: 3, branch: 'grant:postgresql', integrationIds: ['pg'] };

    expect(DriverStepInput.parse({ ...base, route })).toEqual({ ...base, route: { integrationIds: ['pg'] } });
  });

  it('takes an input without a route (an older definition) or a route without the hint (an older caller)', () => {
    expect(DriverStepInput.parse(base)).toEqual(base);
    expect(DriverStepInput.parse({ ...base, route: { next: 'grant' } })).toEqual({ ...base, route: {} });
  });

  it('drops a hint that does not parse instead of failing the step', () => {
    const tooLong = 'x'.repeat(65);

    expect(DriverStepInput.parse({ ...base, route: { integrationIds: [tooLong] } })).toEqual({
      ...base,
      route: undefined,
    });
    expect(DriverStepInput.parse({ ...base, route: 'not a route' }).route).toBeUndefined();
  });

  it('still refuses an input without the request id', () => {
    expect(DriverStepInput.safeParse({ attempt: 0, action: 'grant' }).success).toBe(false);
  });
});

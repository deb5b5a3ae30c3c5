import { describe, expect, it } from 'vitest';
import { InvalidTransitionError } from '#lib/domain/errors.ts';
import { RequestStatus, TERMINAL_STATUSES } from '#lib/domain/request.ts';
import { assertTransition, canTransition, isTerminal, TRANSITIONS } from '#lib/domain/transitions.ts';

const ALL = RequestStatus.options;

/** The lifecycle restated from docs/architecture.md, independently of the implementation's table. */
const ALLOWED = new Set([
  'PENDING>APPROVED',
  'PENDING>REJECTED',
  'PENDING>CANCELLED',
  'PENDING>TIMED_OUT',
  'APPROVED>GRANTING',
  'GRANTING>ACTIVE',
  'GRANTING>FAILED',
  // A grant that could not complete is undone on the revoke path, then ends FAILED.
  'GRANTING>REVOKING',
  'ACTIVE>REVOKING',
  'REVOKING>REVOKED',
  'REVOKING>EXPIRED',
  'REVOKING>REVOKE_FAILED',
  'REVOKING>FAILED',
  'REVOKE_FAILED>REVOKING',
]);

const pairs = ALL.flatMap((from) => ALL.map((to) => [from, to] as const));

describe('canTransition', () => {
  it.each(pairs)('%s → %s matches the documented lifecycle', (from, to) => {
    expect(canTransition(from, to)).toBe(ALLOWED.has(`${from}>${to}`));
  });

  it('never allows staying in the same status', () => {
    expect(ALL.filter((s) => canTransition(s, s))).toEqual([]);
  });
});

describe('assertTransition', () => {
  it('refuses an illegal change with an InvalidTransitionError naming both statuses and the status field', () => {
    let caught: unknown;
    try {
      assertTransition('ACTIVE', 'APPROVED');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidTransitionError);
    expect(caught).toMatchObject({ message: 'cannot go from ACTIVE to APPROVED', field: 'status', status: 409 });
  });

  it('accepts a legal change', () => {
    expect(assertTransition('PENDING', 'APPROVED')).toBeUndefined();
  });

  it('refuses any change out of a terminal status', () => {
    for (const from of TERMINAL_STATUSES) {
      for (const to of ALL) expect(() => assertTransition(from, to)).toThrow(InvalidTransitionError);
    }
  });
});

describe('isTerminal', () => {
  it.each(ALL)('%s is terminal exactly when it has no way out', (status) => {
    expect(isTerminal(status)).toBe(TRANSITIONS[status].length === 0);
  });

  it('treats REVOKE_FAILED as live, so the reconciler keeps retrying', () => {
    expect(isTerminal('REVOKE_FAILED')).toBe(false);
    expect(TRANSITIONS.REVOKE_FAILED).toEqual(['REVOKING']);
  });
});

describe('TRANSITIONS', () => {
  it('reaches every status from PENDING', () => {
    const seen = new Set<RequestStatus>(['PENDING']);
    const queue: RequestStatus[] = ['PENDING'];
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
      for (const next of TRANSITIONS[s]) {
        if (!seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    expect([...seen].sort()).toEqual([...ALL].sort());
  });

  it('cannot be modified at runtime', () => {
    expect(Object.isFrozen(TRANSITIONS)).toBe(true);
  });
});

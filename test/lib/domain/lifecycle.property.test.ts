import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyVote } from '#lib/domain/approvals.ts';
import { DomainError } from '#lib/domain/errors.ts';
import type { Identity } from '#lib/domain/identity.ts';
import { cancelRequest, changeStatus, extendGrant, requestRevoke } from '#lib/domain/lifecycle.ts';
import { type AccessRequest, RequestStatus } from '#lib/domain/request.ts';
import { canTransition, isTerminal } from '#lib/domain/transitions.ts';
import { alice, bob, carol, dave, flow, mallory, manual, NOW, pending } from './fixtures.ts';

const people: Identity[] = [alice, bob, carol, dave, mallory];
const person = fc.constantFrom(...people);
const at = NOW;

/** Every way a request can be changed, by anyone, in any status. */
const action = fc.oneof(
  fc.record({
    kind: fc.constant('vote' as const),
    who: person,
    vote: fc.constantFrom<'approve' | 'reject'>('approve', 'reject'),
  }),
  fc.record({ kind: fc.constant('cancel' as const), who: person }),
  fc.record({ kind: fc.constant('revoke' as const), who: person, isAdmin: fc.boolean() }),
  fc.record({
    kind: fc.constant('extend' as const),
    who: person,
    isAdmin: fc.boolean(),
    minutes: fc.integer({ min: -5, max: 90 }),
  }),
  fc.record({ kind: fc.constant('system' as const), to: fc.constantFrom(...RequestStatus.options) }),
);
type Action = typeof action extends fc.Arbitrary<infer A> ? A : never;

function apply(request: AccessRequest, a: Action): AccessRequest {
  switch (a.kind) {
    case 'vote':
      return applyVote(request, { who: a.who, vote: a.vote, channel: 'api', now: at }).request;
    case 'cancel':
      return cancelRequest(request, { who: a.who, channel: 'api', now: at });
    case 'revoke':
      return requestRevoke(request, { who: a.who, channel: 'api', now: at, isAdmin: a.isAdmin });
    case 'extend':
      return extendGrant(request, { who: a.who, minutes: a.minutes, channel: 'api', now: at, isAdmin: a.isAdmin });
    case 'system':
      return changeStatus(request, a.to, { by: 'stint:system', channel: 'workflow', action: 'step', at });
  }
}

const flows = fc.constantFrom(
  flow(),
  flow({ approval: { mode: 'auto' }, maxExtensions: 2 }),
  flow({ approval: manual([{ groups: ['dba'] }, { users: ['dave'] }], { type: 'allOf' }) }),
  flow({ approval: manual([{ groups: ['dba'] }, { groups: ['sec'] }], { type: 'quorum', count: 2 }) }),
);

describe('lifecycle properties', () => {
  it('no sequence of actions reaches a status not allowed by TRANSITIONS', () => {
    fc.assert(
      fc.property(flows, fc.array(action, { maxLength: 25 }), (f, actions) => {
        let request = pending(f);
        for (const a of actions) {
          let next: AccessRequest;
          try {
            next = apply(request, a);
          } catch (error) {
            // Refusals are domain errors only, never a crash.
            expect(error).toBeInstanceOf(DomainError);
            continue;
          }
          if (next.status !== request.status) {
            expect(canTransition(request.status, next.status)).toBe(true);
            expect(isTerminal(request.status)).toBe(false);
          }
          expect(next.version).toBe(request.version);
          request = next;
        }
      }),
    );
  });

  it('a request becomes APPROVED only by the system for self-serve flows or by approvers other than the requester', () => {
    fc.assert(
      fc.property(flows, fc.array(action, { maxLength: 25 }), (f, actions) => {
        let request = pending(f);
        for (const a of actions) {
          if (a.kind === 'system') continue; // only people's actions here
          try {
            request = apply(request, a);
          } catch {}
        }
        expect(request.votes.every((v) => v.by !== alice.sub)).toBe(true);
        if (request.decision?.outcome === 'approved') {
          expect(request.decision.by).not.toBe(alice.sub);
          expect(request.votes.some((v) => v.by === request.decision?.by && v.vote === 'approve')).toBe(true);
        }
      }),
    );
  });

  it('extensions never exceed the flow limit', () => {
    fc.assert(
      fc.property(fc.array(action, { maxLength: 30 }), (actions) => {
        const f = flow({ approval: { mode: 'auto' }, maxExtensions: 2 });
        let request = pending(f);
        for (const a of actions) {
          try {
            request = apply(request, a);
          } catch {}
        }
        expect(request.extensions.length).toBeLessThanOrEqual(2);
        expect(request.extensions.every((e) => e.minutes > 0 && e.minutes <= f.maxMinutes)).toBe(true);
      }),
    );
  });
});

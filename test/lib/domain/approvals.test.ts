import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyVote,
  approverKeys,
  approverStanding,
  onCallAnswersByKey,
  onCallApproverKey,
  tally,
} from '#lib/domain/approvals.ts';
import { ConflictError, InvalidTransitionError, NotApproverError, PolicyError } from '#lib/domain/errors.ts';
import type { ApprovalPolicy } from '#lib/domain/flow.ts';
import type { Identity } from '#lib/domain/identity.ts';
import type { AccessRequest, Vote } from '#lib/domain/request.ts';
import { active, alice, bob, carol, dave, flow, identity, mallory, manual, NOW, pending, thrown } from './fixtures.ts';

type Manual = Extract<ApprovalPolicy, { mode: 'manual' }>;

const vote = (request: AccessRequest, who: Identity, v: 'approve' | 'reject' = 'approve', reason?: string) =>
  applyVote(request, { who, vote: v, channel: 'api', now: NOW, ...(reason === undefined ? {} : { reason }) });

function manualPolicy(sets: Record<string, unknown>[], rule: Record<string, unknown>): Manual {
  const approval = flow({ approval: manual(sets, rule) }).approval;
  if (approval.mode !== 'manual') throw new Error('expected a manual policy');
  return approval;
}

const v = (by: string, choice: 'approve' | 'reject', sets: number[]): Vote => ({
  by,
  email: `${by}@example.com`,
  vote: choice,
  channel: 'api',
  at: NOW.toISOString(),
  sets,
});

describe('approverStanding', () => {
  const dbaFlow = flow({ approval: manual([{ groups: ['dba'] }, { users: ['dave'] }], { type: 'anyOf' }) });

  it('makes a member of an approver group eligible, with the sets they belong to', () => {
    expect(approverStanding(pending(dbaFlow), bob)).toEqual({ eligible: true, sets: [0] });
  });

  it('makes a listed user eligible', () => {
    expect(approverStanding(pending(dbaFlow), dave)).toEqual({ eligible: true, sets: [1] });
  });

  it('lists every set a user belongs to', () => {
    const both = identity('dave', ['dba']);
    expect(approverStanding(pending(dbaFlow), both)).toEqual({ eligible: true, sets: [0, 1] });
  });

  it('refuses someone in no set', () => {
    expect(approverStanding(pending(dbaFlow), mallory)).toEqual({
      eligible: false,
      reason: 'you are not an approver of this request',
    });
  });

  it('refuses the requester even when they are in the approver group and listed by name', () => {
    const adminFlow = flow({ approval: manual([{ groups: ['dba', 'admins'], users: ['root'] }], { type: 'anyOf' }) });
    const root = identity('root', ['dba', 'admins']);
    expect(approverStanding(pending(adminFlow, root), root)).toEqual({
      eligible: false,
      reason: 'requesters cannot approve their own request',
    });
  });

  it('refuses the grantee of a request made on their behalf', () => {
    const request = pending(dbaFlow, alice, { grantee: { sub: 'bob', email: 'bob@example.com' } }, { isAdmin: true });
    expect(approverStanding(request, bob)).toMatchObject({ eligible: false });
    expect(approverStanding(request, carol)).toEqual({ eligible: true, sets: [0] });
  });

  it('nobody approves a self-serve flow', () => {
    const request = pending(flow({ approval: { mode: 'auto' } }));
    expect(approverStanding(request, bob)).toMatchObject({ eligible: false });
  });
});

describe('tally', () => {
  const two = [{ groups: ['dba'] }, { groups: ['sec'] }];
  it.each<[string, Record<string, unknown>, Vote[], 'pending' | 'approved' | 'rejected']>([
    ['anyOf, no votes', { type: 'anyOf' }, [], 'pending'],
    ['anyOf, one approval', { type: 'anyOf' }, [v('bob', 'approve', [0])], 'approved'],
    ['anyOf, one reject', { type: 'anyOf' }, [v('bob', 'reject', [0])], 'rejected'],
    ['allOf, only the first set approved', { type: 'allOf' }, [v('bob', 'approve', [0])], 'pending'],
    [
      'allOf, two approvals from the same set',
      { type: 'allOf' },
      [v('bob', 'approve', [0]), v('carol', 'approve', [0])],
      'pending',
    ],
    ['allOf, both sets approved', { type: 'allOf' }, [v('bob', 'approve', [0]), v('dave', 'approve', [1])], 'approved'],
    ['allOf, one voter in both sets', { type: 'allOf' }, [v('eve', 'approve', [0, 1])], 'approved'],
    [
      'allOf, a reject after one approval',
      { type: 'allOf' },
      [v('bob', 'approve', [0]), v('dave', 'reject', [1])],
      'rejected',
    ],
    ['quorum 2, one approval', { type: 'quorum', count: 2 }, [v('bob', 'approve', [0])], 'pending'],
    [
      'quorum 2, the same subject twice',
      { type: 'quorum', count: 2 },
      [v('bob', 'approve', [0]), v('bob', 'approve', [0])],
      'pending',
    ],
    [
      'quorum 2, two subjects',
      { type: 'quorum', count: 2 },
      [v('bob', 'approve', [0]), v('carol', 'approve', [0])],
      'approved',
    ],
    [
      'quorum 2, two approvals and a reject',
      { type: 'quorum', count: 2 },
      [v('bob', 'approve', [0]), v('carol', 'approve', [0]), v('dave', 'reject', [1])],
      'rejected',
    ],
    ['a vote recorded with no set does not count', { type: 'anyOf' }, [v('alice', 'approve', [])], 'pending'],
    [
      'a reject recorded with no set does not count',
      { type: 'anyOf' },
      [v('alice', 'reject', []), v('bob', 'approve', [0])],
      'approved',
    ],
    [
      'a vote for a set the policy does not have does not count',
      { type: 'anyOf' },
      [v('bob', 'approve', [7])],
      'pending',
    ],
  ])('%s → %s', (_, rule, votes, expected) => {
    expect(tally(manualPolicy(two, rule), votes, 1)).toBe(expected);
  });
});

describe('applyVote', () => {
  const dbaAnyOf = flow();

  it('approves on the deciding vote and records the decision', () => {
    const { request, outcome } = vote(pending(dbaAnyOf), bob, 'approve', 'looks fine');
    expect(outcome).toBe('approved');
    expect(request.status).toBe('APPROVED');
    expect(request.decision).toEqual({
      outcome: 'approved',
      by: 'bob',
      channel: 'api',
      at: NOW.toISOString(),
      reason: 'looks fine',
    });
    expect(request.votes).toEqual([
      {
        by: 'bob',
        email: 'bob@example.com',
        vote: 'approve',
        channel: 'api',
        at: NOW.toISOString(),
        reason: 'looks fine',
        sets: [0],
      },
    ]);
    expect(request.lastChange).toEqual({
      by: 'bob',
      channel: 'api',
      action: 'approve',
      reason: 'looks fine',
      at: NOW.toISOString(),
    });
    expect(request.version).toBe(1);
  });

  it('rejects on one eligible reject', () => {
    const { request, outcome } = vote(pending(dbaAnyOf), bob, 'reject', 'not now');
    expect(outcome).toBe('rejected');
    expect(request.status).toBe('REJECTED');
    expect(request.decision).toMatchObject({ outcome: 'rejected', by: 'bob', reason: 'not now' });
  });

  it('refuses self-approval even by an admin in the approver group', () => {
    const admin = identity('root', ['dba', 'admins']);
    const request = pending(dbaAnyOf, admin);
    const error = thrown(() => vote(request, admin));
    expect(error).toBeInstanceOf(NotApproverError);
    expect(error).toMatchObject({ message: 'requesters cannot approve their own request', status: 403 });
  });

  it('refuses a non-approver', () => {
    const error = thrown(() => vote(pending(dbaAnyOf), mallory));
    expect(error).toBeInstanceOf(NotApproverError);
    expect(error).toMatchObject({ message: 'you are not an approver of this request' });
  });

  it('refuses a vote on a self-serve request (it is not PENDING)', () => {
    const request = pending(flow({ approval: { mode: 'auto' } }));
    expect(thrown(() => vote(request, bob))).toBeInstanceOf(InvalidTransitionError);
  });

  it('treats the same vote again as a duplicate and changes nothing', () => {
    const quorum = flow({ approval: manual([{ groups: ['dba'] }], { type: 'quorum', count: 2 }) });
    const first = vote(pending(quorum), bob);
    expect(first.outcome).toBe('recorded');
    const again = vote(first.request, bob);
    expect(again.outcome).toBe('duplicate');
    expect(again.request).toBe(first.request);
  });

  it('treats a repeated deciding vote as a duplicate after the request was decided', () => {
    const decided = vote(pending(dbaAnyOf), bob).request;
    const again = vote(decided, bob);
    expect(again).toEqual({ request: decided, outcome: 'duplicate' });
  });

  it('refuses a changed vote with a ConflictError', () => {
    const quorum = flow({ approval: manual([{ groups: ['dba'] }], { type: 'quorum', count: 2 }) });
    const first = vote(pending(quorum), bob).request;
    const error = thrown(() => vote(first, bob, 'reject'));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ message: expect.stringMatching(/already voted/) });
  });

  it('refuses a vote once the request is decided, saying the current status', () => {
    const decided = vote(pending(dbaAnyOf), bob).request;
    const error = thrown(() => vote(decided, carol));
    expect(error).toBeInstanceOf(InvalidTransitionError);
    expect(error).toMatchObject({ field: 'status', message: expect.stringContaining('APPROVED') });
  });

  it('refuses a vote on an ACTIVE request', () => {
    const error = thrown(() => vote(active(pending(dbaAnyOf)), carol));
    expect(error).toBeInstanceOf(InvalidTransitionError);
    expect(error).toMatchObject({ message: expect.stringContaining('ACTIVE') });
  });

  it('requires a reason when the flow asks approvers for one', () => {
    const strict = flow({ approval: manual([{ groups: ['dba'] }], { type: 'anyOf' }, { reasonRequired: true }) });
    for (const reason of [undefined, '   ']) {
      const error = thrown(() => vote(pending(strict), bob, 'approve', reason));
      expect(error).toBeInstanceOf(PolicyError);
      expect(error).toMatchObject({ field: 'reason' });
    }
    expect(vote(pending(strict), bob, 'approve', 'ticket OPS-1').outcome).toBe('approved');
  });

  it('needs one approval from each set under allOf', () => {
    const allOf = flow({ approval: manual([{ groups: ['dba'] }, { groups: ['sec'] }], { type: 'allOf' }) });
    const afterBob = vote(pending(allOf), bob);
    expect(afterBob.outcome).toBe('recorded');
    expect(afterBob.request.status).toBe('PENDING');
    expect(afterBob.request.lastChange).toMatchObject({ by: 'bob', action: 'approve' });
    const afterCarol = vote(afterBob.request, carol);
    expect(afterCarol.outcome).toBe('recorded');
    const afterDave = vote(afterCarol.request, dave);
    expect(afterDave.outcome).toBe('approved');
    expect(afterDave.request.status).toBe('APPROVED');
    expect(afterDave.request.votes.map((x) => [x.by, x.sets])).toEqual([
      ['bob', [0]],
      ['carol', [0]],
      ['dave', [1]],
    ]);
  });

  it('approves under quorum 2 on the second distinct approver', () => {
    const quorum = flow({ approval: manual([{ groups: ['dba'] }], { type: 'quorum', count: 2 }) });
    const first = vote(pending(quorum), bob);
    const second = vote(first.request, carol);
    expect([first.outcome, second.outcome]).toEqual(['recorded', 'approved']);
    expect(second.request.decision?.by).toBe('carol');
  });

  it('does not modify the request it was given', () => {
    const request = pending(dbaAnyOf);
    const before = structuredClone(request);
    vote(request, bob);
    expect(request).toEqual(before);
  });
});

describe('approval properties', () => {
  const groups = fc.uniqueArray(fc.constantFrom('dba', 'sec', 'admins', 'dev', 'ops'), { maxLength: 5 });

  it("the requester's vote never counts, whatever their groups, even when asking for someone else", () => {
    const anyVote = fc.constantFrom<'approve' | 'reject'>('approve', 'reject');
    fc.assert(
      fc.property(groups, anyVote, fc.boolean(), (gs, choice, onBehalf) => {
        const requester = identity('req', gs);
        const f = flow({
          approval: manual([{ groups: ['dba', 'sec', 'admins', 'dev', 'ops'], users: ['req'] }], { type: 'anyOf' }),
        });
        const grantee = onBehalf ? { grantee: { sub: 'gina', email: 'gina@example.com' } } : {};
        const request = pending(f, requester, grantee, { isAdmin: true });
        const error = thrown(() => vote(request, requester, choice));
        expect(error).toBeInstanceOf(NotApproverError);
        expect(error).toMatchObject({ message: 'requesters cannot approve their own request' });
        expect(request.votes).toEqual([]);
        expect(request.status).toBe('PENDING');
      }),
    );
  });

  it('quorum N needs N distinct approvers, whatever the order and repeats', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 30 }),
        (count, voters) => {
          const f = flow({ approval: manual([{ groups: ['dba'] }], { type: 'quorum', count }) });
          let request = pending(f);
          const distinct = new Set<number>();
          for (const n of voters) {
            if (request.status !== 'PENDING') {
              expect(distinct.size).toBe(count);
              return;
            }
            const { request: next, outcome } = vote(request, identity(`approver-${n}`, ['dba']));
            expect(outcome).toBe(distinct.has(n) ? 'duplicate' : distinct.size + 1 === count ? 'approved' : 'recorded');
            distinct.add(n);
            request = next;
          }
          expect(request.status).toBe(distinct.size >= count ? 'APPROVED' : 'PENDING');
        },
      ),
    );
  });

  it('tally is unaffected by the order of the votes', () => {
    const policy = manualPolicy([{ groups: ['dba'] }, { groups: ['sec'] }], { type: 'allOf' });
    const arbVote = fc.record({
      by: fc.constantFrom('a', 'b', 'c', 'd'),
      choice: fc.constantFrom<'approve' | 'reject'>('approve', 'reject'),
      sets: fc.uniqueArray(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }),
    });
    fc.assert(
      fc.property(
        fc
          .array(arbVote, { maxLength: 8 })
          .chain((vs) => fc.tuple(fc.constant(vs), fc.shuffledSubarray(vs, { minLength: vs.length }))),
        ([vs, shuffled]) => {
          const toVotes = (xs: typeof vs) => xs.map((x) => v(x.by, x.choice, x.sets));
          expect(tally(policy, toVotes(shuffled), 1)).toBe(tally(policy, toVotes(vs), 1));
        },
      ),
    );
  });
});

describe('approverKeys', () => {
  it('lists users and groups of every set once', () => {
    const f = flow({
      approval: manual(
        [
          { users: ['dave'], groups: ['dba'] },
          { users: ['dave', 'erin'], groups: ['dba', 'sec'] },
        ],
        { type: 'allOf' },
      ),
    });
    expect(approverKeys(pending(f)).sort()).toEqual(['group:dba', 'group:sec', 'user:dave', 'user:erin']);
  });

  it('includes every escalation tier, reached or not', () => {
    const f = flow({
      approval: manual(
        [{ users: ['dave'] }],
        { type: 'anyOf' },
        {
          escalation: { everyMinutes: 10, tiers: [{ groups: ['oncall'] }, { users: ['erin'], groups: ['sec'] }] },
        },
      ),
    });
    expect(approverKeys(pending(f)).sort()).toEqual(['group:oncall', 'group:sec', 'user:dave', 'user:erin']);
  });

  it('includes the requester’s pinned manager when a set admits the manager, and only then', () => {
    const withManager = flow({ approval: manual([{ manager: true }], { type: 'anyOf' }) });
    const without = flow({ approval: manual([{ users: ['dave'] }], { type: 'anyOf' }) });
    const managed = { ...alice, manager: 'mona' };

    expect(approverKeys(pending(withManager, managed))).toEqual(['user:mona']);
    expect(approverKeys(pending(without, managed))).toEqual(['user:dave']);
    expect(approverKeys(pending(withManager, alice))).toEqual([]);
  });

  it('is empty for a self-serve flow', () => {
    expect(approverKeys(pending(flow({ approval: { mode: 'auto' } })))).toEqual([]);
  });

  it('keys each on-call query once, by provider and every part it names, ids URI-encoded', () => {
    const f = flow({
      approval: manual(
        [
          { oncall: { provider: 'pagerduty', schedule: 'PSCHED' } },
          { users: ['dave'], oncall: { provider: 'pagerduty', schedule: 'PSCHED' } },
          { oncall: { provider: 'opsgenie', schedule: 'ops primary:1' } },
        ],
        { type: 'anyOf' },
        {
          escalation: {
            everyMinutes: 10,
            tiers: [{ oncall: { provider: 'pagerduty', escalationPolicy: 'PPOL', level: 2 } }],
          },
        },
      ),
    });
    expect(approverKeys(pending(f)).sort()).toEqual([
      'oncall:opsgenie:schedule:ops%20primary%3A1',
      'oncall:pagerduty:policy:PPOL:level:2',
      'oncall:pagerduty:schedule:PSCHED',
      'user:dave',
    ]);
  });
});

describe('onCallAnswersByKey', () => {
  it('hands each on-call set the answer of its query, and none to a set whose query was not asked', () => {
    const f = flow({
      approval: manual(
        [
          { users: ['dave'] },
          { oncall: { provider: 'pagerduty', schedule: 'PSCHED' } },
          { oncall: { provider: 'pagerduty', schedule: 'OTHER' } },
        ],
        { type: 'anyOf' },
      ),
    });
    const down = { unavailable: 'down' };
    const answers = onCallAnswersByKey(
      pending(f),
      new Map([[onCallApproverKey({ provider: 'pagerduty', schedule: 'PSCHED' }), down]]),
    );
    expect([...answers]).toEqual([[1, down]]);
  });
});

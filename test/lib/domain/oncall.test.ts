import { describe, expect, it } from 'vitest';
import {
  applyVote,
  approverStanding,
  type OnCallAnswers,
  type OnCallShiftAnswer,
  onCallChange,
} from '#lib/domain/approvals.ts';
import { buildRequest } from '#lib/domain/create-request.ts';
import { ForbiddenError, NotApproverError, PolicyError } from '#lib/domain/errors.ts';
import { AccessFlow } from '#lib/domain/flow.ts';
import type { Identity } from '#lib/domain/identity.ts';
import { extendGrant } from '#lib/domain/lifecycle.ts';
import { active, alice, bob, flow, identity, integrations, manual, NOW, pending, thrown } from './fixtures.ts';

/**
 * Shift members as approvers and on-call requestors, pure: the service asks the providers and hands the answers in
 * (per approver set: the shifts, or why the provider could not be asked); the domain matches the voter by email.
 */

const olga = identity('olga', ['dev']);
const HOUR = 3_600_000;

function shift(email: string, over: Partial<OnCallShiftAnswer> = {}): OnCallShiftAnswer {
  return {
    provider: 'pagerduty',
    email,
    schedule: 'PSCHED1',
    start: new Date(NOW.getTime() - HOUR).toISOString(),
    end: new Date(NOW.getTime() + 2 * HOUR).toISOString(),
    ...over,
  };
}

/** Set 0: the dba group; set 1: whoever is on call in PagerDuty schedule PSCHED1. */
const onCallFlow = flow({
  approval: manual(
    [{ groups: ['dba'] }, { name: 'Primary on-call', oncall: { provider: 'pagerduty', schedule: 'PSCHED1' } }],
    { type: 'anyOf' },
  ),
});

const answers = (answer: OnCallAnswers extends ReadonlyMap<number, infer A> ? A : never): OnCallAnswers =>
  new Map([[1, answer]]);

describe('on-call approver sets', () => {
  it('admits whoever is on call, matched by email (case-insensitively), with the shift it relied on', () => {
    const standing = approverStanding(
      pending(onCallFlow),
      olga,
      answers({ shifts: [shift('someone@example.com'), shift('OLGA@example.com')] }),
    );
    expect(standing).toEqual({
      eligible: true,
      sets: [1],
      oncall: [
        {
          set: 1,
          provider: 'pagerduty',
          schedule: 'PSCHED1',
          start: '2026-01-07T09:00:00.000Z',
          end: '2026-01-07T12:00:00.000Z',
        },
      ],
    });
  });

  it('refuses someone the provider does not list (on call yesterday, not now)', () => {
    const standing = approverStanding(pending(onCallFlow), olga, answers({ shifts: [shift('nina@example.com')] }));
    expect(standing).toEqual({ eligible: false, reason: 'you are not an approver of this request' });
  });

  it('admits nobody through the set when the provider could not be asked, and says so', () => {
    const standing = approverStanding(
      pending(onCallFlow),
      olga,
      answers({ unavailable: 'on-call provider pagerduty: answered 500' }),
    );
    expect(standing).toEqual({
      eligible: false,
      reason:
        'you are not an approver of this request (who is on call could not be checked, so nobody is admitted as ' +
        'on call: on-call provider pagerduty: answered 500)',
    });
  });

  it('leaves the other sets working when the provider is down', () => {
    const down = answers({ unavailable: 'on-call provider pagerduty: answered 500' });
    expect(approverStanding(pending(onCallFlow), bob, down)).toEqual({ eligible: true, sets: [0] });
  });

  it('admits nobody through the set when no answer was given', () => {
    expect(approverStanding(pending(onCallFlow), olga)).toEqual({
      eligible: false,
      reason: 'you are not an approver of this request',
    });
  });

  it('never lets the requester approve, even when on call', () => {
    const standing = approverStanding(
      pending(onCallFlow, olga),
      olga,
      answers({ shifts: [shift('olga@example.com')] }),
    );
    expect(standing).toEqual({ eligible: false, reason: 'requesters cannot approve their own request' });
  });

  it('records the shift on the vote and approves under anyOf', () => {
    const { request, outcome } = applyVote(pending(onCallFlow), {
      who: olga,
      vote: 'approve',
      channel: 'api',
      now: NOW,
      oncall: answers({ shifts: [shift('olga@example.com')] }),
    });
    expect(outcome).toBe('approved');
    expect(request.votes[0]).toMatchObject({
      by: 'olga',
      sets: [1],
      oncall: [{ set: 1, provider: 'pagerduty', schedule: 'PSCHED1', end: '2026-01-07T12:00:00.000Z' }],
    });
  });

  it('refuses the vote of someone who is not on call, naming the failing provider', () => {
    const error = thrown(() =>
      applyVote(pending(onCallFlow), {
        who: olga,
        vote: 'approve',
        channel: 'api',
        now: NOW,
        oncall: answers({ unavailable: 'on-call provider pagerduty: timed out' }),
      }),
    );
    expect(error).toBeInstanceOf(NotApproverError);
    expect((error as Error).message).toContain('on-call provider pagerduty: timed out');
  });

  it('refuses an approver set that names neither a schedule nor an escalation policy', () => {
    const parsed = AccessFlow.safeParse({
      ...onCallFlow,
      approval: manual([{ oncall: { provider: 'pagerduty', level: 1 } }], { type: 'anyOf' }),
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toBe('names a schedule or an escalation policy');
  });
});

describe('on-call requestors', () => {
  const requestorFlow = flow({
    requestors: { everyone: false, users: ['bob'], oncall: [{ provider: 'opsgenie', schedule: 'ops-primary' }] },
    approval: { mode: 'auto' },
    maxMinutes: 240,
    defaultMinutes: 60,
  });

  function request(
    who: Identity,
    onCallRequestors: Parameters<typeof buildRequest>[1]['onCallRequestors'],
    minutes = 180,
  ) {
    return buildRequest(
      { flowId: requestorFlow.id, durationMinutes: minutes, justification: 'incident 42' },
      {
        id: 'r1',
        requester: who,
        isAdmin: false,
        flow: requestorFlow,
        integrations,
        now: NOW,
        channel: 'api',
        ...(onCallRequestors === undefined ? {} : { onCallRequestors }),
      },
    );
  }

  it('auto-approves whoever is on call, caps the duration at the shift end and records the shift', () => {
    const made = request(olga, [
      { shifts: [shift('olga@example.com', { provider: 'opsgenie', schedule: 'ops-primary' })] },
    ]);
    expect(made.status).toBe('APPROVED');
    expect(made.durationMinutes).toBe(120);
    expect(made.onCall).toEqual({
      provider: 'opsgenie',
      schedule: 'ops-primary',
      start: '2026-01-07T09:00:00.000Z',
      end: '2026-01-07T12:00:00.000Z',
      askedMinutes: 180,
    });
  });

  it('keeps a duration that fits in the shift, without askedMinutes', () => {
    const made = request(olga, [{ shifts: [shift('olga@example.com')] }], 30);
    expect(made.durationMinutes).toBe(30);
    expect(made.onCall).not.toHaveProperty('askedMinutes');
  });

  it('refuses someone who is no longer on call (403 naming the schedule)', () => {
    const error = thrown(() => request(olga, [{ shifts: [shift('nina@example.com')] }]));
    expect(error).toBeInstanceOf(ForbiddenError);
    expect((error as Error).message).toBe(
      'you may not request access under flow db-admin: it admits whoever is on call in ops-primary (opsgenie), and you are not on call now',
    );
  });

  it('refuses when the provider could not be asked, saying so', () => {
    const error = thrown(() => request(olga, [{ unavailable: 'on-call provider opsgenie: answered 503' }]));
    expect(error).toBeInstanceOf(ForbiddenError);
    expect((error as Error).message).toContain(
      '(who is on call could not be checked: on-call provider opsgenie: answered 503)',
    );
  });

  it('refuses a shift with less than a minute left', () => {
    const ending = shift('olga@example.com', { end: new Date(NOW.getTime() + 30_000).toISOString() });
    const error = thrown(() => request(olga, [{ shifts: [ending] }]));
    expect(error).toBeInstanceOf(ForbiddenError);
    expect((error as Error).message).toContain('your on-call shift ends at');
  });

  it('does not cap a requestor the flow admits otherwise', () => {
    const made = request(bob, []);
    expect(made.durationMinutes).toBe(180);
    expect(made).not.toHaveProperty('onCall');
  });

  it('refuses to extend the grant past the shift end', () => {
    const made = active(request(olga, [{ shifts: [shift('olga@example.com')] }], 60));
    const error = thrown(() => extendGrant(made, { who: olga, minutes: 61, channel: 'api', now: NOW, isAdmin: false }));
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as Error).message).toBe(
      'this grant relied on an on-call shift that ends at 2026-01-07T12:00:00.000Z: it cannot be extended past the shift',
    );
  });

  it('admits the person without on-call when they are the requester of a normal flow', () => {
    expect(pending(flow(), alice).onCall).toBeUndefined();
  });
});

describe('onCallChange (a shift change before a decision)', () => {
  it('records everyone on call the first time, then only who has come on call since', () => {
    const first = onCallChange(pending(onCallFlow), answers({ shifts: [shift('OLGA@example.com')] }), NOW);
    expect(first?.onCallNotified).toEqual([
      {
        set: 1,
        provider: 'pagerduty',
        email: 'olga@example.com',
        end: '2026-01-07T12:00:00.000Z',
        at: NOW.toISOString(),
      },
    ]);
    expect(first?.lastChange).toMatchObject({ by: 'stint:system', channel: 'reconciler', action: 'oncall-change' });
    if (first === null) throw new Error('expected a change');

    expect(onCallChange(first, answers({ shifts: [shift('olga@example.com')] }), NOW)).toBeNull();
    const later = new Date(NOW.getTime() + 3 * HOUR);
    const second = onCallChange(first, answers({ shifts: [shift('nina@example.com')] }), later);
    expect(second?.onCallNotified?.map((n) => n.email)).toEqual(['olga@example.com', 'nina@example.com']);
    if (second === null) throw new Error('expected a change');
    // Olga back on call: she was asked already, so nobody is added.
    expect(onCallChange(second, answers({ shifts: [shift('olga@example.com')] }), later)).toBeNull();
  });

  it('adds nobody when the provider is down, for the requester, or once decided', () => {
    expect(onCallChange(pending(onCallFlow), answers({ unavailable: 'down' }), NOW)).toBeNull();
    expect(onCallChange(pending(onCallFlow, olga), answers({ shifts: [shift('olga@example.com')] }), NOW)).toBeNull();
    const decided = applyVote(pending(onCallFlow), { who: bob, vote: 'approve', channel: 'api', now: NOW }).request;
    expect(onCallChange(decided, answers({ shifts: [shift('olga@example.com')] }), NOW)).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { applyVote, approverStanding, tally } from '#lib/domain/approvals.ts';
import { NotApproverError } from '#lib/domain/errors.ts';
import {
  approverSets,
  dueEscalationTier,
  escalate,
  nextEscalationAt,
  remind,
  reminderDue,
} from '#lib/domain/escalation.ts';
import { FlowInput } from '#lib/domain/flow.ts';
import type { Identity } from '#lib/domain/identity.ts';
import type { AccessRequest, Vote } from '#lib/domain/request.ts';
import { dueAt } from '#lib/store/keys.ts';
import { active, bob, dave, flow, mallory, manual, NOW, pending, thrown } from './fixtures.ts';

const minutes = (n: number) => new Date(NOW.getTime() + n * 60_000);

/** Tier 0: group dba (bob, carol); tier 1: dave; tier 2: group marketing (mallory). Every 10 min, deadline 60 min. */
function escalatingFlow(rule: Record<string, unknown> = { type: 'anyOf' }) {
  return flow({
    approval: manual([{ groups: ['dba'] }], rule, {
      timeoutMinutes: 60,
      escalation: { everyMinutes: 10, tiers: [{ users: ['dave'] }, { groups: ['marketing'] }] },
    }),
  });
}

const atTier = (request: AccessRequest, tier: number): AccessRequest => {
  const escalated = escalate(request, tier, minutes(10 * tier));
  if (escalated === null) throw new Error(`could not escalate to tier ${tier}`);
  return escalated;
};

const vote = (request: AccessRequest, who: Identity, choice: 'approve' | 'reject' = 'approve') =>
  applyVote(request, { who, vote: choice, channel: 'slack', now: minutes(25) });

describe('escalation tiers in the flow schema', () => {
  it('rejects an unknown key in escalation (strict)', () => {
    const input = (escalation: Record<string, unknown>) => ({
      name: 'x',
      requestors: { everyone: true },
      targets: [{ integrationId: 'pg', resource: 'app', permission: 'readonly' }],
      approval: manual([{ groups: ['dba'] }], { type: 'anyOf' }, { escalation }),
      defaultMinutes: 30,
      maxMinutes: 60,
    });

    expect(FlowInput.safeParse(input({ everyMinutes: 5, tiers: [{}], x: 1 })).success).toBe(false);
    expect(FlowInput.safeParse(input({ everyMinutes: 5, tiers: [{}] })).success).toBe(true);
  });

  it('numbers the tiers after the policy sets', () => {
    const policy = escalatingFlow().approval;
    if (policy.mode !== 'manual') throw new Error('manual expected');

    expect(approverSets(policy).map(({ index, tier }) => [index, tier])).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
  });
});

describe('eligibility of escalation tiers', () => {
  it('refuses a tier member before their tier is reached, saying why', () => {
    const request = pending(escalatingFlow());

    expect(approverStanding(request, dave)).toEqual({
      eligible: false,
      reason: 'your escalation tier has not been reached yet for this request',
    });
    expect(thrown(() => vote(request, dave))).toBeInstanceOf(NotApproverError);
  });

  it('admits a tier member once the request reached their tier, with the tier index as their set', () => {
    const request = atTier(pending(escalatingFlow()), 1);

    expect(approverStanding(request, dave)).toEqual({ eligible: true, sets: [1] });
    expect(approverStanding(request, mallory)).toMatchObject({ eligible: false });
    expect(vote(request, dave).outcome).toBe('approved');
  });

  it('keeps earlier tiers eligible after escalating', () => {
    const request = atTier(pending(escalatingFlow()), 2);

    expect(approverStanding(request, bob)).toEqual({ eligible: true, sets: [0] });
    expect(approverStanding(request, dave)).toEqual({ eligible: true, sets: [1] });
    expect(approverStanding(request, mallory)).toEqual({ eligible: true, sets: [2] });
  });

  it('lets a tier member reject', () => {
    expect(vote(atTier(pending(escalatingFlow()), 1), dave, 'reject').outcome).toBe('rejected');
  });

  it('counts a tier approval as one distinct approver towards a quorum', () => {
    const request = atTier(pending(escalatingFlow({ type: 'quorum', count: 2 })), 1);

    const first = vote(request, dave);
    expect(first.outcome).toBe('recorded');
    expect(vote(first.request, bob).outcome).toBe('approved');
  });

  it('lets a tier approval stand in for every set under allOf', () => {
    const f = flow({
      approval: manual(
        [{ groups: ['dba'] }, { groups: ['sec-leads'] }],
        { type: 'allOf' },
        {
          escalation: { everyMinutes: 10, tiers: [{ users: ['dave'] }] },
        },
      ),
    });
    const policy = f.approval;
    if (policy.mode !== 'manual') throw new Error('manual expected');
    const at = NOW.toISOString();
    const byTier: Vote = { by: 'dave', email: 'dave@example.com', vote: 'approve', channel: 'api', at, sets: [2] };
    const byDba = { ...byTier, by: 'bob', email: 'bob@example.com', sets: [0] };

    expect(tally(policy, [byDba], 1)).toBe('pending');
    expect(tally(policy, [byTier], 1)).toBe('approved');
    expect(tally(policy, [{ ...byTier, sets: [3] }], 1)).toBe('pending');
  });
});

describe('when tiers are due', () => {
  it('opens tier k at k × everyMinutes after creation, jumping to the highest one due', () => {
    const request = pending(escalatingFlow());

    expect(dueEscalationTier(request, minutes(9))).toBeUndefined();
    expect(dueEscalationTier(request, minutes(10))).toBe(1);
    expect(dueEscalationTier(request, minutes(25))).toBe(2);
    expect(dueEscalationTier(request, minutes(59))).toBe(2);
    expect(dueEscalationTier(atTier(request, 1), minutes(15))).toBeUndefined();
    expect(dueEscalationTier(atTier(request, 1), minutes(20))).toBe(2);
  });

  it('does not escalate past the approval deadline, a decided request, or a flow without tiers', () => {
    const request = pending(escalatingFlow());

    expect(dueEscalationTier(request, minutes(60))).toBeUndefined();
    expect(dueEscalationTier(vote(atTier(request, 1), dave).request, minutes(30))).toBeUndefined();
    expect(dueEscalationTier(pending(flow()), minutes(30))).toBeUndefined();
  });

  it('records the tier once, by the reconciler', () => {
    const escalated = atTier(pending(escalatingFlow()), 1);

    expect(escalated.escalation).toEqual({ tier: 1, notifiedAt: minutes(10).toISOString() });
    expect(escalated.lastChange).toMatchObject({ by: 'stint:system', channel: 'reconciler', action: 'escalate' });
    expect(escalate(escalated, 1, minutes(11))).toBeNull();
  });

  it('makes an escalating PENDING request due in gsi2 at its next tier, then at its deadline', () => {
    const request = pending(escalatingFlow());

    expect(nextEscalationAt(request)).toBe(minutes(10).toISOString());
    expect(dueAt(request)).toBe(minutes(10).toISOString());
    expect(dueAt(atTier(request, 1))).toBe(minutes(20).toISOString());
    expect(dueAt(atTier(request, 2))).toBe(minutes(60).toISOString());
    expect(dueAt(pending(flow()))).toBe(minutes(30).toISOString());
  });
});

describe('expiry reminder', () => {
  // active(): granted at NOW for 30 minutes.
  const grant = active(pending(flow()));

  it('is due only in the last 10 minutes of the grant', () => {
    expect(reminderDue(grant, minutes(19))).toBe(false);
    expect(reminderDue(grant, minutes(20))).toBe(true);
    expect(reminderDue(grant, minutes(29))).toBe(true);
    expect(reminderDue(grant, minutes(30))).toBe(false);
  });

  it('is not sent for a grant no longer than 10 minutes', () => {
    const short = active(pending(flow(), undefined, { durationMinutes: 10 }));
    const longer = active(pending(flow(), undefined, { durationMinutes: 11 }));

    expect(reminderDue(short, minutes(5))).toBe(false);
    expect(reminderDue(longer, minutes(5))).toBe(true);
  });

  it('is recorded once', () => {
    const reminded = remind(grant, minutes(21));

    expect(reminded?.remindedAt).toBe(minutes(21).toISOString());
    expect(reminded?.lastChange).toMatchObject({ channel: 'reconciler', action: 'remind-expiry' });
    expect(reminded !== null && remind(reminded, minutes(22))).toBeNull();
  });

  it('is due again after an extension moved the expiry', () => {
    const reminded = remind(grant, minutes(21));
    if (reminded === null) throw new Error('expected a reminder');
    const extended = { ...reminded, expiresAt: minutes(60).toISOString() };

    expect(reminderDue(extended, minutes(45))).toBe(false);
    expect(reminderDue(extended, minutes(50))).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { applyVote } from '#lib/domain/approvals.ts';
import { escalate } from '#lib/domain/escalation.ts';
import { cancelRequest, changeStatus, requestRevoke } from '#lib/domain/lifecycle.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { RequestView, toRequestView } from '#lib/http/views.ts';
import { aFlow, anIdentity, aRequest } from '../../support/fixtures.ts';

/** The request view's timeline and approval block, built from a request taken through the domain's own changes. */
const T0 = Date.parse('2030-01-15T10:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000);
const requester = anIdentity({ sub: 'rita' });
const dba = anIdentity({ sub: 'dan', groups: ['dba', 'sales'] });
const boss = anIdentity({ sub: 'bea' });
const created = { by: 'rita', channel: 'slack' as const, action: 'create', at: at(0).toISOString() };

function pending(overrides: Partial<AccessRequest> = {}): AccessRequest {
  return aRequest({ requester, grantee: requester, created, lastChange: created, ...overrides });
}

/** PENDING → approved by dan → GRANTING → ACTIVE, as the workflow records it. */
function active(): AccessRequest {
  const voted = applyVote(pending(), { who: dba, vote: 'approve', reason: 'ok', channel: 'api', now: at(2) }).request;
  const workflow = { by: 'stint:system', channel: 'workflow' as const };
  const granting = changeStatus(voted, 'GRANTING', { ...workflow, action: 'grant', at: at(3) });
  return changeStatus(
    granting,
    'ACTIVE',
    { ...workflow, action: 'activate', at: at(4) },
    {
      grantedAt: at(4).toISOString(),
      expiresAt: at(34).toISOString(),
    },
  );
}

describe('timeline', () => {
  it('shows creation with its channel, each vote, the approval and the grant, in time order', () => {
    const view = toRequestView(active());

    expect(view.timeline).toEqual([
      { kind: 'created', at: at(0).toISOString(), by: 'rita', channel: 'slack' },
      { kind: 'vote', at: at(2).toISOString(), by: 'dan', channel: 'api', reason: 'ok', vote: 'approve' },
      { kind: 'approved', at: at(2).toISOString(), by: 'dan', channel: 'api', reason: 'ok' },
      { kind: 'granted', at: at(4).toISOString() },
    ]);
    expect(RequestView.safeParse(view).success).toBe(true);
  });

  it('keeps who revoked early, when and why, after the workflow confirmed the revoke', () => {
    const revoking = requestRevoke(active(), {
      who: requester,
      channel: 'api',
      reason: 'done early',
      now: at(10),
      isAdmin: false,
    });
    const workflow = { by: 'stint:system', channel: 'workflow' as const };
    const revoked = changeStatus(
      revoking,
      'REVOKED',
      { ...workflow, action: 'revoked', at: at(11) },
      {
        revokedAt: at(11).toISOString(),
      },
    );

    const timeline = toRequestView(revoked).timeline;

    expect(timeline.slice(-2)).toEqual([
      { kind: 'revoke-requested', at: at(10).toISOString(), by: 'rita', channel: 'api', reason: 'done early' },
      { kind: 'revoked', at: at(11).toISOString(), by: 'rita', channel: 'api', reason: 'done early' },
    ]);
  });

  it('shows an expiry as Stint’s, and a cancellation with who cancelled and why', () => {
    const workflow = { by: 'stint:system', channel: 'workflow' as const };
    const expiring = changeStatus(
      active(),
      'REVOKING',
      { ...workflow, action: 'revoke', at: at(34) },
      {
        endReason: 'expired',
      },
    );
    const expired = changeStatus(
      expiring,
      'EXPIRED',
      { ...workflow, action: 'expired', at: at(35) },
      {
        revokedAt: at(35).toISOString(),
      },
    );
    const cancelled = cancelRequest(pending(), { who: requester, channel: 'cli', reason: 'wrong db', now: at(1) });

    expect(toRequestView(expired).timeline.at(-1)).toEqual({ kind: 'expired', at: at(35).toISOString() });
    expect(toRequestView(cancelled).timeline.at(-1)).toEqual({
      kind: 'cancelled',
      at: at(1).toISOString(),
      by: 'rita',
      channel: 'cli',
      reason: 'wrong db',
    });
  });
});

describe('approval', () => {
  const flow = aFlow({
    approval: {
      mode: 'manual',
      sets: [
        { name: 'DBAs', users: ['approver-1'], groups: ['dba'] },
        { name: 'Managers', users: [], groups: [], manager: true },
      ],
      rule: { type: 'allOf' },
      timeoutMinutes: 60,
      reasonRequired: false,
      escalation: { everyMinutes: 15, tiers: [{ name: 'On-call', users: ['oscar'], groups: [] }] },
    },
  });
  const withBoss = { ...requester, manager: 'bea' };

  it('says which sets make the caller an approver now, and why (group, manager)', () => {
    const request = pending({ flow, requester: withBoss, grantee: withBoss });

    const asDba = toRequestView(request, dba).approval;
    const asBoss = toRequestView(request, boss).approval;

    expect(asDba).toMatchObject({
      tier: 0,
      eligible: true,
      mine: [{ index: 0, tier: 0, name: 'DBAs', asUser: false, viaGroups: ['dba'], asManager: false, asOwnerOf: [] }],
    });
    expect(asDba?.sets.map((s) => [s.name, s.tier, s.open])).toEqual([
      ['DBAs', 0, true],
      ['Managers', 0, true],
      ['On-call', 1, false],
    ]);
    expect(asBoss?.mine).toEqual([
      { index: 1, tier: 0, name: 'Managers', asUser: false, viaGroups: [], asManager: true, asOwnerOf: [] },
    ]);
  });

  it('opens an escalation tier to its members once reached, and tells the requester they are no approver', () => {
    const request = pending({ flow });
    const oscar = anIdentity({ sub: 'oscar' });
    const escalated = escalate(request, 1, at(16));
    if (escalated === null) throw new Error('expected the request to escalate');

    const before = toRequestView(request, oscar).approval;
    const after = toRequestView(escalated, oscar).approval;
    const own = toRequestView(escalated, requester).approval;

    expect(before).toMatchObject({ tier: 0, eligible: false, mine: [] });
    expect(after).toMatchObject({ tier: 1, eligible: true, mine: [{ index: 2, tier: 1, asUser: true }] });
    expect(own).toMatchObject({ eligible: false, mine: [], reason: expect.stringContaining('own request') });
    expect(toRequestView(escalated).timeline).toContainEqual({ kind: 'escalated', at: at(16).toISOString(), tier: 1 });
  });

  it('is absent for a self-serve flow and for a view made for nobody', () => {
    expect(toRequestView(pending({ flow: aFlow({ approval: { mode: 'auto' } }) }), dba).approval).toBeUndefined();
    expect(toRequestView(pending(), dba).approval).toBeDefined();
    expect(toRequestView(pending()).approval).toBeUndefined();
  });
});

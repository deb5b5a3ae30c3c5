import { describe, expect, it } from 'vitest';
import { applyVote } from '#lib/domain/approvals.ts';
import { ForbiddenError, InvalidTransitionError, PolicyError } from '#lib/domain/errors.ts';
import {
  abandonGrant,
  cancelRequest,
  changeStatus,
  dueAt,
  extendGrant,
  failRevoke,
  requestRevoke,
} from '#lib/domain/lifecycle.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { active, alice, bob, carol, flow, identity, mallory, NOW, pending, thrown } from './fixtures.ts';

const later = new Date(NOW.getTime() + 5 * 60_000);
const system = { by: 'stint:system', channel: 'workflow', at: later } as const;

describe('changeStatus', () => {
  it('moves the status, applies the patch and records who did it', () => {
    const request = pending(flow());
    const next = changeStatus(
      request,
      'TIMED_OUT',
      { ...system, action: 'time-out', reason: 'no decision in 30 minutes' },
      { failureReason: 'x' },
    );
    expect(next.status).toBe('TIMED_OUT');
    expect(next.failureReason).toBe('x');
    expect(next.lastChange).toEqual({
      by: 'stint:system',
      channel: 'workflow',
      action: 'time-out',
      reason: 'no decision in 30 minutes',
      at: later.toISOString(),
    });
  });

  it('leaves the version to the store, even if the patch names one', () => {
    const next = changeStatus(pending(flow()), 'CANCELLED', { ...system, action: 'cancel' }, { version: 99 });
    expect(next.version).toBe(1);
  });

  it('lets no patch override the status or the change record', () => {
    const next = changeStatus(
      pending(flow()),
      'APPROVED',
      { ...system, action: 'approve' },
      { status: 'ACTIVE', lastChange: { by: 'x', channel: 'api', action: 'forged', at: NOW.toISOString() } },
    );
    expect(next.status).toBe('APPROVED');
    expect(next.lastChange.action).toBe('approve');
  });

  it('refuses an illegal transition and leaves the request as it was', () => {
    const request = active(pending(flow()));
    const before = structuredClone(request);
    const error = thrown(() => changeStatus(request, 'APPROVED', { ...system, action: 'approve' }));
    expect(error).toBeInstanceOf(InvalidTransitionError);
    expect(error).toMatchObject({ message: 'cannot go from ACTIVE to APPROVED', field: 'status' });
    expect(request).toEqual(before);
  });

  it('omits the reason when none is given', () => {
    const next = changeStatus(pending(flow()), 'CANCELLED', { ...system, action: 'cancel' });
    expect('reason' in next.lastChange).toBe(false);
  });
});

describe('the restart count', () => {
  it('is cleared by every status change, whatever the patch says', () => {
    const stuck: AccessRequest = { ...pending(flow()), restarts: 2 };

    const next = changeStatus(stuck, 'APPROVED', { ...system, action: 'approve' }, { restarts: 5 });

    expect(next.status).toBe('APPROVED');
    expect('restarts' in next).toBe(false);
  });
});

describe('abandonGrant', () => {
  const reason = 'stuck in GRANTING: 3 restarted executions ended without moving the request';

  it.each(['APPROVED', 'GRANTING'] as const)('moves %s to REVOKING to undo the grant, with the reason', (status) => {
    const approved = changeStatus(pending(flow()), 'APPROVED', { ...system, action: 'approve' });
    const request =
      status === 'APPROVED' ? approved : changeStatus(approved, 'GRANTING', { ...system, action: 'grant' });

    const next = abandonGrant(request, { ...system, action: 'abandon-grant', reason });

    expect(next).toMatchObject({ status: 'REVOKING', endReason: 'failed', failureReason: reason });
    expect(next.lastChange).toMatchObject({ action: 'abandon-grant', reason });
  });

  it('refuses a grant that is already ACTIVE', () => {
    const error = thrown(() => abandonGrant(active(pending(flow())), { ...system, action: 'abandon-grant', reason }));
    expect(error).toBeInstanceOf(InvalidTransitionError);
  });
});

describe('failRevoke', () => {
  const revoking = () => revokeNow(active(pending(flow())));

  it('records why revoking failed', () => {
    const next = failRevoke(revoking(), { ...system, action: 'revoke-failed', reason: 'Error: connection refused' });

    expect(next).toMatchObject({ status: 'REVOKE_FAILED', failureReason: 'Error: connection refused' });
  });

  it('keeps why the grant failed while undoing it, the revoke error in the change record', () => {
    const undoing: AccessRequest = { ...revoking(), endReason: 'failed', failureReason: 'Error: permission denied' };

    const next = failRevoke(undoing, { ...system, action: 'revoke-failed', reason: 'Error: connection refused' });

    expect(next).toMatchObject({ status: 'REVOKE_FAILED', failureReason: 'Error: permission denied' });
    expect(next.lastChange.reason).toBe('Error: connection refused');
  });
});

describe('extendGrant', () => {
  const extend = (request: AccessRequest, who = alice, minutes = 30, isAdmin = false) =>
    extendGrant(request, { who, minutes, channel: 'cli', reason: 'still debugging', now: later, isAdmin });

  it('moves the expiry, appends the extension and records the change', () => {
    const request = active(pending(flow()));
    const next = extend(request);
    expect(next.expiresAt).toBe(new Date(Date.parse(request.expiresAt ?? '') + 30 * 60_000).toISOString());
    expect(next.extensions).toEqual([
      { by: 'alice', minutes: 30, channel: 'cli', reason: 'still debugging', at: later.toISOString() },
    ]);
    expect(next.lastChange).toEqual({
      by: 'alice',
      channel: 'cli',
      action: 'extend',
      reason: 'still debugging',
      at: later.toISOString(),
    });
    expect(next.status).toBe('ACTIVE');
    expect(next.version).toBe(request.version);
  });

  it('refuses an extension past maxExtensions, saying the limit', () => {
    const once = extend(active(pending(flow({ maxExtensions: 1 }))));
    const error = thrown(() => extend(once));
    expect(error).toBeInstanceOf(PolicyError);
    expect(error).toMatchObject({ field: 'minutes', message: expect.stringContaining('at most 1') });
  });

  it('refuses any extension when the flow allows none', () => {
    const error = thrown(() => extend(active(pending(flow({ maxExtensions: 0 })))));
    expect(error).toBeInstanceOf(PolicyError);
    expect(error).toMatchObject({ field: 'minutes', message: 'this flow allows no extensions' });
  });

  it('allows up to maxExtensions extensions', () => {
    let request = active(pending(flow({ maxExtensions: 3 })));
    for (let i = 0; i < 3; i++) request = extend(request, alice, 10);
    expect(request.extensions).toHaveLength(3);
    expect(Date.parse(request.expiresAt ?? '')).toBe(NOW.getTime() + (30 + 30) * 60_000);
    expect(thrown(() => extend(request, alice, 10))).toBeInstanceOf(PolicyError);
  });

  it('refuses an extension longer than the flow maximum', () => {
    const error = thrown(() => extend(active(pending(flow({ maxMinutes: 60 }))), alice, 61));
    expect(error).toBeInstanceOf(PolicyError);
    expect(error).toMatchObject({ field: 'minutes', message: expect.stringContaining('60') });
  });

  it.each([0, -5, 1.5])('refuses %s minutes', (minutes) => {
    expect(thrown(() => extend(active(pending(flow())), alice, minutes))).toMatchObject({ field: 'minutes' });
  });

  it('refuses a request that is not ACTIVE', () => {
    const error = thrown(() => extend(pending(flow())));
    expect(error).toBeInstanceOf(InvalidTransitionError);
    expect(error).toMatchObject({ field: 'status', message: expect.stringContaining('PENDING') });
  });

  it('lets the grantee, the requester and an admin extend, and nobody else', () => {
    const onBehalf = active(
      pending(
        flow({ maxExtensions: 5 }),
        alice,
        { grantee: { sub: 'gina', email: 'gina@example.com' } },
        { isAdmin: true },
      ),
    );
    expect(extend(onBehalf, alice).extensions).toHaveLength(1);
    expect(extend(onBehalf, identity('gina')).extensions).toHaveLength(1);
    expect(extend(onBehalf, mallory, 30, true).extensions).toHaveLength(1);
    expect(thrown(() => extend(onBehalf, mallory))).toBeInstanceOf(ForbiddenError);
    // An approver is not enough to extend.
    expect(thrown(() => extend(onBehalf, bob))).toBeInstanceOf(ForbiddenError);
  });
});

describe('cancelRequest', () => {
  it('cancels a pending request for its requester', () => {
    const next = cancelRequest(pending(flow()), { who: alice, channel: 'portal', reason: 'not needed', now: later });
    expect(next.status).toBe('CANCELLED');
    expect(next.lastChange).toEqual({
      by: 'alice',
      channel: 'portal',
      action: 'cancel',
      reason: 'not needed',
      at: later.toISOString(),
    });
  });

  it('refuses anyone but the requester, an approver or admin included', () => {
    for (const who of [bob, mallory, identity('root', ['admins'])]) {
      expect(thrown(() => cancelRequest(pending(flow()), { who, channel: 'api', now: later }))).toBeInstanceOf(
        ForbiddenError,
      );
    }
  });

  it('refuses a request that is no longer pending', () => {
    const approved = applyVote(pending(flow()), { who: bob, vote: 'approve', channel: 'api', now: NOW }).request;
    const error = thrown(() => cancelRequest(approved, { who: alice, channel: 'api', now: later }));
    expect(error).toBeInstanceOf(InvalidTransitionError);
    expect(error).toMatchObject({ message: 'cannot go from APPROVED to CANCELLED' });
  });
});

describe('requestRevoke', () => {
  const revoke = (request: AccessRequest, who = alice, isAdmin = false) =>
    requestRevoke(request, { who, channel: 'slack', reason: 'done', now: later, isAdmin });

  it('moves an ACTIVE grant to REVOKING, ended early', () => {
    const next = revoke(active(pending(flow())));
    expect(next.status).toBe('REVOKING');
    expect(next.endReason).toBe('revoked');
    expect(next.lastChange).toEqual({
      by: 'alice',
      channel: 'slack',
      action: 'revoke',
      reason: 'done',
      at: later.toISOString(),
    });
  });

  it.each([
    ['the requester', alice, false],
    ['the grantee', identity('gina'), false],
    ['an eligible approver', carol, false],
    ['an admin', mallory, true],
  ])('allows %s', (_, who, isAdmin) => {
    const request = active(
      pending(flow(), alice, { grantee: { sub: 'gina', email: 'gina@example.com' } }, { isAdmin: true }),
    );
    expect(revoke(request, who, isAdmin).status).toBe('REVOKING');
  });

  it('refuses anyone else', () => {
    const error = thrown(() => revoke(active(pending(flow())), mallory));
    expect(error).toBeInstanceOf(ForbiddenError);
  });

  it('refuses a grant that is not ACTIVE', () => {
    const error = thrown(() => revoke(pending(flow())));
    expect(error).toBeInstanceOf(InvalidTransitionError);
    expect(error).toMatchObject({ message: 'cannot go from PENDING to REVOKING' });
  });
});

describe('dueAt', () => {
  it('is the approval deadline while PENDING', () => {
    const request = pending(flow());
    expect(dueAt(request)).toBe(new Date(NOW.getTime() + 30 * 60_000).toISOString());
  });

  it('is the expiry while ACTIVE', () => {
    const request = active(pending(flow()));
    expect(dueAt(request)).toBe(request.expiresAt);
  });

  it('is the last change for other live statuses, REVOKE_FAILED included', () => {
    const revoking = revokeNow(active(pending(flow())));
    expect(dueAt(revoking)).toBe(later.toISOString());
    const failed = changeStatus(revoking, 'REVOKE_FAILED', { ...system, action: 'revoke-failed', at: NOW });
    expect(dueAt(failed)).toBe(NOW.toISOString());
    const approved = pending(flow({ approval: { mode: 'auto' } }));
    expect(dueAt(approved)).toBe(approved.lastChange.at);
  });

  it('is undefined once terminal', () => {
    const revoked = changeStatus(revokeNow(active(pending(flow()))), 'REVOKED', { ...system, action: 'revoked' });
    expect(dueAt(revoked)).toBeUndefined();
    expect(dueAt(cancelRequest(pending(flow()), { who: alice, channel: 'api', now: later }))).toBeUndefined();
  });
});

function revokeNow(request: AccessRequest): AccessRequest {
  return requestRevoke(request, { who: alice, channel: 'api', now: later, isAdmin: false });
}

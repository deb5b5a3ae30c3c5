import { describe, expect, it } from 'vitest';
import { APPROVE_VERB, approvalCard, REJECT_VERB, requesterCard } from '#lib/channels/teams/cards.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { aFlow, anIdentity, aRequest } from '../../../support/fixtures.ts';

const text = (value: unknown) => JSON.stringify(value);

function decided(overrides: Partial<AccessRequest>): AccessRequest {
  const request = aRequest({ requester: anIdentity({ sub: 'requester-1' }) });
  return {
    ...request,
    votes: [
      {
        by: 'dba-1',
        email: 'dba-1@example.com',
        vote: 'approve',
        channel: 'teams',
        at: request.createdAt,
        sets: [0],
      },
    ],
    decision: { outcome: 'approved', by: 'dba-1', channel: 'teams', at: request.createdAt, reason: 'ok for *today*' },
    ...overrides,
  };
}

describe('approvalCard', () => {
  it('offers Approve and Reject while the request is pending, with why the reader is asked', () => {
    const card = approvalCard(aRequest(), { why: 'you are in group dba' });

    expect(card.actions?.map((a) => a.verb)).toEqual([APPROVE_VERB, REJECT_VERB]);
    expect(text(card)).toContain('You are asked because you are in group dba.');
    expect(text(card)).not.toContain('Approved by');
  });

  it.each([
    ['ACTIVE', { expiresAt: '2030-01-15T11:00:00.000Z' }, 'Access is active until 2030-01-15T11:00:00.000Z.'],
    ['REVOKED', { revokedAt: '2030-01-15T10:20:00.000Z' }, 'Access was revoked at 2030-01-15T10:20:00.000Z.'],
    ['EXPIRED', { revokedAt: '2030-01-15T11:00:01.000Z' }, 'Access expired at 2030-01-15T11:00:01.000Z.'],
    ['FAILED', { failureReason: 'role [app] missing' }, 'The grant failed: role \\\\[app\\\\] missing.'],
  ] as const)('shows the outcome, who decided and what became of the access when %s', (status, extra, line) => {
    const card = approvalCard(decided({ status, ...extra }));

    expect(card.actions).toBeUndefined();
    expect(text(card)).toContain('**Approved by dba-1@example.com (teams) — “ok for \\\\*today\\\\*”**');
    expect(text(card)).toContain(line);
  });

  it('says a break-glass request was approved automatically', () => {
    const request = aRequest({ flow: aFlow({ breakGlass: true }) });
    const card = approvalCard({
      ...request,
      status: 'ACTIVE',
      decision: { outcome: 'auto', by: request.requester.sub, channel: 'api', at: request.createdAt },
    });

    expect(text(card)).toContain('Approved automatically (break-glass)');
  });
});

describe('requesterCard', () => {
  it('tells how to get the credentials when the access is active', () => {
    const request = decided({ status: 'ACTIVE', expiresAt: '2030-01-15T11:00:00.000Z' });

    const card = requesterCard(request, 'active', { apiUrl: 'https://stint.example.com/' });

    expect(text(card)).toContain(`is active until 2030-01-15T11:00:00.000Z.`);
    expect(text(card)).toContain(`\`GET https://stint.example.com/requests/${request.id}/access\``);
  });

  it('escapes what a person wrote (the decision reason) so it cannot forge a link', () => {
    const request = decided({ status: 'REJECTED' });
    request.decision = {
      outcome: 'rejected',
      by: 'dba-1',
      channel: 'teams',
      at: request.createdAt,
      reason: '[click](https://evil.example)',
    };

    const card = requesterCard(request, 'rejected');

    expect(text(card)).toContain('Reason: “\\\\[click\\\\]\\\\(https://evil.example\\\\)”');
    expect(text(card)).not.toContain('[click](');
  });
});

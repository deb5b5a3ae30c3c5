import { describe, expect, it } from 'vitest';
import { applyVote, approverKeys, approverStanding } from '#lib/domain/approvals.ts';
import { buildRequest, type CreateRequestInput } from '#lib/domain/create-request.ts';
import { NotApproverError, PolicyError } from '#lib/domain/errors.ts';
import { escalate } from '#lib/domain/escalation.ts';
import type { AccessFlow } from '#lib/domain/flow.ts';
import type { Identity } from '#lib/domain/identity.ts';
import { Integration } from '#lib/domain/integration.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { alice, bob, carol, dave, flow, identity, manual, NOW, thrown } from './fixtures.ts';

/**
 * Owners as approvers: an approver set with `owners: true` admits the owners of the requested resources (a resource
 * without owners: its integration's), fixed on the request when it is made, each approving the units they own.
 */

const change = { by: 'admin', channel: 'admin', action: 'put', at: '2026-01-01T00:00:00.000Z' } as const;
const olga = identity('olga', ['dev']);
const oscar = identity('oscar', ['dev']);
const ivan = identity('ivan', ['dev']);

/** `app` is owned by olga and alice, `billing` by oscar; `audit` has none, so the integration's owner ivan stands. */
function pgWith(owners: { app?: string[]; billing?: string[]; integration?: string[] } = {}): Integration {
  return Integration.parse({
    id: 'pg',
    version: 1,
    lastChange: change,
    name: 'Main PostgreSQL',
    type: 'postgresql',
    config: {},
    secretRef: 'env:PG_ADMIN',
    owners: owners.integration ?? ['ivan'],
    resources: [
      { id: 'app', owners: owners.app ?? ['olga', 'alice'], permissions: [{ id: 'readwrite', grants: ['app_rw'] }] },
      { id: 'billing', owners: owners.billing ?? ['oscar'], permissions: [{ id: 'readonly', grants: ['billing_ro'] }] },
      { id: 'audit', permissions: [{ id: 'readonly', grants: ['audit_ro'] }] },
    ],
  });
}

const app = { integrationId: 'pg', resource: 'app', permission: 'readwrite' };
const billing = { integrationId: 'pg', resource: 'billing', permission: 'readonly' };
const audit = { integrationId: 'pg', resource: 'audit', permission: 'readonly' };

function ownersFlow(sets: Record<string, unknown>[], rule: Record<string, unknown>, extra = {}): AccessFlow {
  return flow({ targets: [app, billing, audit], approval: manual(sets, rule, extra) });
}

function request(
  f: AccessFlow,
  targets: (typeof app)[],
  options: { requester?: Identity; integration?: Integration; grantee?: Identity } = {},
): AccessRequest {
  const input: CreateRequestInput = {
    flowId: f.id,
    durationMinutes: 30,
    justification: 'incident 42',
    targets: targets.map(({ resource, permission }) => ({ resource, permission })),
    ...(options.grantee === undefined ? {} : { grantee: { sub: options.grantee.sub, email: options.grantee.email } }),
  };
  const integration = options.integration ?? pgWith();
  return buildRequest(input, {
    id: 'r1',
    requester: options.requester ?? dave,
    ...(options.grantee === undefined ? {} : { grantee: options.grantee }),
    isAdmin: options.grantee !== undefined,
    flow: f,
    integrations: new Map([[integration.id, integration]]),
    now: NOW,
    channel: 'api',
  });
}

const vote = (r: AccessRequest, who: Identity, choice: 'approve' | 'reject' = 'approve') =>
  applyVote(r, { who, vote: choice, channel: 'api', now: NOW });

describe('owners fixed on the request', () => {
  const anyOwner = ownersFlow([{ owners: true }], { type: 'anyOf' });

  it("records each unit's owners: the resource's own, else the integration's", () => {
    const r = request(anyOwner, [app, audit]);

    expect(r.unitOwners).toEqual([
      { owners: ['olga', 'alice'], source: 'resource' },
      { owners: ['ivan'], source: 'integration' },
    ]);
  });

  it('records no owners when no approver set names them', () => {
    const r = request(ownersFlow([{ groups: ['dba'] }], { type: 'anyOf' }), [app]);

    expect(r.unitOwners).toBeUndefined();
  });

  it('keeps the owners the request was made with when the integration is edited later', () => {
    const r = request(anyOwner, [billing]);
    const edited = pgWith({ billing: ['carol'] });
    const later = request(anyOwner, [billing], { integration: edited });

    expect(approverStanding(r, oscar)).toEqual({ eligible: true, sets: [0], ownerOf: [0] });
    expect(approverStanding(r, carol)).toMatchObject({ eligible: false });
    expect(approverStanding(later, carol)).toEqual({ eligible: true, sets: [0], ownerOf: [0] });
  });

  it('refuses a request for a resource that neither it nor its integration gives an owner (422, naming the unit)', () => {
    const error = thrown(() => request(anyOwner, [app, audit], { integration: pgWith({ integration: [] }) }));

    expect(error).toBeInstanceOf(PolicyError);
    expect(error).toMatchObject({ status: 422, field: 'targets.1' });
    expect((error as PolicyError).message).toContain('audit of integration pg');
  });

  it('refuses a request whose only owner is the requester: nobody could approve it', () => {
    const error = thrown(() => request(anyOwner, [app], { requester: alice, integration: pgWith({ app: ['alice'] }) }));

    expect(error).toBeInstanceOf(PolicyError);
    expect((error as PolicyError).message).toContain('the requester or the grantee');
  });

  it('accepts a resource without owners when no approver set names the owners', () => {
    const r = request(ownersFlow([{ groups: ['dba'] }], { type: 'anyOf' }), [audit], {
      integration: pgWith({ integration: [] }),
    });

    expect(r.status).toBe('PENDING');
  });
});

describe('who may approve as an owner', () => {
  const anyOwner = ownersFlow([{ owners: true }], { type: 'anyOf' });

  it('admits an owner of a requested resource, saying which units they own', () => {
    const r = request(anyOwner, [app, billing]);

    expect(approverStanding(r, olga)).toEqual({ eligible: true, sets: [0], ownerOf: [0] });
    expect(approverStanding(r, oscar)).toEqual({ eligible: true, sets: [0], ownerOf: [1] });
  });

  it('refuses the owner of a resource the request does not ask for', () => {
    const r = request(anyOwner, [app]);

    expect(approverStanding(r, oscar)).toEqual({ eligible: false, reason: 'you are not an approver of this request' });
  });

  it('admits the integration owners for a resource without owners of its own, and only for it', () => {
    expect(approverStanding(request(anyOwner, [audit]), ivan)).toEqual({ eligible: true, sets: [0], ownerOf: [0] });
    expect(approverStanding(request(anyOwner, [app]), ivan)).toMatchObject({ eligible: false });
  });

  it('never lets a requester approve as owner of their own request', () => {
    const r = request(anyOwner, [app], { requester: alice });

    expect(approverStanding(r, alice)).toEqual({
      eligible: false,
      reason: 'requesters cannot approve their own request',
    });
    expect(thrown(() => vote(r, alice))).toBeInstanceOf(NotApproverError);
    expect(vote(r, olga).outcome).toBe('approved');
  });

  it('never lets the grantee of an on-behalf request approve as owner', () => {
    const r = request(anyOwner, [app], { requester: bob, grantee: alice });

    expect(approverStanding(r, alice)).toMatchObject({ eligible: false, reason: expect.stringContaining('grantee') });
  });

  it('admits an owners escalation tier only once it is reached', () => {
    const f = ownersFlow(
      [{ groups: ['dba'] }],
      { type: 'anyOf' },
      { escalation: { everyMinutes: 10, tiers: [{ owners: true }] } },
    );
    const r = request(f, [billing]);
    const escalated = escalate(r, 1, new Date(NOW.getTime() + 11 * 60_000));
    if (escalated === null) throw new Error('expected the request to escalate');

    expect(approverStanding(r, oscar)).toMatchObject({ eligible: false, reason: expect.stringContaining('tier') });
    expect(approverStanding(escalated, oscar)).toEqual({ eligible: true, sets: [1], ownerOf: [0] });
  });

  it('lists every owner fixed on the request among the approver keys', () => {
    const r = request(ownersFlow([{ owners: true }, { groups: ['dba'] }], { type: 'anyOf' }), [app, audit]);

    expect(approverKeys(r).sort()).toEqual(['group:dba', 'user:alice', 'user:ivan', 'user:olga']);
  });
});

describe('several resources: each resource’s owners approve their part', () => {
  it('anyOf: approves once every requested resource has an approval from one of its owners', () => {
    const r = request(ownersFlow([{ owners: true }], { type: 'anyOf' }), [app, billing]);

    const first = vote(r, olga);
    expect(first.outcome).toBe('recorded');
    expect(first.request.votes[0]).toMatchObject({ by: 'olga', sets: [0], ownerOf: [0] });
    const second = vote(first.request, oscar);
    expect(second.outcome).toBe('approved');
    expect(second.request.status).toBe('APPROVED');
  });

  it('an owner of several requested resources approves them all with one vote', () => {
    const both = pgWith({ app: ['olga'], billing: ['olga'] });
    const r = request(ownersFlow([{ owners: true }], { type: 'anyOf' }), [app, billing], { integration: both });

    expect(vote(r, olga).outcome).toBe('approved');
  });

  it('allOf: the owners set is met only when every resource is covered, besides the other sets', () => {
    const r = request(ownersFlow([{ groups: ['dba'] }, { owners: true }], { type: 'allOf' }), [app, billing]);

    const byDba = vote(r, bob);
    expect(byDba.outcome).toBe('recorded');
    const byOlga = vote(byDba.request, olga);
    expect(byOlga.outcome).toBe('recorded');
    expect(vote(byOlga.request, oscar).outcome).toBe('approved');
  });

  it('quorum: an owner counts towards the quorum only once the owners have approved every resource', () => {
    const f = ownersFlow([{ groups: ['dba'] }, { owners: true }], { type: 'quorum', count: 2 });
    const r = request(f, [app, billing]);

    const byDba = vote(r, bob);
    const byOlga = vote(byDba.request, olga);
    expect(byOlga.outcome).toBe('recorded');
    expect(vote(byOlga.request, oscar).outcome).toBe('approved');
    expect(vote(byDba.request, carol).outcome).toBe('approved');
  });

  it('one owner’s reject rejects the whole request', () => {
    const r = request(ownersFlow([{ owners: true }], { type: 'anyOf' }), [app, billing]);

    const rejected = vote(vote(r, olga).request, oscar, 'reject');
    expect(rejected.outcome).toBe('rejected');
    expect(rejected.request.status).toBe('REJECTED');
  });
});

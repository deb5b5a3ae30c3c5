import { describe, expect, it } from 'vitest';
import { approversOf } from '#lib/channels/approvers.ts';
import type { AccessFlow } from '#lib/domain/flow.ts';
import { MemoryDirectory } from '../../fixtures/slack/directory.ts';
import { aFlow, anIdentity, aRequest } from '../../support/fixtures.ts';

/** Named user `approver-1`, group `dba`, the requester's manager; tier 1 = group `oncall`. */
const approval: AccessFlow['approval'] = {
  mode: 'manual',
  sets: [{ name: 'owners', users: ['approver-1'], groups: ['dba'], manager: true }],
  rule: { type: 'anyOf' },
  timeoutMinutes: 120,
  reasonRequired: false,
  escalation: { everyMinutes: 30, tiers: [{ users: [], groups: ['oncall'] }] },
};

function directory(): MemoryDirectory {
  return new MemoryDirectory()
    .addUser({ id: 'requester-1', email: 'requester-1@example.com', manager: 'boss-1' })
    .addUser({ id: 'boss-1', email: 'boss-1@example.com' })
    .addUser({ id: 'approver-1', email: 'approver-1@example.com' })
    .addUser({ id: 'dba-1', email: 'dba-1@example.com' })
    .addUser({ id: 'oncall-1', email: 'oncall-1@example.com' })
    .addGroup('dba', ['dba-1', 'requester-1'])
    .addGroup('oncall', ['oncall-1']);
}

const requester = anIdentity({ sub: 'requester-1', manager: 'boss-1' });

describe('approversOf', () => {
  it('asks named users, group members and the requester’s manager, never the requester, with why', async () => {
    const request = aRequest({ flow: aFlow({ approval }), requester, grantee: requester });

    const found = await approversOf(directory(), request);

    expect(found.map((a) => [a.user.id, a.why])).toEqual([
      ['approver-1', 'you are named in approver set “owners” of flow db-readonly'],
      ['boss-1', 'you are the requester’s manager (approver set “owners” of flow db-readonly)'],
      ['dba-1', 'you are in group dba (approver set “owners” of flow db-readonly)'],
    ]);
  });

  it('asks no manager when the set does not admit managers or the requester has none', async () => {
    const noManagerSet: AccessFlow['approval'] = { ...approval, sets: [{ users: ['approver-1'], groups: [] }] };
    const withoutFlag = aRequest({ flow: aFlow({ approval: noManagerSet }), requester, grantee: requester });
    const managerless = anIdentity({ sub: 'requester-1' });
    const withoutManager = aRequest({ flow: aFlow({ approval }), requester: managerless, grantee: managerless });

    expect((await approversOf(directory(), withoutFlag)).map((a) => a.user.id)).toEqual(['approver-1']);
    expect((await approversOf(directory(), withoutManager)).map((a) => a.user.id)).toEqual(['approver-1', 'dba-1']);
  });

  it('does not ask an inactive manager, nor a manager who is the grantee', async () => {
    const inactive = directory().addUser({ id: 'boss-1', email: 'boss-1@example.com', active: false });
    const grantee = anIdentity({ sub: 'boss-1' });

    const forInactive = await approversOf(
      inactive,
      aRequest({ flow: aFlow({ approval }), requester, grantee: requester }),
    );
    const forGrantee = await approversOf(directory(), aRequest({ flow: aFlow({ approval }), requester, grantee }));

    expect(forInactive.map((a) => a.user.id)).not.toContain('boss-1');
    expect(forGrantee.map((a) => a.user.id)).not.toContain('boss-1');
  });

  it('adds an escalation tier’s members only once the request has reached it', async () => {
    const before = aRequest({ flow: aFlow({ approval }), requester, grantee: requester });
    const after = { ...before, escalation: { tier: 1, notifiedAt: before.createdAt } };

    expect((await approversOf(directory(), before)).map((a) => a.user.id)).not.toContain('oncall-1');
    expect((await approversOf(directory(), after)).find((a) => a.user.id === 'oncall-1')?.why).toBe(
      'you are in group oncall (escalation tier 1 of flow db-readonly)',
    );
  });

  it('asks the owners fixed on the request, each saying what they own, never the requester who is one', async () => {
    const owners: AccessFlow['approval'] = { ...approval, sets: [{ users: [], groups: [], owners: true }] };
    const flow = aFlow({
      approval: owners,
      targets: [
        { integrationId: 'pg', resource: 'app', permission: 'readonly' },
        { integrationId: 'pg', resource: 'audit', permission: 'readonly' },
      ],
    });
    const request = aRequest({
      flow,
      requester,
      grantee: requester,
      units: flow.targets,
      unitOwners: [
        { owners: ['requester-1', 'approver-1'], source: 'resource' },
        { owners: ['dba-1'], source: 'integration' },
      ],
    });

    const found = await approversOf(directory(), request);

    expect(found.map((a) => [a.user.id, a.why])).toEqual([
      ['approver-1', 'you are an owner of app (integration pg) (approver set 1 of flow db-readonly)'],
      ['dba-1', 'you are an owner of integration pg, which stands for audit (approver set 1 of flow db-readonly)'],
    ]);
  });
});

describe('approversOf with on-call sets', () => {
  const oncallApproval: AccessFlow['approval'] = {
    mode: 'manual',
    sets: [
      { name: 'Primary', users: [], groups: [], oncall: { provider: 'pagerduty', schedule: 'PSCHED' } },
      { users: ['approver-1'], groups: [] },
    ],
    rule: { type: 'anyOf' },
    timeoutMinutes: 120,
    reasonRequired: false,
  };
  const shift = (email: string) => ({
    provider: 'pagerduty',
    email,
    schedule: 'PSCHED',
    start: '2030-01-15T09:00:00.000Z',
    end: '2030-01-15T17:00:00.000Z',
  });
  const request = () => aRequest({ flow: aFlow({ approval: oncallApproval }), requester, grantee: requester });

  it('asks whoever is on call when the request arrives (matched by email in the directory), with why', async () => {
    const found = await approversOf(
      directory(),
      request(),
      new Map([[0, { shifts: [shift('oncall-1@example.com'), shift('stranger@example.com')] }]]),
    );
    expect(found.map((a) => [a.user.id, a.why])).toEqual([
      [
        'oncall-1',
        'you are on call in PSCHED (pagerduty) until 2030-01-15T17:00:00.000Z (approver set “Primary” of flow db-readonly)',
      ],
      ['approver-1', 'you are named in approver set 2 of flow db-readonly'],
    ]);
  });

  it('never asks the requester, even on call', async () => {
    const found = await approversOf(
      directory(),
      request(),
      new Map([[0, { shifts: [shift('requester-1@example.com')] }]]),
    );
    expect(found.map((a) => a.user.id)).toEqual(['approver-1']);
  });

  it('still asks the other sets when the provider could not be asked', async () => {
    const found = await approversOf(directory(), request(), new Map([[0, { unavailable: 'pagerduty: 500' }]]));
    expect(found.map((a) => a.user.id)).toEqual(['approver-1']);
  });
});

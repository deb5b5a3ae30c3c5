import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryStore } from '#lib/directory/store.ts';
import { approverStanding } from '#lib/domain/approvals.ts';
import { ForbiddenError, NotFoundError } from '#lib/domain/errors.ts';
import { resolveIdentity } from '#lib/identity/resolver.ts';
import { RequestService } from '#lib/services/requests.ts';
import { Store } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aFlow, anIdentity, anIntegration, aRequest } from '../../support/fixtures.ts';
import { RecordingExecutions } from '../../support/recording-executions.ts';
import { ROLES, seedFlow, seedIntegration, TestClock } from '../../support/services.ts';

/**
 * Flows whose approver set admits the requester's manager, with the manager read from the identity directory: the
 * caller is resolved as every entry point resolves it (lib/identity/resolver.ts) before the service sees them.
 */
const managerFlow = aFlow({
  id: 'manager-approves',
  approval: {
    mode: 'manual',
    sets: [{ users: [], groups: [], manager: true }],
    rule: { type: 'anyOf' },
    timeoutMinutes: 60,
    reasonRequired: false,
  },
});
const scim = { by: 'scim', channel: 'scim' } as const;

let table: LocalTable;
let store: Store;
let directory: DirectoryStore;
let service: RequestService;

beforeEach(async () => {
  table = await startDynalite();
  const clock = new TestClock('2030-01-15T10:00:00.000Z');
  store = new Store(table.doc, table.tableName, { now: clock.now });
  directory = new DirectoryStore(table.doc, table.tableName);
  service = new RequestService({
    store,
    executions: new RecordingExecutions(),
    roles: ROLES,
    now: clock.now,
  });
  await seedIntegration(store, anIntegration());
  await seedFlow(store, managerFlow);
  await directory.createUser({ userName: 'boss@example.com', emails: ['boss@example.com'] }, scim, { id: 'boss' });
  await directory.createUser({ userName: 'alice@example.com', emails: ['alice@example.com'], manager: 'boss' }, scim, {
    id: 'alice',
  });
  await directory.createGroup({ displayName: 'engineering', members: ['alice'] }, scim);
});
afterEach(async () => {
  await table.stop();
});

const request = () => ({ flowId: managerFlow.id, durationMinutes: 30, justification: 'deploy' });

describe('manager approvers', () => {
  it("records the requester's manager and directory groups on the request, and lets the manager approve", async () => {
    const created = await service.create(
      request(),
      await resolveIdentity(directory, anIdentity({ sub: 'alice', groups: ['from-token'] })),
      'api',
    );

    expect(created.requester.manager).toBe('boss');
    expect(created.requester.groups.sort()).toEqual(['engineering', 'from-token']);
    const boss = await resolveIdentity(directory, anIdentity({ sub: 'boss', email: 'boss@example.com' }));
    const decided = await service.decide(created.id, boss, {
      vote: 'approve',
      channel: 'api',
    });
    expect(decided.status).toBe('APPROVED');
  });

  it('refuses a non-manager (who, not being an approver, does not see the request at all)', async () => {
    const created = await service.create(
      request(),
      await resolveIdentity(directory, anIdentity({ sub: 'alice' })),
      'api',
    );

    await expect(
      service.decide(created.id, anIdentity({ sub: 'mallory' }), { vote: 'approve', channel: 'api' }),
    ).rejects.toThrow(NotFoundError);
  });

  it('refuses a manager who is also the requester', () => {
    const own = aRequest({
      flow: managerFlow,
      requester: anIdentity({ sub: 'boss', manager: 'boss' }),
      grantee: anIdentity({ sub: 'boss', manager: 'boss' }),
    });

    expect(approverStanding(own, anIdentity({ sub: 'boss' }))).toEqual({
      eligible: false,
      reason: 'requesters cannot approve their own request',
    });
  });

  it('admits nobody through a manager set when the requester has no manager', () => {
    const orphan = aRequest({
      flow: managerFlow,
      requester: anIdentity({ sub: 'bob' }),
      grantee: anIdentity({ sub: 'bob' }),
    });

    expect(approverStanding(orphan, anIdentity({ sub: 'boss' })).eligible).toBe(false);
  });

  it('refuses a request from a person the directory has deactivated', async () => {
    await directory.updateUser('alice', (u) => ({ ...u, active: false }), scim);

    await expect(resolveIdentity(directory, anIdentity({ sub: 'alice' }))).rejects.toThrow(ForbiddenError);
  });
});

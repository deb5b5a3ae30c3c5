import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotApproverError, NotFoundError, PolicyError } from '#lib/domain/errors.ts';
import type { Integration } from '#lib/domain/integration.ts';
import { RequestService } from '#lib/services/requests.ts';
import { Store } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aChange, aFlow, anIdentity, anIntegration } from '../../support/fixtures.ts';
import { RecordingExecutions } from '../../support/recording-executions.ts';
import { ROLES, seedFlow, seedIntegration, TestClock } from '../../support/services.ts';

/**
 * Owners as approvers against dynalite: the owners are read from the stored integration when the request is made
 * and fixed on the stored request, they find it among "requests I can approve", approve it, and editing the
 * integration afterwards does not change who may approve it.
 */
const ownersFlow = aFlow({
  id: 'owners-approve',
  targets: [
    { integrationId: 'pg', resource: 'app', permission: 'readonly' },
    { integrationId: 'pg', resource: 'audit', permission: 'readonly' },
  ],
  approval: {
    mode: 'manual',
    sets: [{ users: [], groups: [], owners: true }],
    rule: { type: 'anyOf' },
    timeoutMinutes: 60,
    reasonRequired: false,
  },
});

const owned: Integration = anIntegration({
  owners: ['ivan'],
  resources: [
    { id: 'app', owners: ['olga', 'alice'], permissions: [{ id: 'readonly', grants: ['app_readonly'] }] },
    { id: 'audit', owners: [], permissions: [{ id: 'readonly', grants: ['audit_readonly'] }] },
  ],
});

const alice = anIdentity({ sub: 'alice' });
const olga = anIdentity({ sub: 'olga' });
const ivan = anIdentity({ sub: 'ivan' });
const nina = anIdentity({ sub: 'nina' });

let table: LocalTable;
let store: Store;
let service: RequestService;

beforeEach(async () => {
  table = await startDynalite();
  const clock = new TestClock('2030-01-15T10:00:00.000Z');
  store = new Store(table.doc, table.tableName, { now: clock.now });
  service = new RequestService({ store, executions: new RecordingExecutions(), roles: ROLES, now: clock.now });
  await seedIntegration(store, owned);
  await seedFlow(store, ownersFlow);
});
afterEach(async () => {
  await table.stop();
});

const ask = (resource: string) => ({
  flowId: ownersFlow.id,
  durationMinutes: 30,
  justification: 'deploy',
  targets: [{ resource, permission: 'readonly' }],
});

async function editOwners(resourceOwners: string[], integrationOwners: string[]): Promise<void> {
  const current = await store.getIntegration('pg');
  if (current === undefined) throw new Error('integration pg is missing');
  const { id, version, lastChange: _l, deleted: _d, ...input } = current;
  const resources = input.resources.map((r) => (r.id === 'app' ? { ...r, owners: resourceOwners } : r));
  await store.putIntegration(
    id,
    { ...input, owners: integrationOwners, resources },
    aChange({ action: 'put' }),
    version,
  );
}

describe('owners as approvers (store and service)', () => {
  it('stores the owners on the request and lists it for each owner among the requests they can approve', async () => {
    const created = await service.create(ask('app'), anIdentity({ sub: 'dave' }), 'api');

    expect((await store.getRequest(created.id))?.unitOwners).toEqual([
      { owners: ['olga', 'alice'], source: 'resource' },
    ]);
    const forOlga = await service.list(olga, { scope: 'approvals' });
    const forNina = await service.list(nina, { scope: 'approvals' });
    expect(forOlga.items.map((r) => r.id)).toEqual([created.id]);
    expect(forNina.items).toEqual([]);
  });

  it('lets an owner approve, and refuses the requester who owns the resource (403 not-approver)', async () => {
    const created = await service.create(ask('app'), alice, 'api');

    const refused = service.decide(created.id, alice, { vote: 'approve', channel: 'api' });
    await expect(refused).rejects.toBeInstanceOf(NotApproverError);
    await expect(refused).rejects.toMatchObject({
      status: 403,
      message: 'requesters cannot approve their own request',
    });
    expect((await service.list(alice, { scope: 'approvals' })).items).toEqual([]);
    const decided = await service.decide(created.id, olga, { vote: 'approve', channel: 'api' });
    expect(decided.status).toBe('APPROVED');
    expect(decided.votes).toMatchObject([{ by: 'olga', sets: [0], ownerOf: [0] }]);
  });

  it("lets the integration's owners approve a resource without owners of its own", async () => {
    const created = await service.create(ask('audit'), anIdentity({ sub: 'dave' }), 'api');

    expect((await service.list(ivan, { scope: 'approvals' })).items.map((r) => r.id)).toEqual([created.id]);
    expect((await service.decide(created.id, ivan, { vote: 'approve', channel: 'api' })).status).toBe('APPROVED');
  });

  it('keeps the owners a pending request was made with when the integration is edited afterwards', async () => {
    const created = await service.create(ask('app'), anIdentity({ sub: 'dave' }), 'api');
    await editOwners(['nina'], []);

    await expect(service.decide(created.id, nina, { vote: 'approve', channel: 'api' })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect((await service.decide(created.id, olga, { vote: 'approve', channel: 'api' })).status).toBe('APPROVED');
    const later = await service.create(ask('app'), anIdentity({ sub: 'dave' }), 'api');
    expect(later.unitOwners).toEqual([{ owners: ['nina'], source: 'resource' }]);
  });

  it('refuses a request that no owner could approve, and stores nothing', async () => {
    await editOwners(['olga'], []);

    const attempt = service.create(ask('audit'), anIdentity({ sub: 'dave' }), 'api');

    await expect(attempt).rejects.toBeInstanceOf(PolicyError);
    await expect(attempt).rejects.toMatchObject({ status: 422, field: 'targets.0' });
    expect((await service.list(anIdentity({ sub: 'dave' }), { scope: 'mine' })).items).toEqual([]);
  });
});

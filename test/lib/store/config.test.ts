import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '#lib/domain/errors.ts';
import type { FlowInput } from '#lib/domain/flow.ts';
import { configKey } from '#lib/store/keys.ts';
import { Store, VersionConflictError } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aBundle, aChange, aFlow, anIntegration } from '../../support/fixtures.ts';

const NOW = Date.parse('2030-01-15T12:00:00.000Z');

let table: LocalTable;
let store: Store;

beforeEach(async () => {
  table = await startDynalite();
  store = new Store(table.doc, table.tableName, { now: () => new Date(NOW) });
});
afterEach(async () => {
  await table.stop();
});

function flowInput(overrides: Partial<FlowInput> = {}): FlowInput {
  const { id: _id, version: _version, lastChange: _lastChange, deleted: _deleted, ...input } = aFlow();
  return { ...input, ...overrides };
}

const created = aChange({ by: 'admin-1', action: 'flow.put', reason: 'initial setup' });
const edited = aChange({ by: 'admin-2', action: 'flow.put', at: '2030-01-16T09:00:00.000Z' });
const removed = aChange({ by: 'admin-3', action: 'flow.delete', reason: 'retired', at: '2030-01-17T09:00:00.000Z' });

describe('flows', () => {
  it('creates version 1 and replaces with the next version, recording who changed it', async () => {
    const first = await store.putFlow('db-readonly', flowInput(), created);
    const second = await store.putFlow('db-readonly', flowInput({ name: 'Renamed' }), edited);

    expect(first).toMatchObject({ id: 'db-readonly', version: 1, lastChange: created });
    expect(second).toMatchObject({ version: 2, name: 'Renamed', lastChange: edited });
    expect(await store.getFlow('db-readonly')).toEqual(second);
  });

  it('replaces only from the expected version', async () => {
    await store.putFlow('db-readonly', flowInput(), created);
    await store.putFlow('db-readonly', flowInput({ name: 'v2' }), edited, 1);

    const error = await store.putFlow('db-readonly', flowInput({ name: 'stale' }), edited, 1).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(VersionConflictError);
    expect((await store.getFlow('db-readonly'))?.name).toBe('v2');
  });

  it('says where the flow stands when a replace from an old version loses: its version and last change', async () => {
    await store.putFlow('db-readonly', flowInput(), created);
    await store.putFlow('db-readonly', flowInput({ name: 'v2' }), edited, 1);

    const error = await store.putFlow('db-readonly', flowInput({ name: 'stale' }), removed, 1).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(VersionConflictError);
    expect(error).toMatchObject({ current: { version: 2, lastChange: edited } });
  });

  it('creates only when absent: refuses a live flow, revives a deleted one with the next version', async () => {
    const first = await store.putFlow('db-readonly', flowInput(), created, 'absent');
    const again = await store.putFlow('db-readonly', flowInput({ name: 'again' }), edited, 'absent').catch((e) => e);
    await store.deleteFlow('db-readonly', removed);
    const revived = await store.putFlow('db-readonly', flowInput({ name: 'revived' }), edited, 'absent');

    expect(first.version).toBe(1);
    expect(again).toBeInstanceOf(VersionConflictError);
    expect(again).toMatchObject({ current: { version: 1, lastChange: created } });
    expect(revived).toMatchObject({ version: 3, name: 'revived' });
    expect(await store.getFlow('db-readonly')).toEqual(revived);
  });

  it('deletes only at the expected version, leaving a changed flow in place', async () => {
    await store.putFlow('db-readonly', flowInput(), created);
    await store.putFlow('db-readonly', flowInput({ name: 'v2' }), edited);

    const stale = await store.deleteFlow('db-readonly', removed, 1).catch((e: unknown) => e);
    const kept = await store.getFlow('db-readonly');
    const deleted = await store.deleteFlow('db-readonly', removed, 2);

    expect(stale).toBeInstanceOf(VersionConflictError);
    expect(stale).toMatchObject({ current: { version: 2, lastChange: edited } });
    expect(kept?.name).toBe('v2');
    expect(deleted).toMatchObject({ version: 3, deleted: true });
  });

  it('refuses an expected version for a flow that does not exist', async () => {
    const error = await store.putFlow('absent', flowInput(), created, 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ field: 'id' });
  });

  it('refuses an id that is not a slug, naming the field', async () => {
    const error = await store.putFlow('Not A Slug', flowInput(), created).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field: 'id' });
  });

  it('lists flows sorted by id, paging without duplicates or gaps', async () => {
    const ids = ['e-flow', 'a-flow', 'd-flow', 'b-flow', 'c-flow'];
    for (const id of ids) await store.putFlow(id, flowInput(), created);

    const first = await store.listFlows({ limit: 2 });
    const second = await store.listFlows({ limit: 2, cursor: first.cursor });
    const third = await store.listFlows({ limit: 2, cursor: second.cursor });

    expect([first, second, third].map((p) => p.items.map((f) => f.id))).toEqual([
      ['a-flow', 'b-flow'],
      ['c-flow', 'd-flow'],
      ['e-flow'],
    ]);
    expect(third.cursor).toBeUndefined();
  });

  it('soft-deletes: hidden from get and list, the item stays with who deleted it and a TTL', async () => {
    await store.putFlow('keep', flowInput(), created);
    await store.putFlow('gone', flowInput(), created);

    const deleted = await store.deleteFlow('gone', removed);

    expect(deleted).toMatchObject({ id: 'gone', deleted: true, version: 2, lastChange: removed });
    expect(await store.getFlow('gone')).toBeUndefined();
    expect((await store.listFlows()).items.map((f) => f.id)).toEqual(['keep']);
    const raw = await table.doc.send(new GetCommand({ TableName: table.tableName, Key: configKey('flow', 'gone') }));
    expect(raw.Item).toMatchObject({ entity: 'flow', deleted: true, lastChange: removed, name: flowInput().name });
    expect(raw.Item?.ttl).toBe(Math.floor(NOW / 1000) + 30 * 86_400);
  });

  it('refuses to delete a flow that is absent or already deleted', async () => {
    await store.putFlow('gone', flowInput(), created);
    await store.deleteFlow('gone', removed);

    await expect(store.deleteFlow('gone', removed)).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.deleteFlow('never', removed)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('recreates a deleted flow with a higher version and no deletion mark', async () => {
    await store.putFlow('again', flowInput(), created);
    await store.deleteFlow('again', removed);

    const revived = await store.putFlow('again', flowInput(), edited);

    expect(revived.version).toBe(3);
    expect(revived.deleted).toBeUndefined();
    expect((await store.listFlows()).items.map((f) => f.id)).toEqual(['again']);
  });
});

describe('integrations and bundles', () => {
  it('round-trips an integration and lists it', async () => {
    const { id, version: _v, lastChange: _c, deleted: _d, ...input } = anIntegration();

    const stored = await store.putIntegration(id, input, created);

    expect(await store.getIntegration(id)).toEqual(stored);
    expect((await store.listIntegrations()).items).toEqual([stored]);
  });

  it('gets several integrations at once, leaving out absent and deleted ones', async () => {
    const { id: _id, version: _v, lastChange: _c, deleted: _d, ...input } = anIntegration();
    const pg = await store.putIntegration('pg', input, created);
    await store.putIntegration('old', input, created);
    await store.deleteIntegration('old', removed);

    const found = await store.getIntegrations(['pg', 'old', 'missing', 'pg']);

    expect([...found.entries()]).toEqual([['pg', pg]]);
  });

  it('round-trips bundles, soft-deletes them and gets several at once', async () => {
    const { id: _id, version: _v, lastChange: _c, deleted: _d, ...input } = aBundle();
    const oncall = await store.putBundle('oncall', input, created);
    const audit = await store.putBundle('audit', { ...input, name: 'Audit' }, created);
    await store.putBundle('old', input, created);
    await store.deleteBundle('old', removed);

    expect(await store.getBundle('oncall')).toEqual(oncall);
    expect(await store.getBundle('old')).toBeUndefined();
    expect((await store.listBundles()).items.map((b) => b.id)).toEqual(['audit', 'oncall']);
    const found = await store.getBundles(['oncall', 'audit', 'old']);
    expect(found.get('oncall')).toEqual(oncall);
    expect(found.get('audit')).toEqual(audit);
    expect(found.has('old')).toBe(false);
  });
});

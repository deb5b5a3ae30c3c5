import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AccessUnit } from '#lib/domain/bundle.ts';
import { Store } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aChange } from '../../support/fixtures.ts';

let table: LocalTable;
let store: Store;

beforeEach(async () => {
  table = await startDynalite();
  store = new Store(table.doc, table.tableName);
});
afterEach(async () => {
  await table.stop();
});

const unit: AccessUnit = { integrationId: 'pg', resource: 'app#1', permission: 'readonly' };
const change = aChange({ by: 'stint:system', channel: 'workflow', action: 'lease' });
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe('leases', () => {
  it('adds a holder once: adding again changes nothing', async () => {
    const first = await store.addLeaseHolder('bob', unit, 'r1', change);
    const again = await store.addLeaseHolder('bob', unit, 'r1', change);

    expect(first).toEqual({ grantee: 'bob', unit, requestIds: ['r1'], version: 1, lastChange: change });
    expect(again).toEqual(first);
  });

  it('keeps one lease per grantee and unit', async () => {
    await store.addLeaseHolder('bob', unit, 'r1', change);
    const other = await store.addLeaseHolder('bob', { ...unit, permission: 'readwrite' }, 'r2', change);
    const otherGrantee = await store.addLeaseHolder('bob#2', unit, 'r3', change);

    expect(other.requestIds).toEqual(['r2']);
    expect(otherGrantee.requestIds).toEqual(['r3']);
  });

  it('removes a holder, leaving the others, and returns the remaining set', async () => {
    await store.addLeaseHolder('bob', unit, 'r1', change);
    await store.addLeaseHolder('bob', unit, 'r2', change);

    const afterFirst = await store.removeLeaseHolder('bob', unit, 'r1', change);
    const afterAgain = await store.removeLeaseHolder('bob', unit, 'r1', change);
    const afterLast = await store.removeLeaseHolder('bob', unit, 'r2', change);

    expect(afterFirst.requestIds).toEqual(['r2']);
    expect(afterAgain).toEqual(afterFirst);
    expect(afterLast.requestIds).toEqual([]);
  });

  it('returns an empty lease when removing from a lease that never existed', async () => {
    const lease = await store.removeLeaseHolder('nobody', unit, 'r1', change);
    expect(lease).toMatchObject({ grantee: 'nobody', unit, requestIds: [] });
  });

  it('never loses a holder when 10 requests add concurrently, then 5 leave while 5 others join', async () => {
    const firstTen = ids('a', 10);
    await Promise.all(firstTen.map((id) => store.addLeaseHolder('bob', unit, id, change)));
    const leaving = firstTen.slice(0, 5);
    const joining = ids('b', 5);

    await Promise.all([
      ...leaving.map((id) => store.removeLeaseHolder('bob', unit, id, change)),
      ...joining.map((id) => store.addLeaseHolder('bob', unit, id, change)),
    ]);

    const lease = await store.addLeaseHolder('bob', unit, 'a-9', change); // a no-op read of the current lease
    expect(lease.requestIds).toEqual([...firstTen.slice(5), ...joining].sort());
    expect(lease.version).toBe(20);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { leaseKey } from '#lib/store/keys.ts';
import { LeaseBusyError, Store } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aChange } from '../../support/fixtures.ts';

let table: LocalTable;
let store: Store;
/** Every command sent through the table's client, by name (to tell a no-op from a write). */
let sent: string[];

beforeEach(async () => {
  table = await startDynalite();
  sent = [];
  table.doc.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(context.commandName ?? 'unknown');
      return next(args);
    },
    { step: 'initialize', name: 'recordLeaseCommands' },
  );
  store = new Store(table.doc, table.tableName);
});
afterEach(async () => {
  await table.stop();
});

/** A driver lease key as an Identity Center driver would name it: `#` and `/` inside must not collide. */
const KEY = 'ssoins-1/123456789012/ps-abc#1/user-bob';
const change = aChange({ by: 'stint:system', channel: 'workflow', action: 'lease' });
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

/** Runs `work` and returns the names of the (possibly conditional) write commands it sent; reads are left out. */
async function writesDuring(work: () => Promise<unknown>): Promise<string[]> {
  const before = sent.length;
  await work();
  return sent.slice(before).filter((name) => name !== 'GetItemCommand');
}

describe('addLeaseHolder', () => {
  it('creates the lease with its first holder; adding again is refused by its condition and changes nothing', async () => {
    const first = await store.addLeaseHolder(KEY, 'r1', change);
    expect(first).toEqual({ key: KEY, requestIds: ['r1'], version: 1, lastChange: change });

    const later = aChange({ by: 'stint:system', channel: 'workflow', action: 'lease-again' });
    let again: unknown;
    expect(
      await writesDuring(async () => {
        again = await store.addLeaseHolder(KEY, 'r1', later);
      }),
    ).toEqual(['UpdateItemCommand']); // the conditional update, refused: nothing changed
    expect(again).toEqual(first);
    expect(await store.getLease(KEY)).toEqual(first);
  });

  it('adds a second holder to the same lease', async () => {
    await store.addLeaseHolder(KEY, 'r1', change);
    const second = await store.addLeaseHolder(KEY, 'r2', change);

    expect(second).toEqual({ key: KEY, requestIds: ['r1', 'r2'], version: 2, lastChange: change });
    expect(await store.getLease(KEY)).toEqual(second);
  });

  it('keeps one lease per key, keys differing only in escaped characters included', async () => {
    await store.addLeaseHolder(KEY, 'r1', change);
    const other = await store.addLeaseHolder(`${KEY}x`, 'r2', change);
    // `#` is escaped in the item key: 'a#b' and 'a%23b' are two leases.
    const hash = await store.addLeaseHolder('a#b', 'r3', change);
    const escaped = await store.addLeaseHolder('a%23b', 'r4', change);

    expect(other.requestIds).toEqual(['r2']);
    expect(hash.requestIds).toEqual(['r3']);
    expect(escaped.requestIds).toEqual(['r4']);
    expect((await store.getLease(KEY))?.requestIds).toEqual(['r1']);
    expect(leaseKey('a#b')).not.toEqual(leaseKey('a%23b'));
  });
});

describe('removeLeaseHolder', () => {
  it('removes a holder that is not the last: the lease stays free (no revoking mark)', async () => {
    await store.addLeaseHolder(KEY, 'r1', change);
    await store.addLeaseHolder(KEY, 'r2', change);

    const after = await store.removeLeaseHolder(KEY, 'r1', change);

    expect(after).toEqual({ key: KEY, requestIds: ['r2'], version: 3, lastChange: change });
    expect(after.revoking).toBeUndefined();
    // Another request may still join.
    expect((await store.addLeaseHolder(KEY, 'r3', change)).requestIds).toEqual(['r2', 'r3']);
  });

  it('marks the lease revoking by the last holder in the same update that empties it', async () => {
    await store.addLeaseHolder(KEY, 'r1', change);
    await store.addLeaseHolder(KEY, 'r2', change);
    await store.removeLeaseHolder(KEY, 'r1', change);

    let last: unknown;
    expect(
      await writesDuring(async () => {
        last = await store.removeLeaseHolder(KEY, 'r2', change);
      }),
    ).toEqual(['UpdateItemCommand']); // one write: no moment with no holder and no revoking mark
    expect(last).toEqual({ key: KEY, requestIds: [], revoking: 'r2', version: 4, lastChange: change });
    expect(await store.getLease(KEY)).toEqual(last);
  });

  it('is a no-op when repeated: the answer still tells the revoker it is revoking', async () => {
    await store.addLeaseHolder(KEY, 'r1', change);
    await store.addLeaseHolder(KEY, 'r2', change);
    const afterFirst = await store.removeLeaseHolder(KEY, 'r1', change);
    expect(await writesDuring(() => store.removeLeaseHolder(KEY, 'r1', change))).toEqual([]);
    expect(await store.getLease(KEY)).toEqual(afterFirst);

    const revoking = await store.removeLeaseHolder(KEY, 'r2', change);
    let again: unknown;
    expect(
      await writesDuring(async () => {
        again = await store.removeLeaseHolder(KEY, 'r2', change);
      }),
    ).toEqual([]);
    expect(again).toEqual(revoking);
    expect(again).toMatchObject({ revoking: 'r2' });
    // A former holder removed again while r2 revokes is told it is not the revoker.
    expect((await store.removeLeaseHolder(KEY, 'r1', change)).revoking).toBe('r2');
  });

  it('returns an empty lease (version 0) and writes nothing for a request that never held one', async () => {
    let lease: unknown;
    expect(
      await writesDuring(async () => {
        lease = await store.removeLeaseHolder('nobody/ever', 'r1', change);
      }),
    ).toEqual([]);

    expect(lease).toEqual({ key: 'nobody/ever', requestIds: [], version: 0, lastChange: change });
    expect(await store.getLease('nobody/ever')).toBeUndefined();
  });

  it('returns the lease as stored, unchanged, for a request that is not among its holders', async () => {
    const held = await store.addLeaseHolder(KEY, 'r1', change);

    let lease: unknown;
    expect(
      await writesDuring(async () => {
        lease = await store.removeLeaseHolder(KEY, 'stranger', change);
      }),
    ).toEqual([]);

    expect(lease).toEqual(held);
    expect(await store.getLease(KEY)).toEqual(held);
  });
});

describe('revoking', () => {
  async function revokingBy(requestId: string) {
    await store.addLeaseHolder(KEY, requestId, change);
    return await store.removeLeaseHolder(KEY, requestId, change);
  }

  it('refuses a new holder while another request revokes, then admits it once the revoker finishes', async () => {
    await revokingBy('r1');

    const busy = await store.addLeaseHolder(KEY, 'r2', change).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(LeaseBusyError);
    expect(busy).toMatchObject({ key: KEY, revokingRequest: 'r1', field: 'lease' });
    expect(await store.getLease(KEY)).toMatchObject({ requestIds: [], revoking: 'r1', version: 2 });

    await store.finishLeaseRevoke(KEY, 'r1', change);
    const freed = await store.getLease(KEY);
    expect(freed).toEqual({ key: KEY, requestIds: [], version: 3, lastChange: change });

    const joined = await store.addLeaseHolder(KEY, 'r2', change);
    expect(joined).toEqual({ key: KEY, requestIds: ['r2'], version: 4, lastChange: change });
  });

  it('ignores finishLeaseRevoke from a request that is not the revoker', async () => {
    const revoking = await revokingBy('r1');

    expect(await writesDuring(() => store.finishLeaseRevoke(KEY, 'r2', change))).toEqual(['UpdateItemCommand']);
    expect(await store.getLease(KEY)).toEqual(revoking);
    await expect(store.addLeaseHolder(KEY, 'r2', change)).rejects.toBeInstanceOf(LeaseBusyError);

    // Nor on a lease that is not revoking at all, or does not exist.
    await store.addLeaseHolder('free', 'r3', change);
    await store.finishLeaseRevoke('free', 'r3', change);
    expect(await store.getLease('free')).toEqual({ key: 'free', requestIds: ['r3'], version: 1, lastChange: change });
    await store.finishLeaseRevoke('missing', 'r3', change);
    expect(await store.getLease('missing')).toBeUndefined();
  });

  it('finishLeaseRevoke is idempotent: a repeat after the lease was taken again changes nothing', async () => {
    await revokingBy('r1');
    await store.finishLeaseRevoke(KEY, 'r1', change);
    const joined = await store.addLeaseHolder(KEY, 'r2', change);

    await store.finishLeaseRevoke(KEY, 'r1', change);

    expect(await store.getLease(KEY)).toEqual(joined);
  });
});

describe('setLeaseOwned', () => {
  it('records owned once: a second call with another value does not change it', async () => {
    await store.addLeaseHolder(KEY, 'r1', change);

    await store.setLeaseOwned(KEY, false, change);
    const owned = await store.getLease(KEY);
    expect(owned).toEqual({ key: KEY, requestIds: ['r1'], owned: false, version: 2, lastChange: change });

    await store.addLeaseHolder(KEY, 'r2', change);
    await store.setLeaseOwned(KEY, true, change);
    expect(await store.getLease(KEY)).toMatchObject({ requestIds: ['r1', 'r2'], owned: false, version: 3 });
  });

  it('creates no lease when none exists', async () => {
    await store.setLeaseOwned('missing', true, change);
    expect(await store.getLease('missing')).toBeUndefined();
  });

  it('is forgotten by finishLeaseRevoke, so the next holder records it afresh', async () => {
    await store.addLeaseHolder(KEY, 'r1', change);
    await store.setLeaseOwned(KEY, true, change);
    const revoking = await store.removeLeaseHolder(KEY, 'r1', change);
    expect(revoking).toMatchObject({ requestIds: [], revoking: 'r1', owned: true });

    await store.finishLeaseRevoke(KEY, 'r1', change);
    const freed = await store.getLease(KEY);
    expect(freed?.owned).toBeUndefined();
    expect(freed?.revoking).toBeUndefined();

    await store.addLeaseHolder(KEY, 'r2', change);
    await store.setLeaseOwned(KEY, false, change);
    expect(await store.getLease(KEY)).toMatchObject({ requestIds: ['r2'], owned: false });
  });
});

describe('concurrency', () => {
  it('never loses a holder when 10 requests add concurrently, then 5 leave while 5 others join', async () => {
    const firstTen = ids('a', 10);
    await Promise.all(firstTen.map((id) => store.addLeaseHolder(KEY, id, change)));
    expect(await store.getLease(KEY)).toEqual({
      key: KEY,
      requestIds: [...firstTen].sort(),
      version: 10,
      lastChange: change,
    });
    const leaving = firstTen.slice(0, 5);
    const joining = ids('b', 5);

    const results = await Promise.allSettled([
      ...leaving.map((id) => store.removeLeaseHolder(KEY, id, change)),
      ...joining.map((id) => store.addLeaseHolder(KEY, id, change)),
    ]);

    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const lease = await store.getLease(KEY);
    expect(lease?.requestIds).toEqual([...firstTen.slice(5), ...joining].sort());
    expect(lease?.revoking).toBeUndefined();
    expect(lease?.version).toBe(20);
  });

  it('marks exactly one revoker when the last holders leave concurrently, and refuses joiners until it finishes', async () => {
    const holders = ids('h', 4);
    for (const id of holders) await store.addLeaseHolder(KEY, id, change);

    const answers = await Promise.all(holders.map((id) => store.removeLeaseHolder(KEY, id, change)));

    const lease = await store.getLease(KEY);
    expect(lease?.requestIds).toEqual([]);
    const revoker = lease?.revoking;
    expect(holders).toContain(revoker);
    // Each remover learns from its own answer whether it revokes: exactly one does, the one the lease names.
    expect(holders.filter((id, i) => answers[i]?.revoking === id)).toEqual([revoker]);
    await expect(store.addLeaseHolder(KEY, 'late', change)).rejects.toBeInstanceOf(LeaseBusyError);

    await store.finishLeaseRevoke(KEY, String(revoker), change);
    expect((await store.addLeaseHolder(KEY, 'late', change)).requestIds).toEqual(['late']);
  });

  it('lets 12 holders leave at once without a conflict, and exactly one of them revokes', async () => {
    const holders = ids('m', 12);
    await Promise.all(holders.map((id) => store.addLeaseHolder(KEY, id, change)));

    const results = await Promise.allSettled(holders.map((id) => store.removeLeaseHolder(KEY, id, change)));

    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const lease = await store.getLease(KEY);
    expect(lease?.requestIds).toEqual([]);
    expect(holders.filter((id, i) => results[i]?.status === 'fulfilled' && results[i].value.revoking === id)).toEqual([
      lease?.revoking,
    ]);
  });

  it('a concurrent add and last remove end either with the joiner holding a free lease or refused as busy', async () => {
    for (let round = 0; round < 8; round++) {
      const key = `race-${round}`;
      await store.addLeaseHolder(key, 'old', change);

      const [removed, added] = await Promise.allSettled([
        store.removeLeaseHolder(key, 'old', change),
        store.addLeaseHolder(key, 'new', change),
      ]);

      expect(removed.status).toBe('fulfilled');
      const lease = await store.getLease(key);
      if (added.status === 'fulfilled') {
        // The joiner got in first: the leaver was not last, so nothing is revoked.
        expect(lease).toMatchObject({ requestIds: ['new'] });
        expect(lease?.revoking).toBeUndefined();
      } else {
        // The leaver emptied it first: the joiner is told to wait, and retried by the workflow.
        expect(added.reason).toBeInstanceOf(LeaseBusyError);
        expect(lease).toMatchObject({ requestIds: [], revoking: 'old' });
      }
    }
  });
});

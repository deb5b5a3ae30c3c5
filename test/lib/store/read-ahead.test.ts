import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryStore } from '#lib/directory/store.ts';
import { configKey, type Key, requestKey } from '#lib/store/keys.ts';
import { batchGet } from '#lib/store/query.ts';
import { readAhead, takeReadAhead, withReadAhead } from '#lib/store/read-ahead.ts';
import { Store } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aRequest } from '../../support/fixtures.ts';

let table: LocalTable;
let store: Store;
const batchRead = (keys: Key[]) => batchGet(table.doc, table.tableName, keys);
let directory: DirectoryStore;

beforeEach(async () => {
  table = await startDynalite();
  store = new Store(table.doc, table.tableName);
  directory = new DirectoryStore(table.doc, table.tableName);
});
afterEach(async () => {
  await table.stop();
});

/** The operations the table was sent while `work` ran. */
async function operationsDuring<T>(work: () => Promise<T>): Promise<{ result: T; sent: string[] }> {
  table.operations.length = 0;
  const result = await work();
  return { result, sent: [...table.operations] };
}

describe('read-ahead', () => {
  it("answers the store's first read of an item read ahead without a call, and the next one from the table", async () => {
    const request = aRequest();
    await store.createRequest(request);

    const { result, sent } = await operationsDuring(() =>
      withReadAhead(async () => {
        await readAhead(batchRead, table.tableName, [requestKey(request.id)]);
        const first = await store.getRequest(request.id);
        const second = await store.getRequest(request.id);
        return { first, second };
      }),
    );

    expect(sent).toEqual(['BatchGetItem', 'GetItem']);
    expect(result.first).toEqual(request);
    expect(result.second).toEqual(request);
  });

  it('reads the directory user and the named items in one call, and answers an absent one as absent', async () => {
    const user = await directory.createUser(
      { userName: 'alice', emails: ['alice@example.com'], active: true, accounts: [] },
      { by: 'scim', channel: 'scim' },
      { id: 'alice' },
    );

    const { result, sent } = await operationsDuring(() =>
      withReadAhead(async () => {
        await directory.readAheadWithUser('alice', [configKey('flow', 'no-such-flow')]);
        return { user: await directory.userById('alice'), flow: await store.getFlow('no-such-flow') };
      }),
    );

    expect(sent).toEqual(['BatchGetItem']);
    expect(result.user).toEqual(user);
    expect(result.flow).toBeUndefined();
  });

  it('reads the table as before outside a read-ahead scope', async () => {
    const request = aRequest();
    await store.createRequest(request);

    const { result, sent } = await operationsDuring(async () => {
      await readAhead(batchRead, table.tableName, [requestKey(request.id)]);
      return store.getRequest(request.id);
    });

    expect(sent).toEqual(['GetItem']);
    expect(result).toEqual(request);
    expect(takeReadAhead(table.tableName, requestKey(request.id))).toBeUndefined();
  });

  it('keeps what concurrent invocations read ahead apart, and nothing after a scope ends', async () => {
    const one = aRequest();
    const two = aRequest();
    await store.createRequest(one);
    await store.createRequest(two);

    const taken = await Promise.all(
      [one, two].map((request) =>
        withReadAhead(async () => {
          await readAhead(batchRead, table.tableName, [requestKey(request.id)]);
          await new Promise((resolve) => setTimeout(resolve, 5));
          return {
            own: takeReadAhead(table.tableName, requestKey(request.id))?.id,
            other: takeReadAhead(table.tableName, requestKey(request.id === one.id ? two.id : one.id)),
          };
        }),
      ),
    );

    expect(taken).toEqual([
      { own: one.id, other: undefined },
      { own: two.id, other: undefined },
    ]);
    expect(takeReadAhead(table.tableName, requestKey(one.id))).toBeUndefined();
  });

  it('lets a conditional write on a copy that went stale lose, re-read and apply to what is there now', async () => {
    const request = aRequest();
    await store.createRequest(request);

    const { result, sent } = await operationsDuring(() =>
      withReadAhead(async () => {
        await readAhead(batchRead, table.tableName, [requestKey(request.id)]);
        // Another writer changes the request after it was read ahead.
        await new Store(table.doc, table.tableName).saveRequest({ ...request, justification: 'changed meanwhile' }, 1);
        return store.updateRequest(request.id, (current) => ({ ...current, durationMinutes: 45 }));
      }),
    );

    expect(sent).toEqual(['BatchGetItem', 'PutItem', 'PutItem', 'GetItem', 'PutItem']);
    expect(result.request).toMatchObject({ version: 3, justification: 'changed meanwhile', durationMinutes: 45 });
    expect(await store.getRequest(request.id)).toEqual(result.request);
  });
});

import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_SCHEMAS } from '#events/schemas.ts';
import { groupKey, userKey } from '#lib/directory/keys.ts';
import { type ChangeBy, DirectoryStore } from '#lib/directory/store.ts';
import { eventsFromChange, type Image } from '#lib/events/from-stream.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';

/**
 * Directory writes (DirectoryStore on dynalite) turned into audit events the way the publisher does: the item's
 * image before and after each write is one stream change.
 */
let table: LocalTable;
let store: DirectoryStore;
const admin: ChangeBy = { by: 'root', channel: 'api' };
const scim: ChangeBy = { by: 'scim', channel: 'scim' };

beforeAll(async () => {
  table = await startDynalite();
  store = new DirectoryStore(table.doc, table.tableName);
});
afterAll(async () => {
  await table.stop();
});

async function image(key: { pk: string; sk: string }): Promise<Image | undefined> {
  return (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: key }))).Item;
}

/** Runs `write` and returns the events of the stream change it made to the item at `key`. */
async function eventsOf(key: { pk: string; sk: string }, write: () => Promise<unknown>) {
  const before = await image(key);
  await write();
  const after = await image(key);
  if (after === undefined) throw new Error('the write left no item');
  return eventsFromChange(
    before === undefined
      ? { eventName: 'INSERT', newImage: after }
      : { eventName: 'MODIFY', oldImage: before, newImage: after },
  );
}

const person = (name: string) => ({ userName: `${name}@example.com`, emails: [`${name}@example.com`] });

describe('directory.user.changed', () => {
  it('records creation, account linking and deletion with who, how and what changed', async () => {
    const key = userKey('ev-bob');
    const [created] = await eventsOf(key, () => store.createUser(person('ev-bob'), scim, { id: 'ev-bob' }));
    const [linked] = await eventsOf(key, () =>
      store.linkAccount('ev-bob', { kind: 'teams', aadObjectId: '0b6d1f7e-2222-4a2b-9c3d-5e6f7a8b9c0d' }, admin),
    );
    const [deleted] = await eventsOf(key, () => store.deleteUser('ev-bob', admin));

    expect(created).toMatchObject({
      id: 'directory-user:ev-bob:1',
      type: 'directory.user.changed',
      change: 'created',
      action: 'create',
      actor: { sub: 'scim', channel: 'scim' },
      after: { id: 'ev-bob', userName: 'ev-bob@example.com', accounts: [] },
    });
    expect(created).not.toHaveProperty('before');
    expect(linked).toMatchObject({
      change: 'updated',
      action: 'link-account',
      actor: { sub: 'root', channel: 'api' },
      before: { accounts: [] },
      after: { version: 2, accounts: [{ kind: 'teams', aadObjectId: '0b6d1f7e-2222-4a2b-9c3d-5e6f7a8b9c0d' }] },
    });
    expect(deleted).toMatchObject({ change: 'deleted', action: 'delete', after: { deleted: true, version: 3 } });
    for (const event of [created, linked, deleted]) expect(EVENT_SCHEMAS['directory.user.changed'].parse(event));
  });

  it('yields nothing for a replace that changes nothing, and keeps table keys out of the event', async () => {
    const key = userKey('ev-carol');
    await store.createUser(person('ev-carol'), scim, { id: 'ev-carol' });

    const same = await eventsOf(key, () =>
      store.updateUser('ev-carol', ({ id: _i, version: _v, lastChange: _l, ...input }) => input, scim),
    );
    const [renamed] = await eventsOf(key, () =>
      store.updateUser(
        'ev-carol',
        ({ id: _i, version: _v, lastChange: _l, ...input }) => ({ ...input, displayName: 'Carol' }),
        scim,
      ),
    );

    expect(same).toEqual([]);
    expect(renamed).toMatchObject({ change: 'updated', after: { displayName: 'Carol' } });
    expect(JSON.stringify(renamed)).not.toMatch(/"(pk|sk|gsi1pk|entity)"/);
  });
});

describe('directory.group.changed', () => {
  it('says who joined and left the group with each write, and everyone left on delete', async () => {
    for (const name of ['ev-g1', 'ev-g2', 'ev-g3']) await store.createUser(person(name), scim, { id: name });
    const key = groupKey('ev-admins');

    const [created] = await eventsOf(key, () =>
      store.createGroup({ displayName: 'ev-admins', members: ['ev-g1'] }, admin, { id: 'ev-admins' }),
    );
    const [replaced] = await eventsOf(key, () =>
      store.updateGroup('ev-admins', () => ({ displayName: 'ev-admins', members: ['ev-g2', 'ev-g3'] }), admin),
    );
    const [patched] = await eventsOf(key, () => store.changeMembers('ev-admins', { remove: ['ev-g3'] }, scim));
    const [deleted] = await eventsOf(key, () => store.deleteGroup('ev-admins', admin));

    expect(created).toMatchObject({
      change: 'created',
      after: { displayName: 'ev-admins' },
      members: { added: ['ev-g1'], removed: [], addedCount: 1, removedCount: 0 },
    });
    expect(replaced).toMatchObject({
      change: 'updated',
      members: { added: ['ev-g2', 'ev-g3'], removed: ['ev-g1'], addedCount: 2, removedCount: 1 },
    });
    expect(patched).toMatchObject({
      change: 'updated',
      actor: { channel: 'scim' },
      members: { added: [], removed: ['ev-g3'] },
    });
    expect(deleted).toMatchObject({ change: 'deleted', members: { removed: ['ev-g2'], removedCount: 1 } });
  });
});

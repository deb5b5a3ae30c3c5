import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ChangeBy, DirectoryStore, UniquenessError } from '#lib/directory/store.ts';
import { NotFoundError, ValidationError } from '#lib/domain/errors.ts';
import { identityOfDirectoryUser } from '#lib/identity/resolver.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';

let table: LocalTable;
const sent: string[] = [];
const scim: ChangeBy = { by: 'scim:okta', channel: 'scim' };
let store: DirectoryStore;
let counter = 0;

beforeAll(async () => {
  table = await startDynalite();
  table.doc.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(context.commandName ?? 'unknown');
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
});
afterAll(async () => {
  await table.stop();
});
beforeEach(() => {
  store = new DirectoryStore(table.doc, table.tableName);
});

/** Unique names per test: the table is shared by the file. */
function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}-${Date.now()}`;
}

function aUser(name = unique('user')) {
  return { userName: `${name}@example.com`, emails: [`${name}@example.com`], displayName: name };
}

describe('DirectoryStore users', () => {
  it('finds a user by id, email (any case), userName and chat account', async () => {
    const input = { ...aUser(), accounts: [{ kind: 'slack' as const, teamId: 'T1', userId: unique('U') }] };
    const created = await store.createUser(input, scim);

    expect(created.version).toBe(1);
    expect(created.lastChange).toMatchObject({ by: 'scim:okta', channel: 'scim', action: 'create' });
    expect((await store.userById(created.id))?.userName).toBe(input.userName);
    expect((await store.userByEmail(input.emails[0]?.toUpperCase() ?? ''))?.id).toBe(created.id);
    expect((await store.userByUserName(input.userName.toUpperCase()))?.id).toBe(created.id);
    expect((await store.userByAccount(input.accounts[0] ?? { kind: 'jira', accountId: 'x' }))?.id).toBe(created.id);
    expect(await store.userByEmail('nobody@example.com')).toBeUndefined();
  });

  it('links a chat account once, after which the account resolves to the user', async () => {
    const created = await store.createUser(aUser(), scim);
    const account = { kind: 'slack' as const, teamId: 'T1', userId: unique('U') };
    expect(await store.userByAccount(account)).toBeUndefined();

    await store.linkAccount(created.id, account);
    const again = await store.linkAccount(created.id, account);

    expect((await store.userByAccount(account))?.id).toBe(created.id);
    expect(again.accounts).toEqual([account]);
  });

  it('refuses a second user with the same userName, whatever its case', async () => {
    const input = aUser();
    await store.createUser(input, scim);

    await expect(store.createUser({ ...aUser(), userName: input.userName.toUpperCase() }, scim)).rejects.toThrow(
      UniquenessError,
    );
  });

  it('lets exactly one of two concurrent creates with the same userName win', async () => {
    const input = aUser();
    const results = await Promise.allSettled([store.createUser(input, scim), store.createUser(input, scim)]);

    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const failed = results.find((r) => r.status === 'rejected');
    expect(failed?.status === 'rejected' && failed.reason instanceof UniquenessError).toBe(true);
  });

  it('releases an old email on change, so the old address no longer resolves and can be reused', async () => {
    const first = aUser();
    const user = await store.createUser(first, scim);
    const newEmail = `${unique('moved')}@example.com`;

    const updated = await store.updateUser(user.id, (u) => ({ ...u, emails: [newEmail] }), scim);

    expect(updated.version).toBe(2);
    expect(await store.userByEmail(first.emails[0] ?? '')).toBeUndefined();
    expect((await store.userByEmail(newEmail))?.id).toBe(user.id);
    const other = await store.createUser({ ...aUser(), emails: first.emails }, scim);
    expect((await store.userByEmail(first.emails[0] ?? ''))?.id).toBe(other.id);
  });

  it('does not resolve a stale pointer whose user no longer holds the value', async () => {
    const user = await store.createUser(aUser(), scim);
    // A pointer left behind by an interrupted write (older than a write in flight) names a user not holding the value.
    const stale = `${unique('stale')}@example.com`;
    await table.doc.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          pk: `DPTR#email#${encodeURIComponent(stale)}`,
          sk: 'PTR',
          entity: 'directory-pointer',
          targetId: user.id,
          claimedAt: new Date(Date.now() - 5 * 60_000).toISOString(),
        },
      }),
    );

    expect(await store.userByEmail(stale)).toBeUndefined();
    const claimant = await store.createUser({ ...aUser(), emails: [stale] }, scim);
    expect((await store.userByEmail(stale))?.id).toBe(claimant.id);
  });

  it('links an account to only one of two users whose links race (the first claim is still being written)', async () => {
    const [alice, bob] = [await store.createUser(aUser(), scim), await store.createUser(aUser(), scim)];
    const account = { kind: 'teams' as const, aadObjectId: crypto.randomUUID() };
    // Alice's link has claimed the account's pointer; her user item is not written yet.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let claimed: () => void = () => {};
    const pointerWritten = new Promise<void>((resolve) => {
      claimed = resolve;
    });
    const slow = {
      send: async (command: { input: { Item?: Record<string, unknown> } }) => {
        const entity = command.input.Item?.entity;
        if (command instanceof PutCommand && entity === 'directory-user') await held;
        const result = await table.doc.send(command as PutCommand);
        if (command instanceof PutCommand && entity === 'directory-pointer') claimed();
        return result;
      },
    } as unknown as typeof table.doc;
    const aliceLink = new DirectoryStore(slow, table.tableName).linkAccount(alice.id, account);
    await pointerWritten;

    const bobLink = await store.linkAccount(bob.id, account).then(
      () => 'linked',
      (error: unknown) => error,
    );
    release();
    await aliceLink;

    expect(bobLink).toBeInstanceOf(UniquenessError);
    expect((await store.userById(bob.id))?.accounts).toEqual([]);
    expect((await store.userByAccount(account))?.id).toBe(alice.id);
  });

  it('keeps both of two concurrent updates of one user (optimistic concurrency with retries)', async () => {
    const user = await store.createUser(aUser(), scim);

    await Promise.all([
      store.updateUser(user.id, (u) => ({ ...u, displayName: 'renamed' }), scim),
      store.updateUser(user.id, (u) => ({ ...u, manager: 'boss-1' }), scim),
    ]);

    const after = await store.userById(user.id);
    expect(after).toMatchObject({ displayName: 'renamed', manager: 'boss-1', version: 3 });
  });

  it('refuses an update against a stale expected version', async () => {
    const user = await store.createUser(aUser(), scim);
    await store.updateUser(user.id, (u) => ({ ...u, displayName: 'one' }), scim);

    await expect(
      store.updateUser(user.id, (u) => ({ ...u, displayName: 'two' }), scim, { expectedVersion: 1 }),
    ).rejects.toMatchObject({ status: 409, field: 'version' });
  });

  it('deletes a user softly: gone from lookups, listings and groups, its userName free again', async () => {
    const input = aUser();
    const user = await store.createUser(input, scim);
    const group = await store.createGroup({ displayName: unique('grp'), members: [user.id] }, scim);

    await store.deleteUser(user.id, scim);

    expect(await store.userById(user.id)).toBeUndefined();
    expect(await store.userByUserName(input.userName)).toBeUndefined();
    expect((await store.groupById(group.id))?.members).toEqual([]);
    const listed = await store.listUsers({ count: 100 });
    expect(listed.items.map((u) => u.id)).not.toContain(user.id);
    await expect(store.deleteUser(user.id, scim)).rejects.toThrow(NotFoundError);
    expect((await store.createUser(input, scim)).userName).toBe(input.userName);
  });

  it('continues the version of a deleted user or group created again under its id, so no change reuses a version', async () => {
    const user = await store.createUser(aUser(), scim, { id: unique('again') });
    await store.deleteUser(user.id, scim);
    const group = await store.createGroup({ displayName: unique('again'), members: [] }, scim);
    await store.deleteGroup(group.id, scim);

    const user2 = await store.createUser(aUser(), scim, { id: user.id });
    const group2 = await store.createGroup({ displayName: unique('again'), members: [] }, scim, { id: group.id });

    // Version 1 was the first creation and 2 the delete: the audit event ids (`<kind>:<id>:<version>`) stay unique.
    expect(user2).toMatchObject({ id: user.id, version: 3 });
    expect(group2).toMatchObject({ id: group.id, version: 3 });
    expect((await store.userById(user.id))?.version).toBe(3);
    expect((await store.groupById(group.id))?.version).toBe(3);
  });

  it('pages users by startIndex and count with the total', async () => {
    const local = new DirectoryStore(table.doc, table.tableName);
    const before = await local.listUsers({ count: 1 });
    for (let i = 0; i < 3; i++) await local.createUser(aUser(), scim);

    const page = await local.listUsers({ startIndex: 2, count: 2 });
    const all = await local.listUsers({ startIndex: 1, count: 100 });

    expect(page.total).toBe(before.total + 3);
    expect(page.items.map((u) => u.id)).toEqual(all.items.slice(1, 3).map((u) => u.id));
  });

  it('finds users by externalId', async () => {
    const externalId = unique('ext');
    const user = await store.createUser({ ...aUser(), externalId }, scim);

    expect((await store.usersByExternalId(externalId)).map((u) => u.id)).toEqual([user.id]);
    expect(await store.usersByExternalId('no-such')).toEqual([]);
  });
});

describe('DirectoryStore groups', () => {
  it('finds a group by id and name with its members, and the groups of a user', async () => {
    const a = await store.createUser(aUser(), scim);
    const b = await store.createUser(aUser(), scim);
    const name = unique('admins');
    const group = await store.createGroup({ displayName: name, members: [a.id, b.id] }, scim);

    expect((await store.groupById(group.id))?.members.sort()).toEqual([a.id, b.id].sort());
    expect((await store.groupByName(name))?.id).toBe(group.id);
    expect(await store.groupsOf(a.id)).toEqual([name]);
    expect((await store.membersOf(name)).map((u) => u.id).sort()).toEqual([a.id, b.id].sort());
  });

  it('leaves inactive users out of membersOf', async () => {
    const a = await store.createUser(aUser(), scim);
    const b = await store.createUser({ ...aUser(), active: false }, scim);
    const name = unique('ops');
    await store.createGroup({ displayName: name, members: [a.id, b.id] }, scim);

    expect((await store.membersOf(name)).map((u) => u.id)).toEqual([a.id]);
  });

  it('refuses a duplicate group name and an unknown member', async () => {
    const name = unique('dup');
    await store.createGroup({ displayName: name }, scim);

    await expect(store.createGroup({ displayName: name }, scim)).rejects.toThrow(UniquenessError);
    await expect(store.createGroup({ displayName: unique('x'), members: ['ghost'] }, scim)).rejects.toThrow(
      ValidationError,
    );
  });

  it('keeps every member of concurrent add patches', async () => {
    const users = await Promise.all([1, 2, 3, 4].map(() => store.createUser(aUser(), scim)));
    const group = await store.createGroup({ displayName: unique('many') }, scim);

    await Promise.all(users.map((u) => store.changeMembers(group.id, { add: [u.id] }, scim)));

    const after = await store.groupById(group.id);
    expect(after?.members.sort()).toEqual(users.map((u) => u.id).sort());
    expect(after?.version).toBe(5);
  });

  it('renames a group: the old name no longer resolves and policies see the new one', async () => {
    const user = await store.createUser(aUser(), scim);
    const old = unique('old');
    const group = await store.createGroup({ displayName: old, members: [user.id] }, scim);
    const renamed = unique('new');

    await store.updateGroup(group.id, (g) => ({ ...g, displayName: renamed }), scim);

    expect(await store.groupByName(old)).toBeUndefined();
    expect(await store.groupsOf(user.id)).toEqual([renamed]);
  });

  it('deletes a group: its members lose it', async () => {
    const user = await store.createUser(aUser(), scim);
    const group = await store.createGroup({ displayName: unique('gone'), members: [user.id] }, scim);

    await store.deleteGroup(group.id, scim);

    expect(await store.groupById(group.id)).toBeUndefined();
    expect(await store.groupsOf(user.id)).toEqual([]);
  });
});

describe('DirectoryStore access patterns', () => {
  it('reaches every access pattern without sending a Scan', async () => {
    sent.length = 0;
    const user = await store.createUser({ ...aUser(), externalId: unique('e') }, scim);
    const group = await store.createGroup({ displayName: unique('g'), members: [user.id] }, scim);
    await store.userById(user.id);
    await store.userByEmail(user.emails[0] ?? '');
    await store.userByUserName(user.userName);
    await store.userByAccount({ kind: 'jira', accountId: 'a' });
    await store.usersByExternalId(user.externalId ?? '');
    await store.listUsers({});
    await store.listGroups({});
    await store.groupByName(group.displayName);
    await store.groupsOf(user.id);
    await store.membersOf(group.displayName);
    await identityOfDirectoryUser(store, user.id);
    await store.changeMembers(group.id, { remove: [user.id] }, scim);
    await store.updateUser(user.id, (u) => ({ ...u, displayName: 'x' }), scim);
    await store.deleteGroup(group.id, scim);
    await store.deleteUser(user.id, scim);

    expect(sent.length).toBeGreaterThan(20);
    expect(sent).not.toContain(ScanCommand.name);
    expect(sent.filter((c) => c.includes('Scan'))).toEqual([]);
  });
});

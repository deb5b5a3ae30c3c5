import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChangeBy, DirectoryStore } from '#lib/directory/store.ts';
import { ForbiddenError, UnauthenticatedError } from '#lib/domain/errors.ts';
import { DeactivatedUserError, identityOfDirectoryUser, resolveIdentity } from '#lib/identity/resolver.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';

/** The one merge rule (token ∪ directory) on a real directory (dynalite). */
let table: LocalTable;
let directory: DirectoryStore;
const scim: ChangeBy = { by: 'scim:okta', channel: 'scim' };
const ODD = 'Platform Team, "EU" [ops] Zürich';

beforeAll(async () => {
  table = await startDynalite();
  directory = new DirectoryStore(table.doc, table.tableName);
  const user = (id: string, extra: Record<string, unknown> = {}) =>
    directory.createUser({ userName: `${id}@corp.example`, emails: [`${id}@corp.example`], ...extra }, scim, { id });
  await user('boss');
  await user('dora', { manager: 'boss' });
  await user('gone', { active: false });
  await user('left');
  await directory.createGroup({ displayName: 'dba', members: ['dora', 'left'] }, scim);
  await directory.createGroup({ displayName: ODD, members: ['dora'] }, scim);
  await directory.deleteUser('left', scim);
});
afterAll(async () => {
  await table.stop();
});

describe('resolveIdentity', () => {
  it('keeps what the token says about a person the directory does not know', async () => {
    const identity = await resolveIdentity(directory, {
      sub: 'stranger',
      email: 'stranger@example.com',
      groups: ['not dba'],
      manager: 'their-boss',
    });

    expect(identity).toEqual({
      sub: 'stranger',
      email: 'stranger@example.com',
      groups: ['not dba'],
      manager: 'their-boss',
    });
  });

  it('reads memberships only of an active person the directory knows (one read fewer for anyone else)', async () => {
    const asked: string[] = [];
    const counting = {
      userById: (id: string) => directory.userById(id),
      groupsOf: (id: string) => {
        asked.push(id);
        return directory.groupsOf(id);
      },
    };

    await resolveIdentity(counting, { sub: 'stranger', email: 'stranger@example.com', groups: [] });
    await resolveIdentity(counting, { sub: 'left', email: 'left@corp.example', groups: [] });
    await expect(resolveIdentity(counting, { sub: 'gone', groups: [] })).rejects.toBeInstanceOf(DeactivatedUserError);
    const dora = await resolveIdentity(counting, { sub: 'dora', groups: [] });

    expect(asked).toEqual(['dora']);
    expect(dora.groups).toContain('dba');
  });

  it("adds the directory's groups and manager to the token's, each group once", async () => {
    const identity = await resolveIdentity(directory, {
      sub: 'dora',
      email: 'dora@example.com',
      groups: ['from-token', 'dba'],
      manager: 'token-boss',
    });

    expect(identity).toEqual({
      sub: 'dora',
      email: 'dora@example.com',
      groups: ['from-token', 'dba', ODD],
      manager: 'boss',
    });
  });

  it("keeps the token's manager when the directory names none, and takes the directory's email when the token has none", async () => {
    const identity = await resolveIdentity(directory, { sub: 'boss', groups: [], manager: 'ceo' });

    expect(identity).toEqual({ sub: 'boss', email: 'boss@corp.example', groups: [], manager: 'ceo' });
  });

  it('refuses a person the directory has deactivated with 403, whatever the token says', async () => {
    const error = await resolveIdentity(directory, {
      sub: 'gone',
      email: 'gone@example.com',
      groups: ['stint-admins'],
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DeactivatedUserError);
    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error).toMatchObject({ status: 403 });
  });

  it('gives a deleted user no directory groups', async () => {
    const identity = await resolveIdentity(directory, { sub: 'left', email: 'left@example.com', groups: [] });

    expect(identity.groups).toEqual([]);
  });

  it('refuses a person with no email in the token nor in the directory as unauthenticated', async () => {
    await expect(resolveIdentity(directory, { sub: 'stranger', groups: [] })).rejects.toThrow(UnauthenticatedError);
  });

  it('refuses a group name the identity schema does not allow (empty)', async () => {
    await expect(
      resolveIdentity(directory, { sub: 'stranger', email: 's@example.com', groups: [''] }),
    ).rejects.toMatchObject({ status: 401, field: 'groups' });
  });
});

describe('identityOfDirectoryUser (chat and ticket callers)', () => {
  it('resolves an active user by the same rule: directory groups, manager and primary email', async () => {
    expect(await identityOfDirectoryUser(directory, 'dora')).toEqual({
      sub: 'dora',
      email: 'dora@corp.example',
      groups: ['dba', ODD].sort(),
      manager: 'boss',
    });
  });

  it('gives no identity to a deactivated, deleted or unknown user', async () => {
    expect(await identityOfDirectoryUser(directory, 'gone')).toBeUndefined();
    expect(await identityOfDirectoryUser(directory, 'left')).toBeUndefined();
    expect(await identityOfDirectoryUser(directory, 'nobody')).toBeUndefined();
  });
});

import { type Key, keyPart } from '#lib/store/keys.ts';
import type { ChatAccount } from './types.ts';

/**
 * Keys of the directory's items on the one table (lib/store/README.md, "Directory"):
 *
 * | item             | pk                        | sk              | gsi1                                   | gsi3                      |
 * |------------------|---------------------------|-----------------|----------------------------------------|---------------------------|
 * | directory-user   | `DUSER#<id>`              | `USER`          | `DUSERS` / `<id>` (removed on delete)  | `DEXTID#<externalId>` / `<id>` |
 * | directory-group  | `DGROUP#<id>`             | `GROUP`         | `DGROUPS` / `<id>` (removed on delete) | –                         |
 * | directory-member | `DGROUP#<groupId>`        | `MEMBER#<userId>` | `DMEMBEROF#<userId>` / `<groupId>`   | –                         |
 * | directory-pointer| `DPTR#<kind>#<value>`     | `PTR`           | –                                      | –                         |
 *
 * Pointers make unique values (userName, email, chat account, group name) a GetItem and their uniqueness a
 * conditional write; they are written before the item they point to and verified against it on read.
 */
export type PointerKind = 'username' | 'email' | 'account' | 'groupname';

export const userKey = (id: string): Key => ({ pk: `DUSER#${id}`, sk: 'USER' });
export const groupKey = (id: string): Key => ({ pk: `DGROUP#${id}`, sk: 'GROUP' });
export const memberKey = (groupId: string, userId: string): Key => ({
  pk: `DGROUP#${groupId}`,
  sk: `MEMBER#${userId}`,
});
export const USERS_PARTITION = 'DUSERS';
export const GROUPS_PARTITION = 'DGROUPS';
export const memberOfPartition = (userId: string): string => `DMEMBEROF#${userId}`;
export const externalIdPartition = (externalId: string): string => `DEXTID#${externalId}`;

/** userName and email compare case-insensitively (SCIM userName is caseExact false, RFC 7643 §4.1.1). */
export function pointerValue(kind: PointerKind, value: string): string {
  return kind === 'username' || kind === 'email' ? value.toLowerCase() : value;
}

export const pointerKey = (kind: PointerKind, value: string): Key => ({
  pk: `DPTR#${kind}#${keyPart(pointerValue(kind, value))}`,
  sk: 'PTR',
});

export function accountValue(account: ChatAccount): string {
  switch (account.kind) {
    case 'slack':
      return `slack:${account.teamId}:${account.userId}`;
    case 'teams':
      return `teams:${account.aadObjectId.toLowerCase()}`;
    case 'jira':
      return `jira:${account.accountId}`;
    case 'aws-identity-store':
      return `aws-identity-store:${account.identityStoreId}:${account.userId}`;
  }
}

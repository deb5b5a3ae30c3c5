import { accountValue } from '#lib/directory/keys.ts';
import { type ChangeBy, type DirectoryStore, UniquenessError } from '#lib/directory/store.ts';
import type { ChatAccount, DirectoryGroup, DirectoryUser } from '#lib/directory/types.ts';
import type { Channel } from '#lib/domain/common.ts';
import {
  DomainError,
  ForbiddenError,
  NotFoundError,
  PreconditionFailedError,
  ValidationError,
} from '#lib/domain/errors.ts';
import type { Identity } from '#lib/domain/identity.ts';
import type { DirectoryGroupBody, DirectoryUserBody } from '#lib/http/schemas.ts';
import { decodeCursor, encodeCursor, pageLimit } from '#lib/store/cursor.ts';
import type { Page } from '#lib/store/store.ts';
import type { Roles } from './requests.ts';

export type DirectoryAdminDeps = { directory: DirectoryStore; roles: Roles };

/** Optimistic concurrency: the version the caller last read (If-Match); absent = last writer wins. */
export type Precondition = { expectedVersion?: number };

/**
 * The identity directory as admins edit it over the API: users,
 * their linked chat accounts, and groups. Admins only, for reads too (like flows and integrations). Every write goes
 * through DirectoryStore, so it keeps the store's guarantees (unique userName/emails/accounts/group names, a version
 * and a change record `{ by, channel, action, at }` on each item, soft delete as SCIM DELETE does) and the stream
 * turns it into a `directory.*.changed` audit event.
 */
export class DirectoryAdminService {
  constructor(private readonly deps: DirectoryAdminDeps) {}

  private requireAdmin(who: Identity): void {
    if (!who.groups.includes(this.deps.roles.adminGroup)) {
      throw new ForbiddenError(`Only members of '${this.deps.roles.adminGroup}' may change or read the directory`);
    }
  }

  private change(who: Identity, channel: Channel): ChangeBy {
    return { by: who.sub, channel };
  }

  // ─── Users ──────────────────────────────────────────────────────────────────────────────────────────────

  async listUsers(
    who: Identity,
    query: { limit?: number; cursor?: string; email?: string; userName?: string },
  ): Promise<Page<DirectoryUser>> {
    this.requireAdmin(who);
    const { directory } = this.deps;
    if (query.email !== undefined || query.userName !== undefined) {
      const byEmail = query.email === undefined ? undefined : await directory.userByEmail(query.email);
      const byName = query.userName === undefined ? undefined : await directory.userByUserName(query.userName);
      // Both given: the user must match both.
      const found =
        query.email !== undefined && query.userName !== undefined
          ? byEmail?.id === byName?.id
            ? byEmail
            : undefined
          : (byEmail ?? byName);
      return { items: found === undefined ? [] : [found] };
    }
    return offsetPage('directory-users', query, (startIndex, count) => directory.listUsers({ startIndex, count }));
  }

  async getUser(id: string, who: Identity): Promise<DirectoryUser> {
    this.requireAdmin(who);
    const user = await this.deps.directory.userById(id);
    if (user === undefined) throw new NotFoundError(`No directory user '${id}'`, 'id');
    return user;
  }

  /**
   * Create or replace a user's userName, emails, displayName, manager and active flag. Linked accounts (their own
   * route), group memberships (group routes) and the IdP's externalId are kept. With a version, only a replace of
   * the user at that version (404 if absent, 409 if changed).
   */
  async putUser(
    id: string,
    body: DirectoryUserBody,
    who: Identity,
    channel: Channel,
    pre: Precondition = {},
  ): Promise<DirectoryUser> {
    this.requireAdmin(who);
    if (body.manager === id) throw new ValidationError('a user cannot be their own manager', 'body.manager');
    const { directory } = this.deps;
    const fields = {
      userName: body.userName,
      emails: [...new Set(body.emails)],
      active: body.active,
      ...(body.displayName === undefined ? {} : { displayName: body.displayName }),
      ...(body.manager === undefined ? {} : { manager: body.manager }),
    };
    return inBody(async () => {
      if (pre.expectedVersion === undefined && (await directory.userById(id)) === undefined) {
        try {
          return await directory.createUser({ ...fields, accounts: [] }, this.change(who, channel), { id });
        } catch (error) {
          // Created concurrently by someone else: replace it like any existing user.
          if (!(error instanceof UniquenessError && error.field === 'id')) throw error;
        }
      }
      return directory.updateUser(
        id,
        (current) => ({
          ...fields,
          accounts: current.accounts,
          ...(current.externalId === undefined ? {} : { externalId: current.externalId }),
        }),
        this.change(who, channel),
        { action: 'replace', ...pre },
      );
    });
  }

  /**
   * Replace the user's linked chat/ticket accounts. An account stays linked to one Stint user: one already linked to
   * someone else → 409 naming `body.accounts.<i>` (the store's pointer claim enforces it against races too).
   */
  async putAccounts(
    id: string,
    accounts: ChatAccount[],
    who: Identity,
    channel: Channel,
    pre: Precondition = {},
  ): Promise<DirectoryUser> {
    this.requireAdmin(who);
    const { directory } = this.deps;
    const values = accounts.map(accountValue);
    for (const [i, value] of values.entries()) {
      if (values.indexOf(value) !== i) throw new ValidationError('this account is listed twice', `body.accounts.${i}`);
    }
    for (const [i, account] of accounts.entries()) {
      const holder = await directory.userByAccount(account);
      if (holder !== undefined && holder.id !== id) {
        throw new UniquenessError(
          `this ${account.kind} account is already linked to another user ('${holder.id}')`,
          `body.accounts.${i}`,
        );
      }
    }
    return inBody(() =>
      directory.updateUser(
        id,
        (current) => {
          const { id: _id, version: _version, lastChange: _lastChange, ...input } = current;
          return { ...input, accounts };
        },
        this.change(who, channel),
        { action: 'link-accounts', ...pre },
      ),
    );
  }

  /** As SCIM DELETE: a soft delete; the user leaves every lookup and group and releases their unique values. */
  async deleteUser(id: string, who: Identity, channel: Channel, pre: Precondition = {}): Promise<void> {
    this.requireAdmin(who);
    await this.checkVersion(pre, () => this.deps.directory.userById(id), `user '${id}'`);
    await this.deps.directory.deleteUser(id, this.change(who, channel));
  }

  // ─── Groups ─────────────────────────────────────────────────────────────────────────────────────────────

  async listGroups(
    who: Identity,
    query: { limit?: number; cursor?: string; displayName?: string },
  ): Promise<Page<DirectoryGroup>> {
    this.requireAdmin(who);
    const { directory } = this.deps;
    if (query.displayName !== undefined) {
      const group = await directory.groupByName(query.displayName);
      return { items: group === undefined ? [] : [group] };
    }
    return offsetPage('directory-groups', query, (startIndex, count) => directory.listGroups({ startIndex, count }));
  }

  async getGroup(id: string, who: Identity): Promise<DirectoryGroup> {
    this.requireAdmin(who);
    const group = await this.deps.directory.groupById(id);
    if (group === undefined) throw new NotFoundError(`No directory group '${id}'`, 'id');
    return group;
  }

  /** Create or replace a group's name and complete member list (members must be directory users). */
  async putGroup(
    id: string,
    body: DirectoryGroupBody,
    who: Identity,
    channel: Channel,
    pre: Precondition = {},
  ): Promise<DirectoryGroup> {
    this.requireAdmin(who);
    const { directory } = this.deps;
    const fields = { displayName: body.displayName, members: [...new Set(body.members)] };
    return inBody(async () => {
      if (pre.expectedVersion === undefined && (await directory.groupById(id)) === undefined) {
        try {
          return await directory.createGroup(fields, this.change(who, channel), { id });
        } catch (error) {
          if (!(error instanceof UniquenessError && error.field === 'id')) throw error;
        }
      }
      return directory.updateGroup(
        id,
        (current) => ({ ...fields, ...(current.externalId === undefined ? {} : { externalId: current.externalId }) }),
        this.change(who, channel),
        pre,
      );
    });
  }

  async deleteGroup(id: string, who: Identity, channel: Channel, pre: Precondition = {}): Promise<void> {
    this.requireAdmin(who);
    await this.checkVersion(pre, () => this.deps.directory.groupById(id), `group '${id}'`);
    await this.deps.directory.deleteGroup(id, this.change(who, channel));
  }

  /**
   * If-Match on DELETE: refuse when the item is no longer at the version the caller read. The store's delete is
   * itself conditioned on the version it reads, so a change between this check and the delete is still recorded
   * in order; the check only stops a delete based on a stale read.
   */
  private async checkVersion(
    pre: Precondition,
    read: () => Promise<{ version: number } | undefined>,
    what: string,
  ): Promise<void> {
    if (pre.expectedVersion === undefined) return;
    const current = await read();
    if (current === undefined) throw new NotFoundError(`No directory ${what}`, 'id');
    if (current.version !== pre.expectedVersion) {
      throw new VersionMismatchError(`${what} is at version ${current.version}, not ${pre.expectedVersion}`);
    }
  }
}

/** If-Match names a version the item is no longer at (RFC 9110 §13.1.1). */
export class VersionMismatchError extends PreconditionFailedError {}

/** Store errors name the item's fields (`emails.0`, `userName`); the caller sent them in the body. */
async function inBody<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof UniquenessError && error.field !== undefined && error.field !== 'id')
      throw new UniquenessError(error.message, `body.${error.field}`);
    if (error instanceof ValidationError && error.field !== undefined && !error.field.startsWith('body.'))
      throw new ValidationError(
        error.message,
        `body.${error.field}`,
        error.issues.map((issue) => ({ ...issue, path: `body.${issue.path}` })),
      );
    if (error instanceof DomainError && error.field === 'version' && error.status === 409)
      throw new VersionMismatchError(error.message);
    throw error;
  }
}

/** The store pages directory listings by offset (as SCIM does); the cursor carries the next 1-based index. */
async function offsetPage<T>(
  kind: string,
  query: { limit?: number; cursor?: string },
  read: (startIndex: number, count: number) => Promise<{ items: T[]; total: number }>,
): Promise<Page<T>> {
  const limit = pageLimit(query.limit);
  const { p } = decodeCursor(kind, query.cursor);
  const startIndex = p === undefined ? 1 : Number(p);
  if (!Number.isSafeInteger(startIndex) || startIndex < 1)
    throw new ValidationError('cursor is not valid for this listing', 'cursor');
  const page = await read(startIndex, limit);
  const next = startIndex + page.items.length;
  return {
    items: page.items,
    ...(page.items.length === limit && next <= page.total
      ? { cursor: encodeCursor({ k: kind, p: String(next) }) }
      : {}),
  };
}

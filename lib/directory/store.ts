import {
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import * as z from 'zod';
import type { ChangeRecord, Channel } from '#lib/domain/common.ts';
import { ConflictError, NotFoundError, ValidationError } from '#lib/domain/errors.ts';
import { SYSTEM_SUBJECT } from '#lib/domain/identity.ts';
import type { Key } from '#lib/store/keys.ts';
import { batchGet, type Item } from '#lib/store/query.ts';
import { readAhead, takeReadAhead } from '#lib/store/read-ahead.ts';
import { VersionConflictError } from '#lib/store/store.ts';
import { KEY_ATTRIBUTES } from '#lib/store/table.ts';
import {
  accountValue,
  externalIdPartition,
  GROUPS_PARTITION,
  groupKey,
  memberKey,
  memberOfPartition,
  type PointerKind,
  pointerKey,
  pointerValue,
  USERS_PARTITION,
  userKey,
} from './keys.ts';
import { type ChatAccount, type Directory, DirectoryGroup, DirectoryUser } from './types.ts';

/** What a caller writes for a user: everything but the id, version and change record. */
export const DirectoryUserInput = DirectoryUser.omit({ id: true, version: true, lastChange: true });
export type DirectoryUserInput = z.input<typeof DirectoryUserInput>;

/** What a caller writes for a group (members are subjects of existing users). */
export const DirectoryGroupInput = DirectoryGroup.omit({ id: true, version: true, lastChange: true });
export type DirectoryGroupInput = z.input<typeof DirectoryGroupInput>;

/** Who makes a change, through which channel (`scim` or `admin`) and why; the store adds the action and time. */
export type ChangeBy = { by: string; channel: Channel; reason?: string };

export type Listing<T> = { items: T[]; total: number };

/** A fresh pointer to an item not yet written is assumed to be a write in flight for this long. */
const CLAIM_IN_FLIGHT_MS = 60_000;
/** Deleted users and groups stay (soft-deleted, so the change is recorded) this long, then TTL removes them. */
const DELETED_TTL_DAYS = 30;
const UPDATE_ATTEMPTS = 5;
/** Most members a group can hold (DirectoryGroup.members). */
const MAX_MEMBERS = 10_000;
const KEY_SET = new Set<string>([...KEY_ATTRIBUTES, 'deleted']);

const Pointer = z.object({ targetId: z.string().min(1), claimedAt: z.string().min(1) });
const Membership = z.object({ groupId: z.string().min(1), userId: z.string().min(1) });

function isConditionalFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

function parseItem<T>(schema: z.ZodType<T>, item: Item): T {
  const fields: Item = {};
  for (const [name, value] of Object.entries(item)) if (!KEY_SET.has(name)) fields[name] = value;
  const parsed = schema.safeParse(fields);
  if (!parsed.success) {
    const paths = parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
    throw new Error(`stored item ${String(item.pk)} does not match its schema at: ${paths}`);
  }
  return parsed.data;
}

function validated<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  throw new ValidationError(
    `invalid ${what}: ${issues[0]?.path ?? ''} ${issues[0]?.message ?? ''}`.trim(),
    issues[0]?.path || undefined,
    issues,
  );
}

/** A unique value (userName, email, chat account, group name) is already held by another user or group. */
export class UniquenessError extends ConflictError {}

/**
 * The identity directory on the one table (keys in ./keys.ts). Every read is GetItem, BatchGetItem or Query; every
 * write is a conditional single-item write or an idempotent batch of secondary items (pointers, memberships).
 * Users and groups carry `version` (writes are conditioned on it) and `lastChange`; a delete is a soft delete
 * (`deleted: true`, out of every listing and lookup, removed by TTL), so the change stays on record.
 */
export class DirectoryStore implements Directory {
  private readonly now: () => Date;
  private readonly newId: () => string;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: { now?: () => Date; newId?: () => string } = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.newId = options.newId ?? (() => ulid());
  }

  // ─── Directory (read side used by channels and policies) ──────────────────────────────────────────────

  /**
   * Reads the user item of `id` and `also` (items the caller's route reads first) in one BatchGetItem into the
   * invocation's read-ahead scope (lib/store/read-ahead.ts); the next userById(id) and the store's first read of each
   * of `also` are answered from it.
   */
  async readAheadWithUser(id: string, also: readonly Key[]): Promise<void> {
    await readAhead((keys) => batchGet(this.doc, this.tableName, keys), this.tableName, [userKey(id), ...also]);
  }

  async userById(id: string): Promise<DirectoryUser | undefined> {
    const item = await this.getItem(userKey(id));
    if (item === undefined || item.deleted === true) return undefined;
    return parseItem(DirectoryUser, item);
  }

  async userByEmail(email: string): Promise<DirectoryUser | undefined> {
    const wanted = email.toLowerCase();
    return this.userByPointer('email', email, (u) => u.emails.some((e) => e.toLowerCase() === wanted));
  }

  async userByAccount(account: ChatAccount): Promise<DirectoryUser | undefined> {
    const wanted = accountValue(account);
    return this.userByPointer('account', wanted, (u) => u.accounts.some((a) => accountValue(a) === wanted));
  }

  /** SCIM `filter=userName eq "…"`: one GetItem on the pointer and one on the user. */
  async userByUserName(userName: string): Promise<DirectoryUser | undefined> {
    const wanted = userName.toLowerCase();
    return this.userByPointer('username', userName, (u) => u.userName.toLowerCase() === wanted);
  }

  /** SCIM `filter=externalId eq "…"`: Query gsi3 `DEXTID#<externalId>` (not unique: the IdP's value). */
  async usersByExternalId(externalId: string): Promise<DirectoryUser[]> {
    const items = await this.queryAll({ index: 'gsi3', pkName: 'gsi3pk', pk: externalIdPartition(externalId) });
    const users = items.filter((i) => i.deleted !== true).map((i) => parseItem(DirectoryUser, i));
    // The index is eventually consistent: re-read each by id.
    const fresh = await Promise.all(users.map((u) => this.userById(u.id)));
    return fresh.filter((u): u is DirectoryUser => u !== undefined && u.externalId === externalId);
  }

  async groupsOf(userId: string): Promise<string[]> {
    const groups = await this.groupRecordsOf(userId);
    return groups.map((g) => g.displayName).sort();
  }

  async membersOf(groupName: string): Promise<DirectoryUser[]> {
    const group = await this.groupByName(groupName);
    if (group === undefined) return [];
    const items = await batchGet(this.doc, this.tableName, group.members.map(userKey));
    return items
      .filter((i) => i.deleted !== true)
      .map((i) => parseItem(DirectoryUser, i))
      .filter((u) => u.active)
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  // ─── Users ──────────────────────────────────────────────────────────────────────────────────────────────

  /** Users by id, `startIndex` 1-based (SCIM paging); `total` counts every live user. */
  async listUsers(options: { startIndex?: number; count?: number } = {}): Promise<Listing<DirectoryUser>> {
    return this.listPartition(USERS_PARTITION, DirectoryUser, options);
  }

  /**
   * Creates a user. `id` defaults to a new ULID; pass the IdP subject (the JWT `sub`) when it is known, so the
   * directory entry and the token name the same person. Unique values are claimed first → UniquenessError.
   */
  async createUser(input: DirectoryUserInput, change: ChangeBy, options: { id?: string } = {}): Promise<DirectoryUser> {
    const id = options.id ?? this.newId();
    const at = this.now().toISOString();
    const existing = await this.getItem(userKey(id));
    if (existing !== undefined && existing.deleted !== true)
      throw new UniquenessError(`user ${id} already exists`, 'id');
    const user = validated(
      DirectoryUser,
      { ...input, id, version: nextVersion(existing), lastChange: this.change(change, 'create', at) },
      'user',
    );
    await this.claimAll(this.userClaims(user), id);
    await this.putUser(user, existing === undefined ? { absent: true } : { version: Number(existing.version) });
    return user;
  }

  /** Read, mutate, write conditioned on the version read; retried on a concurrent change. null = no change. */
  async updateUser(
    id: string,
    mutate: (current: DirectoryUser) => DirectoryUserInput | null,
    change: ChangeBy,
    options: { expectedVersion?: number; action?: string } = {},
  ): Promise<DirectoryUser> {
    for (let attempt = 1; attempt <= UPDATE_ATTEMPTS; attempt++) {
      const current = await this.userById(id);
      if (current === undefined) throw new NotFoundError(`user ${id} not found`, 'id');
      if (options.expectedVersion !== undefined && options.expectedVersion !== current.version)
        throw new VersionConflictError(`user ${id} is at version ${current.version}`, 'version');
      const input = mutate(current);
      if (input === null) return current;
      const next = validated(
        DirectoryUser,
        {
          ...input,
          id,
          version: current.version + 1,
          lastChange: this.change(change, options.action ?? 'update', this.now().toISOString()),
        },
        'user',
      );
      const before = this.userClaims(current);
      const after = this.userClaims(next);
      await this.claimAll(after, id);
      try {
        await this.putUser(next, { version: current.version });
      } catch (error) {
        if (error instanceof VersionConflictError && options.expectedVersion === undefined) continue;
        throw error;
      }
      await this.releaseAll(difference(before, after), id);
      return next;
    }
    throw new ConflictError(`user ${id} kept changing concurrently`, 'id');
  }

  /** Soft delete: the user leaves every lookup and group; its unique values are released. */
  /**
   * Links a chat account to a user once the channel has proven who they are (e.g. Slack's profile email matched
   * the directory), so the next callback resolves by account. Idempotent; the account stays unique.
   */
  async linkAccount(
    userId: string,
    account: ChatAccount,
    change: ChangeBy = { by: SYSTEM_SUBJECT, channel: 'admin' },
  ): Promise<DirectoryUser> {
    const value = accountValue(account);
    return this.updateUser(
      userId,
      (current) => {
        if (current.accounts.some((a) => accountValue(a) === value)) return null;
        const { id: _id, version: _version, lastChange: _lastChange, ...input } = current;
        return { ...input, accounts: [...current.accounts, account] };
      },
      change,
      { action: 'link-account' },
    );
  }

  async deleteUser(id: string, change: ChangeBy): Promise<void> {
    for (let attempt = 1; attempt <= UPDATE_ATTEMPTS; attempt++) {
      const current = await this.userById(id);
      if (current === undefined) throw new NotFoundError(`user ${id} not found`, 'id');
      const at = this.now();
      const gone = {
        ...current,
        version: current.version + 1,
        lastChange: this.change(change, 'delete', at.toISOString()),
      };
      try {
        await this.conditionalPut(
          { ...gone, ...userKey(id), entity: 'directory-user', deleted: true, ttl: this.deletedTtl(at) },
          { version: current.version },
          `user ${id}`,
        );
      } catch (error) {
        if (error instanceof VersionConflictError) continue;
        throw error;
      }
      await this.releaseAll(this.userClaims(current), id);
      const memberships = await this.queryAll({ index: 'gsi1', pkName: 'gsi1pk', pk: memberOfPartition(id) });
      await this.batchDelete(memberships.map((m) => memberKey(String(m.groupId), id)));
      return;
    }
    throw new ConflictError(`user ${id} kept changing concurrently`, 'id');
  }

  // ─── Groups ─────────────────────────────────────────────────────────────────────────────────────────────

  async groupById(id: string): Promise<DirectoryGroup | undefined> {
    const item = await this.getItem(groupKey(id));
    if (item === undefined || item.deleted === true) return undefined;
    return parseItem(DirectoryGroup, { ...item, members: await this.memberIds(id) });
  }

  async groupByName(displayName: string): Promise<DirectoryGroup | undefined> {
    const pointer = await this.getItem(pointerKey('groupname', displayName));
    if (pointer === undefined) return undefined;
    const { targetId } = Pointer.parse(pointer);
    const group = await this.groupById(targetId);
    return group?.displayName === displayName ? group : undefined;
  }

  /** Groups by id, `startIndex` 1-based; `members: false` skips reading memberships (SCIM excludedAttributes). */
  async listGroups(
    options: { startIndex?: number; count?: number; members?: boolean } = {},
  ): Promise<Listing<DirectoryGroup>> {
    const page = await this.listPartition(GROUPS_PARTITION, DirectoryGroup, options);
    if (options.members === false) return page;
    const items = await Promise.all(page.items.map(async (g) => ({ ...g, members: await this.memberIds(g.id) })));
    return { items, total: page.total };
  }

  async createGroup(
    input: DirectoryGroupInput,
    change: ChangeBy,
    options: { id?: string } = {},
  ): Promise<DirectoryGroup> {
    const id = options.id ?? this.newId();
    const at = this.now().toISOString();
    const existing = await this.getItem(groupKey(id));
    const group = validated(
      DirectoryGroup,
      { ...input, id, version: nextVersion(existing), lastChange: this.change(change, 'create', at) },
      'group',
    );
    const members = [...new Set(group.members)];
    await this.requireUsers(members);
    if (existing !== undefined && existing.deleted !== true)
      throw new UniquenessError(`group ${id} already exists`, 'id');
    await this.claimAll([['groupname', group.displayName]], id);
    await this.putGroup(
      group,
      existing === undefined ? { absent: true } : { version: Number(existing.version) },
      memberChange(members, []),
    );
    await this.writeMemberships(id, members, [], group.lastChange);
    return { ...group, members };
  }

  /** Replace a group's name, externalId and members (SCIM PUT, or a PATCH computed on the current group). */
  async updateGroup(
    id: string,
    mutate: (current: DirectoryGroup) => DirectoryGroupInput | null,
    change: ChangeBy,
    options: { expectedVersion?: number; delta?: { add: string[]; remove: string[] } } = {},
  ): Promise<DirectoryGroup> {
    for (let attempt = 1; attempt <= UPDATE_ATTEMPTS; attempt++) {
      const current = await this.groupById(id);
      if (current === undefined) throw new NotFoundError(`group ${id} not found`, 'id');
      if (options.expectedVersion !== undefined && options.expectedVersion !== current.version)
        throw new VersionConflictError(`group ${id} is at version ${current.version}`, 'version');
      const input = mutate(current);
      if (input === null) return current;
      const next = validated(
        DirectoryGroup,
        {
          ...input,
          id,
          version: current.version + 1,
          lastChange: this.change(change, 'update', this.now().toISOString()),
        },
        'group',
      );
      const members = [...new Set(next.members)];
      const added = members.filter((m) => !current.members.includes(m));
      const removed = current.members.filter((m) => !members.includes(m));
      await this.requireUsers(added);
      await this.claimAll([['groupname', next.displayName]], id);
      try {
        const recorded = options.delta ?? { add: added, remove: removed };
        await this.putGroup(next, { version: current.version }, memberChange(recorded.add, recorded.remove));
      } catch (error) {
        if (error instanceof VersionConflictError && options.expectedVersion === undefined) continue;
        throw error;
      }
      if (next.displayName !== current.displayName) await this.releaseAll([['groupname', current.displayName]], id);
      await this.writeMemberships(id, added, removed, next.lastChange);
      return { ...next, members };
    }
    throw new ConflictError(`group ${id} kept changing concurrently`, 'id');
  }

  /**
   * Adds and removes members without re-reading the whole membership (SCIM PATCH add/remove members): each
   * membership item is written or deleted idempotently, so concurrent patches never lose each other's changes;
   * the group's version is bumped with the change record.
   */
  async changeMembers(
    id: string,
    delta: { add?: string[]; remove?: string[] },
    change: ChangeBy,
  ): Promise<DirectoryGroup> {
    const add = [...new Set(delta.add ?? [])];
    const remove = [...new Set(delta.remove ?? [])].filter((m) => !add.includes(m));
    await this.requireUsers(add);
    const updated = await this.updateGroup(
      id,
      (current) => ({ displayName: current.displayName, externalId: current.externalId, members: current.members }),
      change,
      { delta: { add, remove } },
    );
    // updateGroup above wrote the version and change record with the members it read; now apply the delta itself.
    await this.writeMemberships(id, add, remove, updated.lastChange);
    const members = await this.memberIds(id);
    if (members.length > MAX_MEMBERS)
      throw new ValidationError(`a group holds at most ${MAX_MEMBERS} members`, 'members');
    return { ...updated, members };
  }

  async deleteGroup(id: string, change: ChangeBy): Promise<void> {
    for (let attempt = 1; attempt <= UPDATE_ATTEMPTS; attempt++) {
      const current = await this.groupById(id);
      if (current === undefined) throw new NotFoundError(`group ${id} not found`, 'id');
      const at = this.now();
      const { members: _members, ...fields } = current;
      try {
        await this.conditionalPut(
          {
            ...fields,
            version: current.version + 1,
            lastChange: this.change(change, 'delete', at.toISOString()),
            ...groupKey(id),
            entity: 'directory-group',
            memberChange: memberChange([], current.members),
            deleted: true,
            ttl: this.deletedTtl(at),
          },
          { version: current.version },
          `group ${id}`,
        );
      } catch (error) {
        if (error instanceof VersionConflictError) continue;
        throw error;
      }
      await this.releaseAll([['groupname', current.displayName]], id);
      await this.batchDelete(current.members.map((m) => memberKey(id, m)));
      return;
    }
    throw new ConflictError(`group ${id} kept changing concurrently`, 'id');
  }

  /** Subjects of a group's members (Query `DGROUP#<id>` sort keys from `MEMBER#`). */
  async memberIds(groupId: string): Promise<string[]> {
    const items = await this.queryAll({ pkName: 'pk', pk: groupKey(groupId).pk, skPrefix: 'MEMBER#' });
    return items.map((i) => Membership.parse(i).userId);
  }

  // ─── Internals ──────────────────────────────────────────────────────────────────────────────────────────

  private change(change: ChangeBy, action: string, at: string): ChangeRecord {
    return {
      by: change.by,
      channel: change.channel,
      action,
      at,
      ...(change.reason === undefined ? {} : { reason: change.reason }),
    };
  }

  private deletedTtl(at: Date): number {
    return Math.floor(at.getTime() / 1000) + DELETED_TTL_DAYS * 86_400;
  }

  private userClaims(user: DirectoryUser): [PointerKind, string][] {
    return [
      ['username', user.userName],
      ...user.emails.map((e): [PointerKind, string] => ['email', e]),
      ...user.accounts.map((a): [PointerKind, string] => ['account', accountValue(a)]),
    ];
  }

  private async groupRecordsOf(userId: string): Promise<DirectoryGroup[]> {
    const memberships = await this.queryAll({ index: 'gsi1', pkName: 'gsi1pk', pk: memberOfPartition(userId) });
    const ids = memberships.map((m) => Membership.parse(m).groupId);
    const items = await batchGet(this.doc, this.tableName, ids.map(groupKey));
    return items.filter((i) => i.deleted !== true).map((i) => parseItem(DirectoryGroup, i));
  }

  private async userByPointer(
    kind: PointerKind,
    value: string,
    holds: (user: DirectoryUser) => boolean,
  ): Promise<DirectoryUser | undefined> {
    const pointer = await this.getItem(pointerKey(kind, value));
    if (pointer === undefined) return undefined;
    const user = await this.userById(Pointer.parse(pointer).targetId);
    // A pointer is only a hint: it may outlive a change of the value or lead a write that never finished.
    return user !== undefined && holds(user) ? user : undefined;
  }

  /** Does the user or group `targetId` still hold this unique value? */
  private async holds(kind: PointerKind, value: string, targetId: string): Promise<'yes' | 'no' | 'absent'> {
    const wanted = pointerValue(kind, value);
    if (kind === 'groupname') {
      const item = await this.getItem(groupKey(targetId));
      if (item === undefined) return 'absent';
      return item.deleted !== true && item.displayName === value ? 'yes' : 'no';
    }
    const item = await this.getItem(userKey(targetId));
    if (item === undefined) return 'absent';
    if (item.deleted === true) return 'no';
    const user = parseItem(DirectoryUser, item);
    const values = this.userClaims(user)
      .filter(([k]) => k === kind)
      .map(([k, v]) => pointerValue(k, v));
    return values.includes(wanted) ? 'yes' : 'no';
  }

  /**
   * Claims each unique value for `owner`: a conditional put that succeeds when the pointer is free or already
   * ours. A pointer held by someone who no longer holds the value (or by a write that never finished) is taken
   * over once older than CLAIM_IN_FLIGHT_MS, conditioned on it being unchanged since read. Otherwise UniquenessError naming the value's kind.
   */
  private async claimAll(claims: [PointerKind, string][], owner: string): Promise<void> {
    for (const [kind, value] of claims) await this.claim(kind, value, owner);
  }

  private async claim(kind: PointerKind, value: string, owner: string): Promise<void> {
    const key = pointerKey(kind, value);
    const item = {
      ...key,
      entity: 'directory-pointer',
      kind,
      value: pointerValue(kind, value),
      targetId: owner,
      claimedAt: this.now().toISOString(),
    };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk) OR targetId = :owner',
          ExpressionAttributeValues: { ':owner': owner },
        }),
      );
      return;
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
    }
    const taken = () => new UniquenessError(`${FIELD_NAMES[kind]} '${value}' is already in use`, FIELD_NAMES[kind]);
    const existing = await this.getItem(key);
    if (existing === undefined) return this.claim(kind, value, owner);
    const pointer = Pointer.parse(existing);
    if (pointer.targetId === owner) return;
    const holder = await this.holds(kind, value, pointer.targetId);
    // A fresh claim is a write in flight whether its user or group is new ('absent') or being updated ('no': the
    // claim is written before the item), so it is never taken over: two writers cannot both end up holding the value.
    const inFlight = holder !== 'yes' && this.now().getTime() - Date.parse(pointer.claimedAt) < CLAIM_IN_FLIGHT_MS;
    if (holder === 'yes' || inFlight) throw taken();
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: 'targetId = :previous AND claimedAt = :claimedAt',
          ExpressionAttributeValues: { ':previous': pointer.targetId, ':claimedAt': pointer.claimedAt },
        }),
      );
    } catch (error) {
      if (isConditionalFailure(error)) throw taken();
      throw error;
    }
  }

  /** Deletes pointers still held by `owner` (a value it gave up); someone else's claim is left alone. */
  private async releaseAll(claims: [PointerKind, string][], owner: string): Promise<void> {
    for (const [kind, value] of claims) {
      try {
        await this.doc.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: pointerKey(kind, value),
            ConditionExpression: 'targetId = :owner',
            ExpressionAttributeValues: { ':owner': owner },
          }),
        );
      } catch (error) {
        if (!isConditionalFailure(error)) throw error;
      }
    }
  }

  private async requireUsers(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const items = await batchGet(this.doc, this.tableName, ids.map(userKey));
    const found = new Set(items.filter((i) => i.deleted !== true).map((i) => String(i.id)));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length > 0) throw new ValidationError(`unknown member: ${missing.slice(0, 5).join(', ')}`, 'members');
  }

  private async putUser(user: DirectoryUser, condition: { absent: true } | { version: number }): Promise<void> {
    const item: Item = {
      ...user,
      ...userKey(user.id),
      entity: 'directory-user',
      gsi1pk: USERS_PARTITION,
      gsi1sk: user.id,
      ...(user.externalId === undefined ? {} : { gsi3pk: externalIdPartition(user.externalId), gsi3sk: user.id }),
    };
    await this.conditionalPut(item, condition, `user ${user.id}`);
  }

  private async putGroup(
    group: DirectoryGroup,
    condition: { absent: true } | { version: number },
    change: MemberChange,
  ): Promise<void> {
    const { members: _members, ...fields } = group;
    const item: Item = {
      ...fields,
      memberChange: change,
      ...groupKey(group.id),
      entity: 'directory-group',
      gsi1pk: GROUPS_PARTITION,
      gsi1sk: group.id,
    };
    await this.conditionalPut(item, condition, `group ${group.id}`);
  }

  private async conditionalPut(
    item: Item,
    condition: { absent: true } | { version: number },
    what: string,
  ): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ...('absent' in condition
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: '#version = :expected',
                ExpressionAttributeNames: { '#version': 'version' },
                ExpressionAttributeValues: { ':expected': condition.version },
              }),
        }),
      );
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
      if ('absent' in condition) throw new UniquenessError(`${what} already exists`, 'id');
      throw new VersionConflictError(`${what} is no longer at version ${condition.version}`, 'version');
    }
  }

  private async writeMemberships(
    groupId: string,
    add: string[],
    remove: string[],
    lastChange: ChangeRecord,
  ): Promise<void> {
    const puts = add.map((userId) => ({
      PutRequest: {
        Item: {
          ...memberKey(groupId, userId),
          entity: 'directory-member',
          gsi1pk: memberOfPartition(userId),
          gsi1sk: groupId,
          groupId,
          userId,
          lastChange,
        },
      },
    }));
    const deletes = remove.map((userId) => ({ DeleteRequest: { Key: memberKey(groupId, userId) } }));
    await this.batchWrite([...puts, ...deletes]);
  }

  private async batchDelete(keys: { pk: string; sk: string }[]): Promise<void> {
    await this.batchWrite(keys.map((Key) => ({ DeleteRequest: { Key } })));
  }

  private async batchWrite(requests: WriteRequest[]): Promise<void> {
    for (let i = 0; i < requests.length; i += 25) {
      let pending: typeof requests = requests.slice(i, i + 25);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) {
          if (attempt > 8) throw new Error(`BatchWriteItem left ${pending.length} requests unprocessed after retries`);
          await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
        }
        const result = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }));
        pending = (result.UnprocessedItems?.[this.tableName] ?? []).flatMap((w): WriteRequest[] => {
          if (w.PutRequest?.Item !== undefined) return [{ PutRequest: { Item: w.PutRequest.Item } }];
          if (w.DeleteRequest?.Key !== undefined) return [{ DeleteRequest: { Key: w.DeleteRequest.Key } }];
          return [];
        });
      }
    }
  }

  private async getItem(key: { pk: string; sk: string }): Promise<Item | undefined> {
    // The caller's entry, read ahead with the route's first items (lib/store/read-ahead.ts)?
    const ahead = takeReadAhead(this.tableName, key);
    if (ahead !== undefined) return ahead ?? undefined;
    const result = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return result.Item;
  }

  /** Every item of one partition (table or GSI), in sort-key order, optionally under a sort-key prefix. */
  private async queryAll(spec: { index?: string; pkName: string; pk: string; skPrefix?: string }): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const result = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          ...(spec.index === undefined ? { ConsistentRead: true } : { IndexName: spec.index }),
          KeyConditionExpression: spec.skPrefix === undefined ? '#pk = :pk' : '#pk = :pk AND begins_with(#sk, :prefix)',
          ExpressionAttributeNames: { '#pk': spec.pkName, ...(spec.skPrefix === undefined ? {} : { '#sk': 'sk' }) },
          ExpressionAttributeValues: {
            ':pk': spec.pk,
            ...(spec.skPrefix === undefined ? {} : { ':prefix': spec.skPrefix }),
          },
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      items.push(...(result.Items ?? []));
      start = result.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }

  /**
   * One page of a gsi1 listing partition by offset (SCIM startIndex/count). Skipping costs reads proportional to
   * startIndex, which is how SCIM paging is defined; clients page by 100 and usually filter instead.
   */
  private async listPartition<T>(
    partition: string,
    schema: z.ZodType<T>,
    options: { startIndex?: number; count?: number },
  ): Promise<Listing<T>> {
    const startIndex = Math.max(1, Math.floor(options.startIndex ?? 1));
    const count = Math.min(100, Math.max(0, Math.floor(options.count ?? 100)));
    let total = 0;
    const items: T[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const result = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :pk',
          ExpressionAttributeValues: { ':pk': partition },
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      for (const item of result.Items ?? []) {
        total += 1;
        if (total >= startIndex && items.length < count) items.push(parseItem(schema, item));
      }
      start = result.LastEvaluatedKey;
    } while (start !== undefined);
    return { items, total };
  }
}

/**
 * The version of a created user or group: 1, or one past a soft-deleted predecessor under the same id, so a re-created
 * item never repeats a version (its audit event id `<kind>:<id>:<version>` would repeat the first creation's).
 */
function nextVersion(existing: Item | undefined): number {
  return existing === undefined ? 1 : Number(existing.version) + 1;
}

type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } };

const FIELD_NAMES: Record<PointerKind, string> = {
  username: 'userName',
  email: 'emails',
  account: 'accounts',
  groupname: 'displayName',
};

/**
 * The membership change a group write made, kept on the group item so its stream record (and audit event) says who
 * joined and left; lists are capped so the item and the event stay small, with the full counts beside them.
 */
export const MEMBER_CHANGE_LIST_MAX = 100;
export type MemberChange = { added: string[]; removed: string[]; addedCount: number; removedCount: number };

function memberChange(added: string[], removed: string[]): MemberChange {
  return {
    added: added.slice(0, MEMBER_CHANGE_LIST_MAX),
    removed: removed.slice(0, MEMBER_CHANGE_LIST_MAX),
    addedCount: added.length,
    removedCount: removed.length,
  };
}

function difference(before: [PointerKind, string][], after: [PointerKind, string][]): [PointerKind, string][] {
  const kept = new Set(after.map(([k, v]) => `${k}\u0000${pointerValue(k, v)}`));
  return before.filter(([k, v]) => !kept.has(`${k}\u0000${pointerValue(k, v)}`));
}

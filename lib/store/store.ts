import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type * as z from 'zod';
import {
  approverKeys,
  approverStanding,
  type OnCallAnswer,
  onCallAnswersByKey,
  shiftOf,
} from '#lib/domain/approvals.ts';
import { Bundle, type BundleInput } from '#lib/domain/bundle.ts';
import type { ChangeRecord } from '#lib/domain/common.ts';
import { ConflictError, type CurrentVersion, NotFoundError, ValidationError } from '#lib/domain/errors.ts';
import { AccessFlow, type FlowInput } from '#lib/domain/flow.ts';
import type { Identity } from '#lib/domain/identity.ts';
import { Integration, type IntegrationInput } from '#lib/domain/integration.ts';
import { AccessRequest, Lease, type RequestStatus } from '#lib/domain/request.ts';
import { decodeCursor, encodeCursor, pageLimit } from './cursor.ts';
import {
  approverPartition,
  CLEANUP_STATUS,
  type ConfigEntity,
  configKey,
  configListPartition,
  dayPartition,
  groupApproverKey,
  type IndexedStatus,
  isTerminal,
  type Key,
  leaseKey,
  requesterPartition,
  requestIndexAttributes,
  requestKey,
  STATUS_SHARDS,
  sortableTime,
  statusPartition,
  timeKey,
  userApproverKey,
} from './keys.ts';
import { batchGet, type Filter, type Item, MergedReader, PartitionReader, readPartition, sortKeyOf } from './query.ts';
import { takeReadAhead } from './read-ahead.ts';
import { KEY_ATTRIBUTES, NO_EVENT_ATTRIBUTE } from './table.ts';

export type Page<T> = { items: T[]; cursor?: string };

/**
 * A conditional write lost to a concurrent one: re-read and try again (updateRequest does). `current` is where the
 * item stands, when the store read it after losing (configuration items), so a caller can say who changed it.
 */
export class VersionConflictError extends ConflictError {
  constructor(
    message: string,
    field?: string,
    readonly current?: CurrentVersion,
  ) {
    super(message, field);
  }
}

/**
 * What a configuration write is conditioned on: the version the caller read (replace only that), `'absent'`
 * (create only: there is no live item of that id; a soft-deleted one may be revived), or nothing (create or replace).
 */
export type ConfigPrecondition = number | 'absent' | undefined;

/** Another request's revoke is taking the leased thing away: try again once it is done (retryable). */
export class LeaseBusyError extends ConflictError {
  constructor(
    readonly key: string,
    readonly revokingRequest: string,
  ) {
    super(`another request (${revokingRequest}) is revoking the same access on the target; try again shortly`, 'lease');
  }
}

/** Soft-deleted configuration items stay this long (so the stream yields the audit event), then TTL removes them. */
export const SOFT_DELETE_TTL_DAYS = 30;
/** Approver pointers expire this long after the request's approval deadline. */
const POINTER_GRACE_DAYS = 1;
/** listAllRequests walks back day by day, no further than this many days before today. */
export const ALL_REQUESTS_HORIZON_DAYS = 400;
/** Round trips (Query) one partition may cost a page (filtered listings) before the page returns a cursor early. */
const PAGE_QUERY_BUDGET = 40;
/** listAllRequests reads at most this many day partitions in parallel. */
const DAY_FANOUT = 16;
const UPDATE_ATTEMPTS = 5;
const DAY_MS = 86_400_000;

const KEY_SET = new Set<string>(KEY_ATTRIBUTES);

const byGsi1 = { index: 'gsi1', pkName: 'gsi1pk', skName: 'gsi1sk' } as const;
const byGsi2 = { index: 'gsi2', pkName: 'gsi2pk', skName: 'gsi2sk' } as const;
const byGsi3 = { index: 'gsi3', pkName: 'gsi3pk', skName: 'gsi3sk' } as const;
const byTable = { pkName: 'pk', skName: 'sk' } as const;

function isConditionalFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/** Parse a stored item with its domain schema after stripping key and index attributes. */
function fromItem<T>(schema: z.ZodType<T>, item: Item): T {
  const fields: Item = {};
  for (const [name, value] of Object.entries(item)) {
    if (KEY_SET.has(name)) continue;
    // String sets come back as Set; the domain models them as sorted arrays.
    fields[name] = value instanceof Set ? [...value].map(String).sort() : value;
  }
  const parsed = schema.safeParse(fields);
  if (!parsed.success) {
    const paths = parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
    throw new Error(`stored item ${String(item.pk)} does not match its schema at: ${paths}`);
  }
  return parsed.data;
}

/** Validate what is about to be written; a bad value is the caller's input, so a ValidationError naming the field. */
function validated<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  throw new ValidationError(`invalid ${what}`, issues[0]?.path || undefined, issues);
}

function epochSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

type ConfigSpec<T> = { entity: ConfigEntity; schema: z.ZodType<T> };
type ConfigItem = { id: string; version: number; deleted?: boolean | undefined; lastChange?: ChangeRecord };

const currentOf = (item: ConfigItem): CurrentVersion => ({
  version: item.version,
  ...(item.lastChange === undefined ? {} : { lastChange: item.lastChange }),
});

const FLOWS: ConfigSpec<AccessFlow> = { entity: 'flow', schema: AccessFlow };
const INTEGRATIONS: ConfigSpec<Integration> = { entity: 'integration', schema: Integration };
const BUNDLES: ConfigSpec<Bundle> = { entity: 'bundle', schema: Bundle };

/**
 * The one DynamoDB table: every read is a GetItem, BatchGetItem or Query (never a Scan), every write one conditional
 * single-item write (never a transaction). Key design and access patterns: lib/store/README.md.
 */
export class Store {
  private readonly now: () => Date;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: { now?: () => Date } = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  // ─── Requests ────────────────────────────────────────────────────────────────────────────────────────────

  async createRequest(request: AccessRequest): Promise<void> {
    const stored = validated(AccessRequest, request, 'request');
    const keys = approverKeys(stored);
    if (keys.length > 0) {
      const deadline = Date.parse(stored.approvalDeadline ?? stored.createdAt);
      const ttl = epochSeconds(deadline + POINTER_GRACE_DAYS * DAY_MS);
      const sk = timeKey(stored.createdAt, stored.id);
      await this.batchPut(
        keys.map((approverKey) => ({
          pk: approverPartition(approverKey),
          sk,
          entity: 'approver-pointer',
          ttl,
          requestId: stored.id,
          approverKey,
          createdAt: stored.createdAt,
        })),
      );
    }
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.requestItem(stored),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (isConditionalFailure(error)) throw new ConflictError(`request ${stored.id} already exists`, 'id');
      throw error;
    }
  }

  async getRequest(id: string): Promise<AccessRequest | undefined> {
    const item = await this.getItem(requestKey(id));
    return item === undefined ? undefined : fromItem(AccessRequest, item);
  }

  /**
   * The request and the integrations it names, in one strongly consistent BatchGetItem (a workflow step: the ids come
   * from the route's hint, the request stays the truth, so a step reads any other integration its units name itself).
   * `integrations` holds every id asked for: the item as stored (soft-deleted ones included, `deleted: true`), or
   * undefined when there is none.
   */
  async getRequestWithIntegrations(
    id: string,
    integrationIds: readonly string[],
  ): Promise<{ request: AccessRequest | undefined; integrations: Map<string, Integration | undefined> }> {
    const ids = [...new Set(integrationIds)];
    const items = await batchGet(this.doc, this.tableName, [
      requestKey(id),
      ...ids.map((i) => configKey(INTEGRATIONS.entity, i)),
    ]);
    const wanted = requestKey(id);
    const requestItem = items.find((item) => item.pk === wanted.pk && item.sk === wanted.sk);
    const integrations = new Map<string, Integration | undefined>(ids.map((i) => [i, undefined]));
    for (const item of items) {
      if (item === requestItem) continue;
      const integration = fromItem(INTEGRATIONS.schema, item);
      integrations.set(integration.id, integration);
    }
    return { request: requestItem === undefined ? undefined : fromItem(AccessRequest, requestItem), integrations };
  }

  async saveRequest(next: AccessRequest, expectedVersion: number): Promise<AccessRequest> {
    const stored = validated(AccessRequest, { ...next, version: expectedVersion + 1 }, 'request');
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.requestItem(stored),
          ConditionExpression: '#version = :expected',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':expected': expectedVersion },
        }),
      );
    } catch (error) {
      if (isConditionalFailure(error))
        throw new VersionConflictError(
          `request ${stored.id} is no longer at version ${expectedVersion} (changed concurrently)`,
          'version',
        );
      throw error;
    }
    return stored;
  }

  async updateRequest(
    id: string,
    mutate: (current: AccessRequest) => AccessRequest | null,
    options: { attempts?: number; current?: AccessRequest } = {},
  ): Promise<{ request: AccessRequest; changed: boolean }> {
    const attempts = options.attempts ?? UPDATE_ATTEMPTS;
    // A copy the caller holds (what its own last write stored) spares the first read: the write is conditional on
    // its version, so a stale copy only costs a VersionConflictError and a fresh read.
    let known = options.current?.id === id ? options.current : undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const current = known ?? (await this.getRequest(id));
      known = undefined;
      if (current === undefined) throw new NotFoundError(`request ${id} not found`, 'id');
      const next = mutate(current);
      if (next === null) return { request: current, changed: false };
      if (next.id !== id) throw new Error(`updateRequest: mutate changed the request id (${id} → ${next.id})`);
      try {
        return { request: await this.saveRequest(next, current.version), changed: true };
      } catch (error) {
        if (!(error instanceof VersionConflictError)) throw error;
      }
    }
    throw new ConflictError(`request ${id} kept changing concurrently; gave up after ${attempts} attempts`, 'id');
  }

  /**
   * Stores the task token of a workflow wait: one conditional UpdateItem, no read. Only if the request is still at
   * `version` and in `status` (the version the route was computed from): false otherwise, and nothing is written.
   * The item is marked `noEvent` (every full write drops the mark): the change is no audit event, and the publisher's
   * stream filter (infra/constructs/events.ts) does not deliver it.
   */
  async setRequestToken(
    id: string,
    wait: { field: 'approvalToken' | 'activeToken'; token: string; status: RequestStatus; version: number },
  ): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: requestKey(id),
          UpdateExpression: 'SET #token = :token, #version = :next, #noEvent = :true',
          ConditionExpression: '#version = :expected AND #status = :status',
          ExpressionAttributeNames: {
            '#token': wait.field,
            '#version': 'version',
            '#status': 'status',
            '#noEvent': NO_EVENT_ATTRIBUTE,
          },
          ExpressionAttributeValues: {
            ':token': wait.token,
            ':next': wait.version + 1,
            ':expected': wait.version,
            ':status': wait.status,
            ':true': true,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalFailure(error)) return false;
      throw error;
    }
  }

  async listRequestsByRequester(
    sub: string,
    options: { status?: RequestStatus; limit?: number; cursor?: string },
  ): Promise<Page<AccessRequest>> {
    const kind = 'requester';
    const limit = pageLimit(options.limit);
    const { p } = decodeCursor(kind, options.cursor);
    const filter = options.status === undefined ? undefined : statusFilter(options.status);
    const reader = new PartitionReader(this.doc, this.tableName, byGsi1, requesterPartition(sub), {
      ascending: false,
      ...(p === undefined ? {} : { after: p }),
      ...(filter === undefined ? {} : { filter }),
      pageSize: filter === undefined ? limit + 1 : 100,
    });
    const read = await readPartition(reader, limit + 1, PAGE_QUERY_BUDGET);
    return this.singlePartitionPage(kind, read, limit, byGsi1.skName, AccessRequest);
  }

  /**
   * `oncall`: what the providers answered just now for on-call queries (by onCallApproverKey). The caller's own keys
   * are read, plus the pointer partition of each query whose answer has the caller on call; each request is then
   * judged with those answers (a set whose query is unanswered or unavailable admits nobody).
   */
  async listRequestsAwaitingApprover(
    who: Identity,
    options: { limit?: number; cursor?: string },
    oncall: ReadonlyMap<string, OnCallAnswer> = new Map(),
  ): Promise<Page<AccessRequest>> {
    const kind = 'approvals';
    const limit = pageLimit(options.limit);
    const { p } = decodeCursor(kind, options.cursor);
    const onCallKeys = [...oncall].filter(([, answer]) => shiftOf(answer, who) !== undefined).map(([key]) => key);
    const callerKeys = new Set([userApproverKey(who.sub), ...who.groups.map(groupApproverKey), ...onCallKeys]);
    const keys = [...callerKeys];
    const seen = new Set<string>();
    const readers = keys.map(
      (key) =>
        new PartitionReader(this.doc, this.tableName, byTable, approverPartition(key), {
          ascending: false,
          ...(p === undefined ? {} : { after: p }),
          pageSize: limit + 1,
        }),
    );
    const merged = new MergedReader(readers, byTable.skName, false, keys.length * 2 + PAGE_QUERY_BUDGET);
    const accepted: { request: AccessRequest; sk: string }[] = [];
    let lastExamined: string | undefined;
    let previousSk: string | undefined;
    let exhausted = false;
    let outOfBudget = false;
    while (accepted.length <= limit && !exhausted && !outOfBudget) {
      // Gather the next batch of distinct requests (pointers of one request share a sort key, so they are adjacent).
      const batch: { requestId: string; sk: string }[] = [];
      const want = limit + 1 - accepted.length;
      while (batch.length < want) {
        const next = await merged.next();
        if (next === 'end') {
          exhausted = true;
          break;
        }
        if (next === 'budget') {
          outOfBudget = true;
          break;
        }
        const requestId = next.item.requestId;
        if (typeof requestId !== 'string' || next.sk === previousSk) continue;
        previousSk = next.sk;
        batch.push({ requestId, sk: next.sk });
      }
      const found = await batchGet(
        this.doc,
        this.tableName,
        batch.map((b) => requestKey(b.requestId)),
      );
      const requests = new Map(found.map((item) => fromItem(AccessRequest, item)).map((r) => [r.id, r]));
      for (const { requestId, sk } of batch) {
        lastExamined = sk;
        const request = requests.get(requestId);
        if (request === undefined || request.status !== 'PENDING' || request.requester.sub === who.sub) continue;
        // A pointer is only a hint: the request itself must be at this position and the caller an approver of it
        // now (tier reached, manager, not the requester): the same judgement that authorizes a vote.
        if (timeKey(request.createdAt, request.id) !== sk || seen.has(request.id)) continue;
        if (!approverStanding(request, who, onCallAnswersByKey(request, oncall)).eligible) continue;
        seen.add(request.id);
        accepted.push({ request, sk });
        if (accepted.length > limit) break;
      }
    }
    return this.mergedPage(kind, accepted, limit, outOfBudget ? (lastExamined ?? p) : undefined);
  }

  async listRequestsByStatus(
    status: IndexedStatus,
    options: { dueBefore?: string; limit?: number; cursor?: string },
  ): Promise<Page<AccessRequest>> {
    if (status !== CLEANUP_STATUS && isTerminal(status))
      throw new ValidationError(`requests in terminal status ${status} are not indexed by status`, 'status');
    const kind = `status:${status}`;
    const limit = pageLimit(options.limit);
    const { p } = decodeCursor(kind, options.cursor);
    let until: string | undefined;
    if (options.dueBefore !== undefined) {
      if (Number.isNaN(Date.parse(options.dueBefore)))
        throw new ValidationError('dueBefore must be an ISO date-time', 'dueBefore');
      until = sortableTime(options.dueBefore);
    }
    const readers = Array.from(
      { length: STATUS_SHARDS },
      (_, shard) =>
        new PartitionReader(this.doc, this.tableName, byGsi2, statusPartition(status, shard), {
          ascending: true,
          ...(p === undefined ? {} : { after: p }),
          ...(until === undefined ? {} : { until }),
          pageSize: limit + 1,
        }),
    );
    const merged = new MergedReader(readers, byGsi2.skName, true, STATUS_SHARDS * 2 + PAGE_QUERY_BUDGET);
    const accepted: { request: AccessRequest; sk: string }[] = [];
    let outOfBudget = false;
    while (accepted.length <= limit) {
      const next = await merged.next();
      if (next === 'end') break;
      if (next === 'budget') {
        outOfBudget = true;
        break;
      }
      accepted.push({ request: fromItem(AccessRequest, next.item), sk: next.sk });
    }
    return this.mergedPage(kind, accepted, limit, outOfBudget ? (accepted.at(-1)?.sk ?? p) : undefined);
  }

  async listAllRequests(options: {
    status?: RequestStatus;
    limit?: number;
    cursor?: string;
  }): Promise<Page<AccessRequest>> {
    const kind = 'all';
    const limit = pageLimit(options.limit);
    const position = decodeCursor(kind, options.cursor);
    const today = this.now().getTime();
    const horizon = dayString(today - ALL_REQUESTS_HORIZON_DAYS * DAY_MS);
    // Start a day ahead: a request stamped just after midnight by a clock slightly ahead of ours is still listed.
    let day = position.d ?? dayString(today + DAY_MS);
    let after = position.p;
    const filter = options.status === undefined ? undefined : statusFilter(options.status);
    const collected: { item: Item; day: string }[] = [];
    const page = (cursor?: { d: string; p?: string }): Page<AccessRequest> => {
      const items = collected.slice(0, limit).map((c) => fromItem(AccessRequest, c.item));
      return cursor === undefined ? { items } : { items, cursor: encodeCursor({ k: kind, ...cursor }) };
    };
    // Day partitions are read in parallel windows growing 1, 2, 4 … DAY_FANOUT days, newest first.
    for (let window = 1; day >= horizon; window = Math.min(window * 2, DAY_FANOUT)) {
      const days: string[] = [];
      for (let d = day; days.length < window && d >= horizon; d = previousDay(d)) days.push(d);
      const want = limit + 1 - collected.length;
      const reads = await Promise.all(
        days.map((d, i) => {
          const start = i === 0 ? after : undefined;
          const reader = new PartitionReader(this.doc, this.tableName, byGsi3, dayPartition(d), {
            ascending: false,
            ...(start === undefined ? {} : { after: start }),
            ...(filter === undefined ? {} : { filter }),
            pageSize: filter === undefined ? want : 100,
          });
          return readPartition(reader, want, PAGE_QUERY_BUDGET);
        }),
      );
      for (const [i, d] of days.entries()) {
        const read = reads[i];
        if (read === undefined) continue;
        collected.push(...read.items.map((item) => ({ item, day: d })));
        const last = collected[limit - 1];
        if (collected.length > limit && last !== undefined)
          return page({ d: last.day, p: sortKeyOf(last.item, byGsi3.skName) });
        // A heavily filtered day ran out of round trips: continue inside it next time.
        if (read.resumeAfter !== undefined) return page({ d, p: read.resumeAfter });
      }
      day = previousDay(days.at(-1) ?? day);
      after = undefined;
    }
    return page();
  }

  // ─── Flows, integrations, bundles ────────────────────────────────────────────────────────────────────────

  putFlow(id: string, input: FlowInput, change: ChangeRecord, expected?: ConfigPrecondition): Promise<AccessFlow> {
    return this.putConfig(FLOWS, id, input, change, expected);
  }
  getFlow(id: string): Promise<AccessFlow | undefined> {
    return this.getConfig(FLOWS, id);
  }
  listFlows(options: { limit?: number; cursor?: string } = {}): Promise<Page<AccessFlow>> {
    return this.listConfig(FLOWS, options);
  }
  deleteFlow(id: string, change: ChangeRecord, expectedVersion?: number): Promise<AccessFlow> {
    return this.deleteConfig(FLOWS, id, change, expectedVersion);
  }

  putIntegration(
    id: string,
    input: IntegrationInput,
    change: ChangeRecord,
    expected?: ConfigPrecondition,
  ): Promise<Integration> {
    return this.putConfig(INTEGRATIONS, id, input, change, expected);
  }
  /**
   * `includeDeleted`: revoking what was granted must work after an admin deleted the integration (the soft-deleted
   * item keeps its configuration until TTL removes it, 30 days on).
   */
  getIntegration(id: string, options: { includeDeleted?: boolean } = {}): Promise<Integration | undefined> {
    return options.includeDeleted === true
      ? this.getConfigIncludingDeleted(INTEGRATIONS, id)
      : this.getConfig(INTEGRATIONS, id);
  }
  listIntegrations(options: { limit?: number; cursor?: string } = {}): Promise<Page<Integration>> {
    return this.listConfig(INTEGRATIONS, options);
  }
  deleteIntegration(id: string, change: ChangeRecord, expectedVersion?: number): Promise<Integration> {
    return this.deleteConfig(INTEGRATIONS, id, change, expectedVersion);
  }
  getIntegrations(ids: string[]): Promise<Map<string, Integration>> {
    return this.getConfigs(INTEGRATIONS, ids);
  }

  putBundle(id: string, input: BundleInput, change: ChangeRecord, expected?: ConfigPrecondition): Promise<Bundle> {
    return this.putConfig(BUNDLES, id, input, change, expected);
  }
  getBundle(id: string): Promise<Bundle | undefined> {
    return this.getConfig(BUNDLES, id);
  }
  listBundles(options: { limit?: number; cursor?: string } = {}): Promise<Page<Bundle>> {
    return this.listConfig(BUNDLES, options);
  }
  deleteBundle(id: string, change: ChangeRecord, expectedVersion?: number): Promise<Bundle> {
    return this.deleteConfig(BUNDLES, id, change, expectedVersion);
  }
  getBundles(ids: string[]): Promise<Map<string, Bundle>> {
    return this.getConfigs(BUNDLES, ids);
  }

  // ─── Leases ──────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Adds `requestId` to the holders of the lease `key` (one conditional UpdateItem); already a holder → no write.
   * While another request's revoke takes the thing away (`revoking`), a new holder is refused: LeaseBusyError, which
   * the workflow treats as "pending, try again shortly".
   */
  async addLeaseHolder(key: string, requestId: string, change: ChangeRecord): Promise<Lease> {
    try {
      return await this.updateLease(key, change, {
        update: 'ADD #ids :ids, #version :one',
        condition: 'attribute_not_exists(#revoking) AND NOT contains(#ids, :id)',
        values: { ':ids': new Set([requestId]), ':id': requestId },
      });
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
    }
    const lease = await this.getLease(key);
    if (lease?.requestIds.includes(requestId)) return lease;
    if (lease?.revoking !== undefined) throw new LeaseBusyError(key, lease.revoking);
    // A lease written between the two reads: the next attempt sees it.
    throw new VersionConflictError(`lease ${key} changed while adding a holder`, 'lease');
  }

  /**
   * Removes `requestId` from the holders. When it was the last one, the same update marks the lease `revoking` by
   * this request, so no new holder joins before the revoke ends (finishLeaseRevoke). Not a holder → no write (and
   * no lease: an empty one, version 0). The answer tells whether this request is the one that revokes
   * (`revoking === requestId`): only then may the target be touched.
   */
  async removeLeaseHolder(key: string, requestId: string, change: ChangeRecord): Promise<Lease> {
    for (let attempt = 1; attempt <= UPDATE_ATTEMPTS; attempt++) {
      const lease = await this.getLease(key);
      // Not a holder (never was, or removed already): as stored; `revoking` tells whether this request revokes.
      if (lease === undefined) return { key, requestIds: [], version: 0, lastChange: change };
      if (!lease.requestIds.includes(requestId)) return lease;
      const last = lease.requestIds.length === 1;
      try {
        return await this.updateLease(key, change, {
          update: last ? 'SET #revoking = :id REMOVE #ids ADD #version :one' : 'DELETE #ids :ids ADD #version :one',
          // Another holder stays: one atomic set removal (no version race between holders leaving at once). The
          // last one: only if nobody joined since the read, and it marks the lease revoking in the same update.
          condition: last ? '#version = :seen' : 'contains(#ids, :id) AND size(#ids) > :one',
          values: last
            ? { ':seen': lease.version, ':id': requestId }
            : { ':ids': new Set([requestId]), ':id': requestId },
        });
      } catch (error) {
        if (!isConditionalFailure(error)) throw error;
      }
    }
    throw new VersionConflictError(`lease ${key} kept changing while removing a holder`, 'lease');
  }

  /** Records whether Stint created the leased thing (the first grant tells); set once. */
  async setLeaseOwned(key: string, owned: boolean, change: ChangeRecord): Promise<void> {
    try {
      await this.updateLease(key, change, {
        update: 'SET #owned = :owned ADD #version :one',
        condition: 'attribute_exists(#pk) AND attribute_not_exists(#owned)',
        values: { ':owned': owned },
      });
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
    }
  }

  /** The revoke of `requestId` took the leased thing away: the lease is free again (and forgets `owned`). */
  async finishLeaseRevoke(key: string, requestId: string, change: ChangeRecord): Promise<void> {
    try {
      await this.updateLease(key, change, {
        update: 'REMOVE #revoking, #owned ADD #version :one',
        condition: '#revoking = :id',
        values: { ':id': requestId },
      });
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
    }
  }

  async getLease(key: string): Promise<Lease | undefined> {
    const item = await this.getItem(leaseKey(key));
    return item === undefined ? undefined : fromItem(Lease, item);
  }

  // ─── Internals ───────────────────────────────────────────────────────────────────────────────────────────

  private requestItem(request: AccessRequest): Item {
    return { ...request, ...requestKey(request.id), ...requestIndexAttributes(request), entity: 'request' };
  }

  private async getItem(key: Key): Promise<Item | undefined> {
    // Read ahead with the caller's directory entry (an API route's first read: lib/store/read-ahead.ts)?
    const ahead = takeReadAhead(this.tableName, key);
    if (ahead !== undefined) return ahead ?? undefined;
    const result = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return result.Item;
  }

  private async batchPut(items: Item[]): Promise<void> {
    for (let i = 0; i < items.length; i += 25) {
      let pending = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) {
          if (attempt > 8) throw new Error(`BatchWriteItem left ${pending.length} items unprocessed after retries`);
          await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
        }
        const result = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }));
        pending = (result.UnprocessedItems?.[this.tableName] ?? []).flatMap((w) =>
          w.PutRequest?.Item === undefined ? [] : [{ PutRequest: { Item: w.PutRequest.Item } }],
        );
      }
    }
  }

  private singlePartitionPage<T>(
    kind: string,
    read: { items: Item[]; resumeAfter?: string },
    limit: number,
    skName: string,
    schema: z.ZodType<T>,
  ): Page<T> {
    const items = read.items.slice(0, limit).map((item) => fromItem(schema, item));
    const last = read.items[limit - 1];
    if (read.items.length > limit && last !== undefined)
      return { items, cursor: encodeCursor({ k: kind, p: sortKeyOf(last, skName) }) };
    if (read.resumeAfter !== undefined) return { items, cursor: encodeCursor({ k: kind, p: read.resumeAfter }) };
    return { items };
  }

  private mergedPage(
    kind: string,
    accepted: { request: AccessRequest; sk: string }[],
    limit: number,
    resumeAfter: string | undefined,
  ): Page<AccessRequest> {
    const items = accepted.slice(0, limit).map((a) => a.request);
    const last = accepted[limit - 1];
    if (accepted.length > limit && last !== undefined) return { items, cursor: encodeCursor({ k: kind, p: last.sk }) };
    if (resumeAfter !== undefined) return { items, cursor: encodeCursor({ k: kind, p: resumeAfter }) };
    return { items };
  }

  private configItem<T extends ConfigItem>(spec: ConfigSpec<T>, value: T): Item {
    return {
      ...value,
      ...configKey(spec.entity, value.id),
      gsi1pk: configListPartition(spec.entity),
      gsi1sk: value.id,
      entity: spec.entity,
    };
  }

  private async getConfigIncludingDeleted<T>(spec: ConfigSpec<T>, id: string): Promise<T | undefined> {
    const item = await this.getItem(configKey(spec.entity, id));
    return item === undefined ? undefined : fromItem(spec.schema, item);
  }

  private async getConfig<T extends ConfigItem>(spec: ConfigSpec<T>, id: string): Promise<T | undefined> {
    const value = await this.getConfigIncludingDeleted(spec, id);
    return value?.deleted === true ? undefined : value;
  }

  private async putConfig<T extends ConfigItem>(
    spec: ConfigSpec<T>,
    id: string,
    input: object,
    change: ChangeRecord,
    expected?: ConfigPrecondition,
  ): Promise<T> {
    if (typeof expected === 'number') {
      const next = validated(spec.schema, { ...input, id, version: expected + 1, lastChange: change }, spec.entity);
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: this.configItem(spec, next),
            ConditionExpression: '#version = :expected AND attribute_not_exists(#deleted)',
            ExpressionAttributeNames: { '#version': 'version', '#deleted': 'deleted' },
            ExpressionAttributeValues: { ':expected': expected },
          }),
        );
        return next;
      } catch (error) {
        if (!isConditionalFailure(error)) throw error;
        throw await this.lostTo(spec, id, `is no longer at version ${expected}`);
      }
    }
    if (expected === 'absent') {
      // Create only: one write conditioned on what was read (nothing, or a soft-deleted item at its version).
      const current = await this.getConfigIncludingDeleted(spec, id);
      if (current !== undefined && current.deleted !== true) {
        throw new VersionConflictError(`${spec.entity} ${id} already exists`, 'version', currentOf(current));
      }
      const next = validated(
        spec.schema,
        { ...input, id, version: (current?.version ?? 0) + 1, lastChange: change },
        spec.entity,
      );
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: this.configItem(spec, next),
            ...(current === undefined
              ? { ConditionExpression: 'attribute_not_exists(pk)' }
              : {
                  ConditionExpression: '#version = :current AND attribute_exists(#deleted)',
                  ExpressionAttributeNames: { '#version': 'version', '#deleted': 'deleted' },
                  ExpressionAttributeValues: { ':current': current.version },
                }),
          }),
        );
        return next;
      } catch (error) {
        if (!isConditionalFailure(error)) throw error;
        const lost = await this.lostTo(spec, id, 'was created concurrently');
        // Not there after all (a soft-deleted item that changed under the write): a plain retryable conflict.
        throw lost instanceof NotFoundError
          ? new ConflictError(`${spec.entity} ${id} changed concurrently`, 'id')
          : lost;
      }
    }
    // Create or replace: the new version follows the stored one (a soft-deleted item is revived with a higher version).
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
      const current = await this.getConfigIncludingDeleted(spec, id);
      const next = validated(
        spec.schema,
        { ...input, id, version: (current?.version ?? 0) + 1, lastChange: change },
        spec.entity,
      );
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: this.configItem(spec, next),
            ...(current === undefined
              ? { ConditionExpression: 'attribute_not_exists(pk)' }
              : {
                  ConditionExpression: '#version = :current',
                  ExpressionAttributeNames: { '#version': 'version' },
                  ExpressionAttributeValues: { ':current': current.version },
                }),
          }),
        );
        return next;
      } catch (error) {
        if (!isConditionalFailure(error)) throw error;
      }
    }
    throw new ConflictError(`${spec.entity} ${id} kept changing concurrently`, 'id');
  }

  /** A conditional write on a configuration item lost: not found (absent or deleted), or who changed it to what. */
  private async lostTo<T extends ConfigItem>(spec: ConfigSpec<T>, id: string, what: string): Promise<Error> {
    const current = await this.getConfig(spec, id);
    if (current === undefined) return new NotFoundError(`${spec.entity} ${id} not found`, 'id');
    return new VersionConflictError(`${spec.entity} ${id} ${what}`, 'version', currentOf(current));
  }

  private async deleteConfig<T extends ConfigItem>(
    spec: ConfigSpec<T>,
    id: string,
    change: ChangeRecord,
    expectedVersion?: number,
  ): Promise<T> {
    try {
      const result = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: configKey(spec.entity, id),
          UpdateExpression:
            'SET #deleted = :true, #lastChange = :change, #ttl = :ttl ADD #version :one REMOVE gsi1pk, gsi1sk',
          ConditionExpression: `attribute_exists(pk) AND attribute_not_exists(#deleted)${expectedVersion === undefined ? '' : ' AND #version = :expected'}`,
          ExpressionAttributeNames: {
            '#deleted': 'deleted',
            '#lastChange': 'lastChange',
            '#ttl': 'ttl',
            '#version': 'version',
          },
          ExpressionAttributeValues: {
            ':true': true,
            ':change': change,
            ':ttl': epochSeconds(this.now().getTime() + SOFT_DELETE_TTL_DAYS * DAY_MS),
            ':one': 1,
            ...(expectedVersion === undefined ? {} : { ':expected': expectedVersion }),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      if (result.Attributes === undefined) throw new Error(`UpdateItem on ${spec.entity} ${id} returned no attributes`);
      return fromItem(spec.schema, result.Attributes);
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
      if (expectedVersion === undefined) throw new NotFoundError(`${spec.entity} ${id} not found`, 'id');
      throw await this.lostTo(spec, id, `is no longer at version ${expectedVersion}`);
    }
  }

  private async listConfig<T>(spec: ConfigSpec<T>, options: { limit?: number; cursor?: string }): Promise<Page<T>> {
    const kind = `config:${spec.entity}`;
    const limit = pageLimit(options.limit);
    const { p } = decodeCursor(kind, options.cursor);
    const reader = new PartitionReader(this.doc, this.tableName, byGsi1, configListPartition(spec.entity), {
      ascending: true,
      ...(p === undefined ? {} : { after: p }),
      pageSize: limit + 1,
    });
    const read = await readPartition(reader, limit + 1, PAGE_QUERY_BUDGET);
    return this.singlePartitionPage(kind, read, limit, byGsi1.skName, spec.schema);
  }

  private async getConfigs<T extends ConfigItem>(spec: ConfigSpec<T>, ids: string[]): Promise<Map<string, T>> {
    const items = await batchGet(
      this.doc,
      this.tableName,
      ids.map((id) => configKey(spec.entity, id)),
    );
    const found = new Map<string, T>();
    for (const item of items) {
      const value = fromItem(spec.schema, item);
      if (value.deleted !== true) found.set(value.id, value);
    }
    return found;
  }

  private async updateLease(
    key: string,
    change: ChangeRecord,
    op: { update: string; condition: string; values: Record<string, unknown> },
  ): Promise<Lease> {
    const result = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: leaseKey(key),
        UpdateExpression: `SET #entity = :entity, #key = :key, #lastChange = :change${op.update.startsWith('SET ') ? `, ${op.update.slice(4)}` : ` ${op.update}`}`,
        ConditionExpression: op.condition,
        ExpressionAttributeNames: Object.fromEntries(
          Object.entries({
            '#entity': 'entity',
            '#key': 'key',
            '#lastChange': 'lastChange',
            '#ids': 'requestIds',
            '#version': 'version',
            '#revoking': 'revoking',
            '#owned': 'owned',
            '#pk': 'pk',
          }).filter(([name]) => `${op.update} ${op.condition} #entity #key #lastChange`.includes(name)),
        ),
        ExpressionAttributeValues: { ':entity': 'lease', ':key': key, ':change': change, ':one': 1, ...op.values },
        ReturnValues: 'ALL_NEW',
      }),
    );
    if (result.Attributes === undefined) throw new Error('UpdateItem on a lease returned no attributes');
    return fromItem(Lease, result.Attributes);
  }
}

function statusFilter(status: RequestStatus): Filter {
  return { expression: '#status = :status', names: { '#status': 'status' }, values: { ':status': status } };
}

function dayString(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function previousDay(day: string): string {
  return dayString(Date.parse(`${day}T00:00:00Z`) - DAY_MS);
}

import { createHash } from 'node:crypto';
import type { ChatAccount } from '#lib/directory/types.ts';
import { type AccessUnit, sameUnit } from '#lib/domain/bundle.ts';
import type { Channel } from '#lib/domain/common.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '#lib/domain/errors.ts';
import { SYSTEM_SUBJECT } from '#lib/domain/identity.ts';
import type { Integration, IntegrationType } from '#lib/domain/integration.ts';
import { abandonGrant, changeStatus, failRevoke } from '#lib/domain/lifecycle.ts';
import type { AccessRequest, PendingWork, UnitGrant } from '#lib/domain/request.ts';
import { isTerminal as isTerminalStatus } from '#lib/domain/transitions.ts';
import {
  type DriverContext,
  GrantPermanentError,
  type IntegrationDriver,
  type ManagedPrincipal,
  type Pending,
} from '#lib/integrations/types.ts';
import { logger } from '#lib/observability/logger.ts';
import { LeaseBusyError, type Store } from '#lib/store/store.ts';
import type {
  DiscoverAnswer,
  Holder,
  IssueCredentialsAnswer,
  ListManagedAnswer,
  LoadOutput,
  RegisterTokenInput,
} from '#lib/workflow/contract.ts';
import type { Executions } from '#lib/workflow/executions.ts';
import { grantOf, needsRevoke, routeOutput } from '#lib/workflow/route.ts';

export type WorkflowDeps = {
  store: Store;
  executions: Executions;
  resolveSecret: (ref: string) => Promise<string>;
  seal: (plain: string) => Promise<string>;
  /** The grantee's linked accounts, for drivers that look the grantee up on the target (Identity Center). */
  directory?: {
    accounts(userId: string): Promise<ChatAccount[]>;
    link(userId: string, account: ChatAccount): Promise<void>;
  };
  now?: () => Date;
};

const CHANNEL: Channel = 'workflow';

/** The route of an execution whose request does not exist. */
const MISSING: LoadOutput = {
  next: 'done',
  waitSeconds: 1,
  version: 0,
  driver: 'postgresql',
  branch: 'done',
  integrationIds: [],
};

/** A step's integration reads, by `<live|any>:<id>`: each integration is read once per invocation. */
type IntegrationReads = Map<string, Promise<Integration | undefined>>;

/** What the route that led to a driver step hints ($.load): the integrations to read with the request. */
export type StepHint = { integrationIds?: readonly string[] | undefined };

/**
 * A driver answering "pending" is asked again at most this many times per unit and action. With the drivers'
 * backoff (capped at 30 s for Identity Center) that is well over 20 minutes of target-side work, and an
 * execution's history stays far below Step Functions' 25,000 events (each poll adds about 16).
 */
export const MAX_POLLS = 60;
/** A lease another request is revoking: ask again after this long. */
export const LEASE_BUSY_POLL_SECONDS = 5;
/** A driver's pending answer is asked again no sooner than 1 s and no later than this. */
const MAX_POLL_SECONDS = 300;
/** A cleanup that keeps failing is retried this many times (backing off), then given up with an error log. */
export const MAX_CLEANUP_ATTEMPTS = 5;

/**
 * The state machine's steps. Each takes the request id, reads the request and acts on what the data says
 * (the state machine is a function of the data: docs/architecture.md), so repeating any step, or restarting the
 * whole execution, is harmless. The target-side steps (grant, applyExtension, revoke, cleanup) run in the driver
 * function of one integration type and work on that type's units; the route each step answers goes on to the next type with work left.
 */
export class WorkflowService {
  private readonly now: () => Date;

  constructor(private readonly deps: WorkflowDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  private actor(action: string, reason?: string) {
    return {
      by: SYSTEM_SUBJECT,
      channel: CHANNEL,
      action,
      at: this.now(),
      ...(reason === undefined ? {} : { reason }),
    };
  }

  private change(action: string) {
    return { ...this.actor(action), at: this.now().toISOString() };
  }

  async load(requestId: string): Promise<LoadOutput> {
    const request = await this.deps.store.getRequest(requestId);
    if (request === undefined) {
      logger.warn('execution for a missing request', { requestId });
      return MISSING;
    }
    return this.routeOf(request);
  }

  /**
   * What follows a step, from the request as the step last wrote (or read) it: the state machine routes on it
   * without a Load. The next step re-reads the request, so a copy that has gone stale since does no harm.
   */
  private async routeOf(request: AccessRequest): Promise<LoadOutput> {
    return routeOutput(request, await this.unitTypes(request), this.now());
  }

  /**
   * A driver step's first read: the request and the integrations the route's hint names, in one BatchGetItem (a
   * GetItem of the request without a hint). The integrations seed the step's reads; any other one its units name is
   * read when needed, so a wrong or stale hint costs a read, never a wrong action.
   */
  private async readForStep(
    requestId: string,
    hint: StepHint | undefined,
  ): Promise<{ request: AccessRequest | undefined; integrations: IntegrationReads }> {
    const integrations: IntegrationReads = new Map();
    const ids = hint?.integrationIds ?? [];
    if (ids.length === 0) return { request: await this.deps.store.getRequest(requestId), integrations };
    const read = await this.deps.store.getRequestWithIntegrations(requestId, ids);
    for (const [id, integration] of read.integrations) {
      integrations.set(`any:${id}`, Promise.resolve(integration));
      integrations.set(`live:${id}`, Promise.resolve(integration?.deleted === true ? undefined : integration));
    }
    return { request: read.request, integrations };
  }

  /** Each unit's integration type: recorded on the request, else (requests made before it was) read once. */
  private async unitTypes(request: AccessRequest): Promise<IntegrationType[]> {
    if (request.unitTypes !== undefined && request.unitTypes.length === request.units.length) return request.unitTypes;
    const ids = [...new Set(request.units.map((u) => u.integrationId))];
    const found = new Map<string, IntegrationType>();
    for (const id of ids) {
      const integration = await this.deps.store.getIntegration(id, { includeDeleted: true });
      if (integration !== undefined) found.set(id, integration.type);
    }
    return request.units.map((u) => found.get(u.integrationId) ?? 'postgresql');
  }

  /**
   * Store the wait's task token, unless the request moved on since its route was computed: then resume at once so Load runs
   * again. Both this write and a decision are conditional on the version, so exactly one of them resumes.
   */
  async registerToken(input: RegisterTokenInput): Promise<void> {
    const status = input.kind === 'approval' ? 'PENDING' : 'ACTIVE';
    const field = input.kind === 'approval' ? 'approvalToken' : 'activeToken';
    // The version Route passed: one conditional UpdateItem, no read (the token is all that changes).
    const changed =
      input.version === undefined
        ? (
            await this.deps.store.updateRequest(input.requestId, (current) =>
              current.status === status ? { ...current, [field]: input.taskToken } : null,
            )
          ).changed
        : await this.deps.store.setRequestToken(input.requestId, {
            field,
            token: input.taskToken,
            status,
            version: input.version,
          });
    if (!changed) await this.deps.executions.resume(input.taskToken);
  }

  async timeOut(requestId: string): Promise<void> {
    await this.deps.store.updateRequest(requestId, (current) => {
      if (current.status !== 'PENDING' || current.approvalDeadline === undefined) return null;
      if (Date.parse(current.approvalDeadline) > this.now().getTime()) return null; // a chunk of a long wait ended
      return changeStatus(current, 'TIMED_OUT', this.actor('time-out', 'no decision before the approval deadline'));
    });
  }

  private async context(
    request: AccessRequest,
    index: number,
    driver: IntegrationDriver,
    purpose: 'grant' | 'cleanup',
    read: IntegrationReads = new Map(),
  ): Promise<DriverContext> {
    const unit = request.units[index];
    if (unit === undefined) throw new Error(`request ${request.id} has no unit ${index}`);
    // Taking access away must keep working after an admin deleted the integration or edited its resources.
    const cleanup = purpose === 'cleanup';
    // Read once per step invocation (units of one integration share it), always the current version.
    const readKey = `${cleanup ? 'any' : 'live'}:${unit.integrationId}`;
    let reading = read.get(readKey);
    if (reading === undefined) {
      reading = this.deps.store.getIntegration(unit.integrationId, { includeDeleted: cleanup });
      read.set(readKey, reading);
    }
    const integration = await reading;
    if (integration === undefined) throw new Error(`integration ${unit.integrationId} no longer exists`);
    if (integration.type !== driver.type) {
      throw new GrantPermanentError(
        `integration ${integration.id} is of type ${integration.type}, not ${driver.type}: it cannot change type under a request`,
      );
    }
    let resource = integration.resources.find((r) => r.id === unit.resource);
    let permission = resource?.permissions.find((p) => p.id === unit.permission);
    if (cleanup) {
      permission ??= { id: unit.permission, grants: [] };
      resource ??= { id: unit.resource, owners: [], permissions: [permission] };
    }
    if (resource === undefined || permission === undefined) {
      throw new Error(`integration ${unit.integrationId} no longer offers ${unit.permission} on ${unit.resource}`);
    }
    const secret =
      integration.secretRef === undefined ? undefined : await this.deps.resolveSecret(integration.secretRef);
    const grantee = request.grantee;
    const directory = this.deps.directory;
    return {
      requestId: request.id,
      idempotencyKey: idempotencyKey(request.id, unit),
      grantee,
      ...(request.justification === undefined ? {} : { justification: request.justification }),
      integration,
      unit,
      resource,
      permission,
      expiresAt: new Date(request.expiresAt ?? this.now().toISOString()),
      admin: secret === undefined ? {} : { secret },
      directory: {
        accounts: async () => (directory === undefined ? [] : directory.accounts(grantee.sub)),
        link: async (account) => {
          if (directory !== undefined) await directory.link(grantee.sub, account);
        },
      },
      now: this.now(),
    };
  }

  /**
   * Replaces (or adds) the unit's entry in `grants`, while the request is still in `status`, starting from the step's
   * own copy (no read unless it is stale). `then` finishes the step in the same write when the recorded unit was the
   * last one (GRANTING → ACTIVE, REVOKING → REVOKED…): one conditional write, one state change.
   */
  private async record(
    known: AccessRequest,
    status: AccessRequest['status'],
    grant: UnitGrant,
    then?: (recorded: AccessRequest) => AccessRequest | null,
  ): Promise<AccessRequest> {
    const { request } = await this.deps.store.updateRequest(
      known.id,
      (current) => {
        if (current.status !== status) return null;
        const others = current.grants.filter((g) => !sameUnit(g.unit, grant.unit));
        const recorded = { ...current, grants: [...others, grant] };
        return then?.(recorded) ?? recorded;
      },
      { current: known },
    );
    return request;
  }

  private pendingWork(previous: PendingWork | undefined, action: PendingWork['action'], outcome: Pending): PendingWork {
    const polls = (previous?.action === action ? previous.polls : 0) + 1;
    const now = this.now();
    const seconds = Math.min(Math.max(Math.ceil(outcome.pollAfterSeconds), 1), MAX_POLL_SECONDS);
    return {
      action,
      reason: outcome.reason.slice(0, 500),
      polls,
      since: previous?.action === action ? previous.since : now.toISOString(),
      nextAt: new Date(now.getTime() + seconds * 1000).toISOString(),
    };
  }

  /**
   * APPROVED → GRANTING → grant this driver's units (recording each outcome as it lands; a pending one is asked
   * again after the state machine's Poll wait) → ACTIVE once every unit of every type is granted.
   */
  async grant(requestId: string, driver: IntegrationDriver, hint?: StepHint): Promise<LoadOutput> {
    const { store } = this.deps;
    const read = await this.readForStep(requestId, hint);
    let { request } = await store.updateRequest(
      requestId,
      (current) => {
        if (current.status !== 'APPROVED') return null;
        // An on-call requestor's grant never outlives the shift it relied on (AccessRequest.onCall).
        const shiftEnd = current.onCall?.end == null ? Number.POSITIVE_INFINITY : Date.parse(current.onCall.end);
        const expiresAt = new Date(
          Math.min(this.now().getTime() + current.durationMinutes * 60_000, shiftEnd),
        ).toISOString();
        return changeStatus(current, 'GRANTING', this.actor('grant'), { expiresAt });
      },
      read.request === undefined ? {} : { current: read.request },
    );
    if (request.status !== 'GRANTING') return this.routeOf(request); // someone else moved it on
    const types = await this.unitTypes(request);
    const { integrations } = read;
    const activate = (current: AccessRequest): AccessRequest | null => {
      if (current.status !== 'GRANTING') return null;
      const done = current.units.every((u) =>
        current.grants.some((g) => sameUnit(g.unit, u) && g.pending === undefined),
      );
      if (!done) return null; // pending units, or units of another type: Route goes on
      const finalExpiry = current.expiresAt ?? this.now().toISOString();
      return changeStatus(current, 'ACTIVE', this.actor('activate'), {
        grantedAt: this.now().toISOString(),
        expiresAt: finalExpiry,
        enforcedExpiresAt: finalExpiry,
      });
    };
    for (const [index, unit] of request.units.entries()) {
      if (types[index] !== driver.type) continue;
      const existing = grantOf(request, unit);
      if (existing !== undefined && existing.pending === undefined) continue; // granted
      if (existing?.pending !== undefined && Date.parse(existing.pending.nextAt) > this.now().getTime()) continue;
      const ctx = await this.context(request, index, driver, 'grant', integrations);
      const key = singleLeaseKey(driver, ctx);
      if (key !== undefined) {
        try {
          const lease = await store.addLeaseHolder(key, request.id, this.change('lease-add'));
          ctx.lease = {
            soleHolder: lease.requestIds.length === 1,
            ...(lease.owned === undefined ? {} : { owned: lease.owned }),
          };
        } catch (error) {
          if (!(error instanceof LeaseBusyError)) throw error;
          const busy: Pending = {
            status: 'pending',
            state: existing?.state ?? {},
            pollAfterSeconds: LEASE_BUSY_POLL_SECONDS,
            reason: 'another request is revoking the same access on the target',
          };
          request = await this.record(request, 'GRANTING', {
            unit,
            state: busy.state,
            pending: { ...this.pendingWork(existing?.pending, 'grant', busy), waitingFor: 'lease' },
          });
          continue;
        }
      }
      // The driver's own progress, if it answered pending before (not after a wait for the lease: it was not called).
      const progress =
        existing?.pending === undefined || existing.pending.waitingFor === 'lease' ? undefined : existing.state;
      const outcome = await driver.grant(ctx, progress);
      if (key !== undefined && outcome.owned !== undefined && ctx.lease?.owned === undefined) {
        await store.setLeaseOwned(key, outcome.owned, this.change('lease-owned'));
      }
      if (outcome.status === 'pending') {
        const pending = this.pendingWork(existing?.pending, 'grant', outcome);
        if (pending.polls > MAX_POLLS) {
          throw new GrantPermanentError(
            `integration ${ctx.integration.id}: the target did not finish granting after ${MAX_POLLS} checks since ${pending.since} (last: ${outcome.reason})`,
          );
        }
        request = await this.record(request, 'GRANTING', { unit, state: outcome.state, pending });
        continue;
      }
      request = await this.record(
        request,
        'GRANTING',
        {
          unit,
          state: outcome.state,
          ...(outcome.access === undefined ? {} : { access: outcome.access }),
          ...(outcome.secret === undefined ? {} : { sealedSecret: await this.deps.seal(outcome.secret) }),
          enforcedExpiresAt: ctx.expiresAt.toISOString(),
        },
        activate,
      );
    }
    // Every unit granted before this run (a repeated step): activate now; else the last record did, or work is left.
    ({ request } = await store.updateRequest(requestId, activate, { current: request }));
    return this.routeOf(request);
  }

  /**
   * Grant gave up (a permanent error, or retries exhausted): the request goes to the revoke path with the reason
   * (REVOKING, `endReason: 'failed'`), which undoes every unit through its driver (nothing left behind on the
   * target), retries for hours, raises the alarm if it keeps failing, and ends the request FAILED.
   */
  async grantFailed(requestId: string, error: { Error: string; Cause?: string }): Promise<void> {
    const reason = failureReason(error);
    await this.deps.store.updateRequest(requestId, (current) =>
      current.status === 'GRANTING' || current.status === 'APPROVED'
        ? abandonGrant(current, { ...this.actor('abandon-grant', reason), reason })
        : null,
    );
  }

  /** Move the target-side expiry of this driver's units to the extended expiresAt. */
  async applyExtension(requestId: string, driver: IntegrationDriver, hint?: StepHint): Promise<LoadOutput> {
    const read = await this.readForStep(requestId, hint);
    let { request } = read;
    if (request === undefined) return MISSING;
    if (request.status !== 'ACTIVE' || request.expiresAt === undefined) return this.routeOf(request);
    const expiresAt = request.expiresAt;
    const types = await this.unitTypes(request);
    const { integrations } = read;
    const applied = (current: AccessRequest): AccessRequest | null =>
      current.status === 'ACTIVE' &&
      current.expiresAt === expiresAt &&
      current.enforcedExpiresAt !== expiresAt &&
      current.grants.every((g) => g.enforcedExpiresAt === expiresAt)
        ? { ...current, enforcedExpiresAt: expiresAt }
        : null;
    for (const [index, unit] of request.units.entries()) {
      if (types[index] !== driver.type) continue;
      const grant = grantOf(request, unit);
      if (grant === undefined || grant.enforcedExpiresAt === expiresAt) continue;
      const ctx = await this.context(request, index, driver, 'cleanup', integrations);
      await driver.extend(ctx, grant.state);
      request = await this.record(request, 'ACTIVE', { ...grant, enforcedExpiresAt: expiresAt }, applied);
    }
    ({ request } = await this.deps.store.updateRequest(requestId, applied, { current: request }));
    return this.routeOf(request);
  }

  /**
   * ACTIVE → REVOKING (once expiresAt has passed; REVOKING already when someone revoked early) → revoke this
   * driver's units → once every unit of every type is revoked: EXPIRED | REVOKED, or FAILED when it undoes a grant
   * that failed (`endReason: 'failed'`). An ACTIVE grant whose expiry lies ahead (extended since the route was computed) is left alone.
   * A shared target-side thing (a lease) is taken away only by the request that leaves it empty; a per-request
   * principal always is.
   */
  async revoke(requestId: string, driver: IntegrationDriver, hint?: StepHint): Promise<LoadOutput> {
    const { store } = this.deps;
    const read = await this.readForStep(requestId, hint);
    let { request } = await store.updateRequest(
      requestId,
      (current) => {
        if (current.status !== 'ACTIVE') return null;
        // Extended after the route was chosen: the time is not up; Route goes to apply-extension and waits again.
        if (current.expiresAt !== undefined && Date.parse(current.expiresAt) > this.now().getTime()) return null;
        return changeStatus(current, 'REVOKING', this.actor('revoke', 'the grant expired'), { endReason: 'expired' });
      },
      read.request === undefined ? {} : { current: read.request },
    );
    if (request.status !== 'REVOKING') return this.routeOf(request);
    const types = await this.unitTypes(request);
    const { integrations } = read;
    const finish = (current: AccessRequest): AccessRequest | null => {
      if (current.status !== 'REVOKING') return null;
      if (current.units.some((u) => needsRevoke(current, u))) return null; // pending, or another type's units left
      if (current.endReason === 'failed') {
        return changeStatus(current, 'FAILED', this.actor('fail', current.failureReason), {
          grants: current.grants.map(eraseSecret),
        });
      }
      const to = current.endReason === 'revoked' ? 'REVOKED' : 'EXPIRED';
      return changeStatus(current, to, this.actor(to === 'REVOKED' ? 'revoked' : 'expired'), {
        revokedAt: this.now().toISOString(),
        grants: current.grants.map(eraseSecret),
      });
    };
    for (const [index, unit] of request.units.entries()) {
      if (types[index] !== driver.type) continue;
      if (!needsRevoke(request, unit)) continue;
      const grant = grantOf(request, unit);
      if (grant?.pending?.action === 'revoke' && Date.parse(grant.pending.nextAt) > this.now().getTime()) continue;
      const ctx = await this.context(request, index, driver, 'cleanup', integrations);
      const key = singleLeaseKey(driver, ctx);
      const base: UnitGrant = grant ?? { unit, state: {} };
      if (key !== undefined) {
        const lease = await store.removeLeaseHolder(key, request.id, this.change('lease-remove'));
        if (lease.revoking !== request.id) {
          logger.info('unit still held by another request (or never held); target left as is', {
            requestId: request.id,
            holders: lease.requestIds.length,
          });
          request = await this.record(request, 'REVOKING', { ...withoutPending(base), revoked: true }, finish);
          continue;
        }
        ctx.lease = { soleHolder: true, ...(lease.owned === undefined ? {} : { owned: lease.owned }) };
      }
      const outcome = await driver.revoke(ctx, base.state);
      if (outcome.status === 'pending') {
        const pending = this.pendingWork(base.pending, 'revoke', outcome);
        if (pending.polls > MAX_POLLS) {
          // Retried by the state machine for hours, then REVOKE_FAILED and the alarm: revocation is never dropped.
          throw new Error(
            `integration ${ctx.integration.id}: the target did not finish revoking after ${MAX_POLLS} checks since ${pending.since} (last: ${outcome.reason})`,
          );
        }
        request = await this.record(request, 'REVOKING', { ...base, state: outcome.state, pending });
        continue;
      }
      if (key !== undefined) await store.finishLeaseRevoke(key, request.id, this.change('lease-free'));
      const cleanup =
        outcome.cleanup === undefined
          ? undefined
          : {
              dueAt: new Date(this.now().getTime() + Math.max(outcome.cleanup.afterSeconds, 0) * 1000).toISOString(),
              state: outcome.cleanup.state,
            };
      request = await this.record(
        request,
        'REVOKING',
        {
          ...withoutPending(eraseSecret(base)),
          revoked: true,
          ...(cleanup === undefined ? {} : { cleanup }),
        },
        finish,
      );
    }
    // Every unit revoked before this run (a repeated step): finish now; else the last record did, or work is left.
    ({ request } = await store.updateRequest(requestId, finish, { current: request }));
    return this.routeOf(request);
  }

  async revokeFailed(requestId: string, error: { Error: string; Cause?: string }): Promise<void> {
    const reason = failureReason(error);
    await this.deps.store.updateRequest(requestId, (current) =>
      current.status === 'REVOKING' ? failRevoke(current, { ...this.actor('revoke-failed', reason), reason }) : null,
    );
  }

  /**
   * The cleanups revokes asked for (e.g. removing a deny statement once no session it denies can still be
   * valid), once due. A cleanup that fails is retried with backoff and given up after MAX_CLEANUP_ATTEMPTS (logged
   * as an error): what it removes only denies sessions of an ended request.
   */
  async cleanup(requestId: string, driver: IntegrationDriver, hint?: StepHint): Promise<LoadOutput> {
    const read = await this.readForStep(requestId, hint);
    let { request } = read;
    if (request === undefined) return MISSING;
    if (!isTerminalStatus(request.status)) return this.routeOf(request);
    const types = await this.unitTypes(request);
    const { integrations } = read;
    for (const [index, unit] of request.units.entries()) {
      if (types[index] !== driver.type) continue;
      const grant = grantOf(request, unit);
      const due = grant?.cleanup;
      if (grant === undefined || due === undefined || Date.parse(due.dueAt) > this.now().getTime()) continue;
      const { cleanup: _done, ...rest } = grant;
      let next: UnitGrant = rest;
      try {
        if (driver.cleanup !== undefined) {
          await driver.cleanup(await this.context(request, index, driver, 'cleanup', integrations), due.state);
        }
      } catch (error) {
        const attempts = (typeof due.state.attempts === 'number' ? due.state.attempts : 0) + 1;
        if (attempts >= MAX_CLEANUP_ATTEMPTS) {
          logger.error('cleanup after revoke kept failing; given up', {
            requestId,
            integrationId: unit.integrationId,
            error: error instanceof Error ? error.message : String(error),
          });
        } else {
          const retryAt = new Date(this.now().getTime() + 60_000 * 2 ** attempts).toISOString();
          next = { ...rest, cleanup: { dueAt: retryAt, state: { ...due.state, attempts } } };
        }
      }
      request = await this.record(request, request.status, next);
    }
    return this.routeOf(request);
  }

  /**
   * Credentials for the grantee, issued now (drivers with capabilities.issuesCredentials: e.g. an STS session
   * capped by role chaining, re-issued on every call until expiresAt). Only the grantee, only while ACTIVE.
   */
  async issueCredentials(
    requestId: string,
    caller: string,
    driver: IntegrationDriver,
  ): Promise<IssueCredentialsAnswer> {
    const request = await this.deps.store.getRequest(requestId);
    if (request === undefined || request.grantee.sub !== caller || request.status !== 'ACTIVE') {
      throw new ForbiddenError('Credentials are issued to the grantee of an ACTIVE request only', 'id');
    }
    if (driver.issueCredentials === undefined) return { units: [] };
    const types = await this.unitTypes(request);
    const integrations: IntegrationReads = new Map();
    const units: IssueCredentialsAnswer['units'] = [];
    for (const [index, unit] of request.units.entries()) {
      if (types[index] !== driver.type) continue;
      const grant = grantOf(request, unit);
      if (grant === undefined || grant.pending !== undefined || grant.revoked === true) continue;
      const issued = await driver.issueCredentials(
        await this.context(request, index, driver, 'grant', integrations),
        grant.state,
      );
      units.push({ unit, fields: issued.fields, expiresAt: issued.expiresAt.toISOString() });
    }
    return { units };
  }

  /** What the integration's target offers (the driver's discover), for admins writing its resources. */
  async discover(integrationId: string, driver: IntegrationDriver): Promise<DiscoverAnswer> {
    const integration = await this.deps.store.getIntegration(integrationId);
    if (integration === undefined) throw new NotFoundError(`No integration '${integrationId}'`, 'id');
    if (integration.type !== driver.type || driver.discover === undefined) {
      throw new ValidationError(`${integration.type} integrations cannot list what their target offers`, 'id');
    }
    const secret =
      integration.secretRef === undefined ? undefined : await this.deps.resolveSecret(integration.secretRef);
    return driver.discover({ integration, admin: secret === undefined ? {} : { secret }, now: this.now() });
  }

  /**
   * The orphan sweep's read (lib/services/sweep.ts): every principal Stint created on the integration's target, and
   * the principal each holder (a unit of a live request) has there, by the driver's deterministic principalOf.
   */
  async listManaged(integrationId: string, holders: Holder[], driver: IntegrationDriver): Promise<ListManagedAnswer> {
    const { integration, admin, listManaged, principalOf } = await this.sweepTarget(integrationId, driver);
    const managed = await listManaged({ integration, admin, now: this.now() });
    return {
      managed: managed.map((p) => ({ name: p.name, ...(p.requestId === undefined ? {} : { requestId: p.requestId }) })),
      principals: holders.map((h) => principalOf(h.requestId, h.unit)),
    };
  }

  /** The orphan sweep's removal of one principal no live request holds (the driver refuses one without its marker). */
  async revokeManaged(
    integrationId: string,
    principal: ManagedPrincipal,
    driver: IntegrationDriver,
  ): Promise<{ revoked: true }> {
    const { integration, admin, revokeManaged } = await this.sweepTarget(integrationId, driver);
    await revokeManaged({ integration, admin, now: this.now() }, principal);
    return { revoked: true };
  }

  private async sweepTarget(integrationId: string, driver: IntegrationDriver) {
    const integration = await this.deps.store.getIntegration(integrationId);
    if (integration === undefined) throw new NotFoundError(`No integration '${integrationId}'`, 'id');
    const { principalOf, listManaged, revokeManaged } = driver;
    if (
      integration.type !== driver.type ||
      principalOf === undefined ||
      listManaged === undefined ||
      revokeManaged === undefined
    ) {
      throw new ValidationError(`${integration.type} integrations do not take part in the orphan sweep`, 'id');
    }
    const secret =
      integration.secretRef === undefined ? undefined : await this.deps.resolveSecret(integration.secretRef);
    return {
      integration,
      admin: secret === undefined ? {} : { secret },
      principalOf: principalOf.bind(driver),
      listManaged: listManaged.bind(driver),
      revokeManaged: revokeManaged.bind(driver),
    };
  }
}

/** A per-request principal has none; a shared thing one key (several keys per unit are not supported). */
function singleLeaseKey(driver: IntegrationDriver, ctx: DriverContext): string | undefined {
  const keys = driver.leaseKeys(ctx);
  if (keys.length > 1)
    throw new GrantPermanentError(`driver ${driver.type} named ${keys.length} lease keys for one unit`);
  return keys[0];
}

/** Stable for (request, unit), ≤ 64 characters: target APIs that take a client token get it. */
export function idempotencyKey(requestId: string, unit: AccessUnit): string {
  return createHash('sha256')
    .update([requestId, unit.integrationId, unit.resource, unit.permission].join('\0'))
    .digest('hex')
    .slice(0, 32);
}

function eraseSecret(grant: UnitGrant): UnitGrant {
  const { sealedSecret: _erased, ...rest } = grant;
  return rest;
}

function withoutPending(grant: UnitGrant): UnitGrant {
  const { pending: _done, ...rest } = grant;
  return rest;
}

/** The Catch's Cause is the Lambda error as JSON ({ errorType, errorMessage, trace }): keep the message only. */
export function failureReason(error: { Error: string; Cause?: string }): string {
  let message = error.Cause ?? '';
  try {
    const parsed: unknown = JSON.parse(message);
    if (
      parsed !== null &&
      typeof parsed === 'object' &&
      'errorMessage' in parsed &&
      typeof parsed.errorMessage === 'string'
    ) {
      message = parsed.errorMessage;
    }
  } catch {
    // not JSON: keep as is
  }
  return `${error.Error}: ${message}`.slice(0, 2000);
}

import { ulid } from 'ulid';
import {
  applyVote,
  approverStanding,
  type OnCallAnswer,
  type OnCallAnswers,
  onCallApproverKey,
  onCallSets,
} from '#lib/domain/approvals.ts';
import { sameUnit } from '#lib/domain/bundle.ts';
import type { Channel } from '#lib/domain/common.ts';
import { buildRequest, type CreateRequestInput, isRequestor } from '#lib/domain/create-request.ts';
import { ForbiddenError, InvalidTransitionError, NotFoundError, ValidationError } from '#lib/domain/errors.ts';
import type { OnCallRef } from '#lib/domain/flow.ts';
import type { Identity } from '#lib/domain/identity.ts';
import { cancelRequest, extendGrant, requestRevoke } from '#lib/domain/lifecycle.ts';
import type { AccessRequest, RequestStatus } from '#lib/domain/request.ts';
import { type IdentityDirectory, resolveWithEntry } from '#lib/identity/resolver.ts';
import { CAPABILITIES } from '#lib/integrations/capabilities.ts';
import { logger } from '#lib/observability/logger.ts';
import { openSecret } from '#lib/secrets/seal.ts';
import type { Page, Store } from '#lib/store/store.ts';
import { type DriverType, type IssueCredentialsAnswer, isDriverType } from '#lib/workflow/contract.ts';
import type { Executions } from '#lib/workflow/executions.ts';
import { routeOf } from '#lib/workflow/route.ts';
import { askOnCall, type OnCallProviders, onCallAnswersFor } from './oncall.ts';

export type Roles = { adminGroup: string; auditorGroup: string };

export type RequestServiceDeps = {
  store: Store;
  executions: Executions;
  roles: Roles;
  now?: () => Date;
  newId?: () => string;
  /** Key material that seals issued credentials (resolved lazily: only the access route needs it). */
  credentialsKey?: () => Promise<string>;
  /** The identity directory: who the grantee of an on-behalf request is (their groups decide whether they may hold it). */
  directory?: IdentityDirectory;
  /**
   * The configured on-call providers (STINT_ONCALL): asked at the moment of a vote for the pinned flow's on-call
   * approver sets, and at request time for a flow's on-call requestors. Absent: none configured (every on-call set
   * then admits nobody).
   */
  oncall?: OnCallProviders;
};

export type Scope = 'mine' | 'approvals' | 'all';

/** Credentials issued now by the driver function of a type (capabilities.issuesCredentials): the access route. */
export type IssueCredentials = (type: DriverType, requestId: string, caller: string) => Promise<IssueCredentialsAnswer>;

export type VoteOutcome = 'recorded' | 'approved' | 'rejected' | 'duplicate';

/**
 * The request lifecycle as callers drive it (the API, and the Slack, Teams and Jira callbacks with their own channel).
 * Every change is one conditional write through Store.updateRequest; a wait in the workflow is resumed only
 * by the caller whose write made the decision, so a decision resumes the execution exactly once.
 */
export class RequestService {
  private readonly now: () => Date;
  private readonly newId: () => string;

  constructor(private readonly deps: RequestServiceDeps) {
    this.now = deps.now ?? (() => new Date());
    this.newId = deps.newId ?? (() => ulid());
  }

  isAdmin(who: Identity): boolean {
    return who.groups.includes(this.deps.roles.adminGroup);
  }

  isAuditor(who: Identity): boolean {
    return this.isAdmin(who) || who.groups.includes(this.deps.roles.auditorGroup);
  }

  /** `who` is the resolved identity (lib/identity/resolver.ts): directory groups and manager already merged in. */
  async create(input: CreateRequestInput, who: Identity, channel: Channel): Promise<AccessRequest> {
    const { store } = this.deps;
    const flow = await store.getFlow(input.flowId);
    if (flow === undefined) throw new NotFoundError(`No flow named '${input.flowId}'`, 'flowId');
    const bundle = input.bundle === undefined ? undefined : await store.getBundle(input.bundle);
    if (input.bundle !== undefined && bundle === undefined && flow.bundles.includes(input.bundle)) {
      throw new NotFoundError(`No bundle named '${input.bundle}'`, 'bundle');
    }
    const integrationIds = new Set([...flow.targets, ...(bundle?.units ?? [])].map((u) => u.integrationId));
    const integrations = await store.getIntegrations([...integrationIds]);
    const grantee = await this.granteeOf(input, who);
    const now = this.now();
    // On-call requestors are asked only for someone the flow does not admit otherwise (buildRequest decides).
    const asked = flow.deleted === true || isRequestor(flow, who) ? [] : (flow.requestors.oncall ?? []);
    const onCallRequestors = await Promise.all(asked.map((ref) => askOnCall(this.providers(), ref, now)));
    const request = buildRequest(input, {
      id: this.newId(),
      requester: who,
      ...(grantee === undefined ? {} : { grantee }),
      isAdmin: this.isAdmin(who),
      flow,
      ...(bundle === undefined ? {} : { bundle }),
      integrations,
      now,
      channel,
      onCallRequestors,
    });
    await store.createRequest(request);
    await this.startSafely(request);
    return request;
  }

  /**
   * The grantee of an on-behalf request as the directory knows them (lib/identity/resolver.ts, the rule every
   * caller is resolved by), so the flow's requestor groups are judged on their groups, not the admin's. Someone
   * the directory does not know keeps the input's sub and email and no groups (a flow's `users` or `everyone` can
   * still admit them); a deactivated user, or an email the directory does not have for them, is refused.
   */
  private async granteeOf(input: CreateRequestInput, requester: Identity): Promise<Identity | undefined> {
    const named = input.grantee;
    const directory = this.deps.directory;
    if (named === undefined || named.sub === requester.sub || directory === undefined) return undefined;
    const { entry, identity } = await resolveWithEntry(directory, { sub: named.sub, email: named.email, groups: [] });
    if (entry === undefined) return undefined;
    if (identity === undefined) throw new ForbiddenError(`${named.sub} is deactivated in the directory`, 'grantee');
    if (!entry.emails.some((e) => e.toLowerCase() === named.email.toLowerCase())) {
      throw new ValidationError(`grantee.email is not an email the directory has for ${named.sub}`, 'grantee.email');
    }
    return identity;
  }

  /** Starting the execution can fail after the item is written; the reconciler starts it then. */
  private async startSafely(request: AccessRequest): Promise<void> {
    try {
      // The route of what was just written: the execution goes straight to it (no Load).
      await this.deps.executions.start(request.id, 0, routeOf(request, this.now()));
    } catch (error) {
      logger.error('could not start the execution; the reconciler will', {
        requestId: request.id,
        error: error instanceof Error ? error.name : 'unknown',
      });
    }
  }

  /**
   * Who is on call now for each distinct on-call query the flows' approver sets (and escalation tiers) name, by
   * onCallApproverKey: the approvals listing reads the pointers of each query the caller holds. Flows are few (an admin
   * list, one Query per 100) and the providers cache their answers; a provider that cannot answer is `unavailable`,
   * so its queries admit nobody and the caller's other approvals list as usual. No provider configured: no flow read.
   * A request pinned to a flow version whose on-call query no current flow names any more is not listed for it (the
   * request link and the DM still reach its approvers).
   */
  private async onCallNow(): Promise<Map<string, OnCallAnswer>> {
    const providers = this.providers();
    if (providers.size === 0) return new Map();
    const refs = new Map<string, OnCallRef>();
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.listFlows({ limit: 100, ...(cursor === undefined ? {} : { cursor }) });
      for (const flow of page.items)
        for (const { oncall } of onCallSets({ flow })) refs.set(onCallApproverKey(oncall), oncall);
      cursor = page.cursor;
    } while (cursor !== undefined);
    const now = this.now();
    const asked = [...refs];
    const answers = await Promise.all(asked.map(([, ref]) => askOnCall(providers, ref, now)));
    return new Map(asked.map(([key], i) => [key, answers[i] as OnCallAnswer]));
  }

  private providers(): OnCallProviders {
    return this.deps.oncall ?? new Map();
  }

  /**
   * A request is visible to its requester, grantee, eligible approvers (on-call ones while on call), those who voted
   * on it, admins and auditors; to others it does not exist.
   */
  async get(id: string, who: Identity): Promise<AccessRequest> {
    return (await this.getWithOnCall(id, who)).request;
  }

  /**
   * As `get`, with who is on call now for each on-call approver set of a PENDING request (an on-call approver sees
   * the request; the approval view says which provider could not be asked).
   */
  async getWithOnCall(id: string, who: Identity): Promise<{ request: AccessRequest; oncall: OnCallAnswers }> {
    const request = await this.deps.store.getRequest(id);
    if (request === undefined) throw requestNotFound(id);
    const oncall = await onCallAnswersFor(this.providers(), request, this.now());
    if (!this.canSee(request, who, oncall)) throw requestNotFound(id);
    return { request, oncall };
  }

  /**
   * `store.updateRequest` for a caller: a request the caller may not see is refused exactly as a missing one
   * (same error, same message, before any rule that could tell them it exists), on every route of a request.
   */
  private async updateVisible(
    id: string,
    who: Identity,
    mutate: (current: AccessRequest) => AccessRequest | null,
    withOnCall?: { current: AccessRequest; oncall: OnCallAnswers },
  ): Promise<{ request: AccessRequest; changed: boolean }> {
    try {
      return await this.deps.store.updateRequest(
        id,
        (current) => {
          if (!this.canSee(current, who, withOnCall?.oncall)) throw requestNotFound(id);
          return mutate(current);
        },
        withOnCall === undefined ? {} : { current: withOnCall.current },
      );
    } catch (error) {
      if (error instanceof NotFoundError) throw requestNotFound(id);
      throw error;
    }
  }

  /**
   * Whoever voted on it sees it too: an on-call approver is an approver only while on call (and while the request is
   * PENDING, when the providers are asked), and must still see the request they decided afterwards.
   */
  private canSee(request: AccessRequest, who: Identity, oncall?: OnCallAnswers): boolean {
    return (
      request.requester.sub === who.sub ||
      request.grantee.sub === who.sub ||
      this.isAuditor(who) ||
      request.votes.some((v) => v.by === who.sub) ||
      approverStanding(request, who, oncall).eligible
    );
  }

  async list(
    who: Identity,
    options: { scope: Scope; status?: RequestStatus; limit?: number; cursor?: string },
  ): Promise<Page<AccessRequest>> {
    return (await this.listWithOnCall(who, options)).page;
  }

  /**
   * As `list`, with what the providers answered for scope=approvals (by onCallApproverKey; empty for the other
   * scopes), so each listed request's approval view can say which on-call set admits the caller now
   * (onCallAnswersByKey).
   */
  async listWithOnCall(
    who: Identity,
    options: { scope: Scope; status?: RequestStatus; limit?: number; cursor?: string },
  ): Promise<{ page: Page<AccessRequest>; oncall: ReadonlyMap<string, OnCallAnswer> }> {
    if (options.scope === 'approvals') {
      if (options.status !== undefined && options.status !== 'PENDING') {
        throw new ValidationError('scope=approvals lists pending requests only', 'query.status');
      }
      const oncall = await this.onCallNow();
      const page = await this.deps.store.listRequestsAwaitingApprover(who, pagingOf(options), oncall);
      return { page, oncall };
    }
    return { page: await this.listOthers(who, { ...options, scope: options.scope }), oncall: new Map() };
  }

  private async listOthers(
    who: Identity,
    options: { scope: Exclude<Scope, 'approvals'>; status?: RequestStatus; limit?: number; cursor?: string },
  ): Promise<Page<AccessRequest>> {
    const { store } = this.deps;
    const paging = pagingOf(options);
    switch (options.scope) {
      case 'mine':
        return store.listRequestsByRequester(who.sub, {
          ...paging,
          ...(options.status === undefined ? {} : { status: options.status }),
        });
      case 'all':
        if (!this.isAuditor(who)) throw new ForbiddenError('scope=all is for admins and auditors', 'query.scope');
        return store.listAllRequests({
          ...paging,
          ...(options.status === undefined ? {} : { status: options.status }),
        });
    }
  }

  async decide(
    id: string,
    who: Identity,
    input: { vote: 'approve' | 'reject'; reason?: string; channel: Channel },
  ): Promise<AccessRequest> {
    return (await this.vote(id, who, input)).request;
  }

  /** As `decide`, also saying what the vote did (chat channels show 'duplicate' to a double click). */
  async vote(
    id: string,
    who: Identity,
    input: { vote: 'approve' | 'reject'; reason?: string; channel: Channel },
  ): Promise<{ request: AccessRequest; outcome: VoteOutcome; oncall: OnCallAnswers }> {
    // Assigned inside the mutation (re-run on a lost race): the last run is the one that was written.
    const seen: { outcome: VoteOutcome; token: string | undefined } = {
      outcome: 'recorded',
      token: undefined,
    };
    // Who is on call at the moment of the vote, for the on-call sets of the pinned flow (which no write changes, so
    // the answers hold for every retry of the conditional write below). Read first: the providers are asked outside
    // the write, and the read is handed to the write so it costs no second read.
    const now = this.now();
    const first = await this.deps.store.getRequest(id);
    if (first === undefined) throw requestNotFound(id);
    const oncall = await onCallAnswersFor(this.providers(), first, now);
    const { request } = await this.updateVisible(
      id,
      who,
      (current) => {
        const result = applyVote(current, {
          who,
          vote: input.vote,
          channel: input.channel,
          now,
          oncall,
          ...(input.reason === undefined ? {} : { reason: input.reason }),
        });
        seen.outcome = result.outcome;
        seen.token = current.approvalToken;
        return result.outcome === 'duplicate' ? null : result.request;
      },
      { current: first, oncall },
    );
    // Only the write that decided resumes the wait. No token yet: register-token sees the decision and resumes itself.
    if (seen.token !== undefined && seen.outcome === 'approved')
      await this.deps.executions.resume(seen.token, routeOf(request, this.now()));
    if (seen.token !== undefined && seen.outcome === 'rejected')
      await this.deps.executions.fail(seen.token, 'Rejected', 'The request was rejected');
    return { request, outcome: seen.outcome, oncall };
  }

  /**
   * One conditional write through a domain function, then the workflow's wait is ended with the token the
   * written version replaced (a stale token is harmless: the wait re-loads and routes on the data).
   */
  private async changeAndWake(
    id: string,
    who: Identity,
    wait: 'approvalToken' | 'activeToken',
    change: (current: AccessRequest) => AccessRequest,
    wake: (token: string, written: AccessRequest) => Promise<boolean>,
  ): Promise<AccessRequest> {
    let token: string | undefined;
    const { request } = await this.updateVisible(id, who, (current) => {
      token = current[wait];
      return change(current);
    });
    if (token !== undefined) await wake(token, request);
    return request;
  }

  private actor(who: Identity, input: { reason?: string; channel: Channel }) {
    return {
      who,
      channel: input.channel,
      now: this.now(),
      ...(input.reason === undefined ? {} : { reason: input.reason }),
    };
  }

  async cancel(id: string, who: Identity, input: { reason?: string; channel: Channel }): Promise<AccessRequest> {
    return this.changeAndWake(
      id,
      who,
      'approvalToken',
      (current) => cancelRequest(current, this.actor(who, input)),
      (token) => this.deps.executions.fail(token, 'Cancelled', 'The request was cancelled'),
    );
  }

  async revoke(id: string, who: Identity, input: { reason?: string; channel: Channel }): Promise<AccessRequest> {
    return this.changeAndWake(
      id,
      who,
      'activeToken',
      (current) => requestRevoke(current, { ...this.actor(who, input), isAdmin: this.isAdmin(who) }),
      (token, written) => this.deps.executions.resume(token, routeOf(written, this.now())),
    );
  }

  /** The expiry wait re-loads: it applies the new expiry on the target and waits for the new time. */
  async extend(
    id: string,
    who: Identity,
    input: { minutes: number; reason?: string; channel: Channel },
  ): Promise<AccessRequest> {
    return this.changeAndWake(
      id,
      who,
      'activeToken',
      (current) =>
        extendGrant(current, { ...this.actor(who, input), minutes: input.minutes, isAdmin: this.isAdmin(who) }),
      (token, written) => this.deps.executions.resume(token, routeOf(written, this.now())),
    );
  }

  /**
   * What the grantee needs to use the access, while ACTIVE, for the grantee only: each unit's access view (tagged by
   * kind: database, aws-account, aws-role, custom), its sealed password or secret opened, and credentials issued now
   * by drivers that issue them on read (an STS session, re-issued on every call until expiresAt). One unit: its
   * fields at the top level; several: also `units`.
   */
  async access(id: string, who: Identity, issue?: IssueCredentials): Promise<AccessDetails> {
    const request = await this.get(id, who);
    if (request.grantee.sub !== who.sub) throw new ForbiddenError('Only the grantee may read the credentials', 'id');
    if (request.status !== 'ACTIVE' || request.expiresAt === undefined) {
      throw new InvalidTransitionError(
        `Credentials are available while the grant is ACTIVE; it is ${request.status}`,
        'status',
      );
    }
    const key = this.deps.credentialsKey;
    const types = request.unitTypes ?? [];
    const issuing = [...new Set(types)].filter(
      (t): t is DriverType => isDriverType(t) && CAPABILITIES[t].issuesCredentials,
    );
    const issued: IssueCredentialsAnswer['units'] = [];
    for (const type of issuing) {
      if (issue === undefined) throw new Error('no driver client to issue credentials with');
      issued.push(...(await issue(type, request.id, who.sub)).units);
    }
    const units = await Promise.all(
      request.grants.map(async (g) => {
        const secretName = g.access?.kind === undefined || g.access.kind === 'database' ? 'password' : 'secret';
        const fresh = issued.find((i) => sameUnit(i.unit, g.unit));
        return {
          integrationId: g.unit.integrationId,
          resource: g.unit.resource,
          permission: g.unit.permission,
          ...g.access,
          ...(g.sealedSecret === undefined || key === undefined
            ? {}
            : { [secretName]: await openSecret(g.sealedSecret, await key()) }),
          ...(fresh === undefined ? {} : { credentials: { ...fresh.fields, expiresAt: fresh.expiresAt } }),
        };
      }),
    );
    const [first] = units;
    if (first === undefined) throw new NotFoundError('This grant issued no credentials', 'id');
    return { ...first, expiresAt: request.expiresAt, ...(units.length > 1 ? { units } : {}) };
  }
}

function pagingOf(options: { limit?: number; cursor?: string }): { limit?: number; cursor?: string } {
  return {
    ...(options.limit === undefined ? {} : { limit: options.limit }),
    ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
  };
}

/** What every route of a request answers for an id the caller may not see, or that does not exist. */
function requestNotFound(id: string): NotFoundError {
  return new NotFoundError(`No request '${id}'`, 'id');
}

export type AccessDetails = Record<string, unknown> & { expiresAt: string };

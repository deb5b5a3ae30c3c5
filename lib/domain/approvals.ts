import type { Channel } from './common.ts';
import { ConflictError, InvalidTransitionError, NotApproverError, PolicyError } from './errors.ts';
import { approverSets, reachedTier } from './escalation.ts';
import type { ApprovalPolicy, ApproverSet, OnCallRef } from './flow.ts';
import { type Identity, SYSTEM_SUBJECT } from './identity.ts';
import { changeStatus } from './lifecycle.ts';
import type { AccessRequest, OnCallReliance, Vote } from './request.ts';

type ManualPolicy = Extract<ApprovalPolicy, { mode: 'manual' }>;

/** One person on call, as an on-call provider answered (lib/oncall/types.ts OnCallShift; email lower-cased). */
export type OnCallShiftAnswer = OnCallReliance & { email: string };

/**
 * What the on-call provider of one on-call approver set answered at the moment asked: the shifts, or why it could
 * not be asked (down, refused, unknown schedule, not configured). The service asks; the domain only reads answers.
 */
export type OnCallAnswer = { shifts: readonly OnCallShiftAnswer[] } | { unavailable: string };
/** By approver-set index (into approverSets(policy)), for each set that names `oncall`. */
export type OnCallAnswers = ReadonlyMap<number, OnCallAnswer>;

/** The indices (into approverSets(policy)) of the sets of the pinned flow that name `oncall`, with what they name. */
export function onCallSets(
  request: Pick<AccessRequest, 'flow'>,
): { index: number; oncall: NonNullable<ApproverSet['oncall']> }[] {
  const policy = request.flow.approval;
  if (policy.mode !== 'manual') return [];
  return approverSets(policy).flatMap(({ set, index }) =>
    set.oncall === undefined ? [] : [{ index, oncall: set.oncall }],
  );
}

/** The shift of `who` in an answer: matched by email, lower-cased. Undefined when they are not on call. */
export function shiftOf(answer: OnCallAnswer | undefined, who: Pick<Identity, 'email'>): OnCallShiftAnswer | undefined {
  if (answer === undefined || !('shifts' in answer)) return undefined;
  const email = who.email.toLowerCase();
  return answer.shifts.find((s) => s.email.toLowerCase() === email);
}

/**
 * The request with whoever is on call now (for the on-call sets of the tiers reached) added to `onCallNotified`,
 * when someone new is: a shift changed before a decision, and the new person is to be asked (the stream turns the
 * write into `request.oncall_changed`, and Slack/Teams notify DM them). The requester and the grantee are never added.
 * Null when nothing changed, the request is no longer PENDING, or every answer is unavailable (fail closed: a provider
 * that is down notifies nobody). The record keeps everyone ever added, so nobody is added, or asked, twice.
 */
export function onCallChange(request: AccessRequest, answers: OnCallAnswers, now: Date): AccessRequest | null {
  const policy = request.flow.approval;
  if (request.status !== 'PENDING' || policy.mode !== 'manual') return null;
  const known = request.onCallNotified ?? [];
  const seen = new Set(known.map((n) => `${n.set}#${n.email}`));
  const excluded = new Set([request.requester.email.toLowerCase(), request.grantee.email.toLowerCase()]);
  const reached = reachedTier(request);
  const at = now.toISOString();
  const added: NonNullable<AccessRequest['onCallNotified']> = [];
  for (const { set, index, tier } of approverSets(policy)) {
    const answer = answers.get(index);
    if (set.oncall === undefined || tier > reached || answer === undefined || !('shifts' in answer)) continue;
    for (const shift of answer.shifts) {
      const email = shift.email.toLowerCase();
      if (excluded.has(email) || seen.has(`${index}#${email}`)) continue;
      seen.add(`${index}#${email}`);
      added.push({ set: index, provider: shift.provider, email, end: shift.end, at });
    }
  }
  if (added.length === 0) return null;
  return {
    ...request,
    onCallNotified: [...known, ...added].slice(-200),
    lastChange: { by: SYSTEM_SUBJECT, channel: 'reconciler', action: 'oncall-change', at },
  };
}

function reliance(shift: OnCallShiftAnswer): OnCallReliance {
  return {
    provider: shift.provider,
    ...(shift.schedule === undefined ? {} : { schedule: shift.schedule }),
    ...(shift.escalationPolicy === undefined ? {} : { escalationPolicy: shift.escalationPolicy }),
    ...(shift.level === undefined ? {} : { level: shift.level }),
    start: shift.start,
    end: shift.end,
  };
}

/**
 * Whether `who` may vote on `request`, judged against the flow pinned on the request (never the current flow).
 * Nobody approves a self-serve flow. The requester is never an approver of their own request, whatever their
 * groups and even if they are an admin; neither is the grantee, when someone else asked on their behalf.
 * A set with `manager: true` admits the requester's manager (`request.requester.manager`, from the directory).
 * A set with `owners: true` admits the owners of the requested units as fixed on the request (`request.unitOwners`);
 * `ownerOf` then lists the units (indices into `request.units`) the caller owns. The requester and grantee checks
 * come first, so owning the resource never lets someone approve their own request.
 * Escalation: members of an escalation tier are eligible only once the request has reached that tier (as recorded
 * by the reconciler on `request.escalation`); earlier tiers stay eligible. `sets` are indices into
 * approverSets(policy): the policy's own sets first, then the tiers.
 * On-call: a set with `oncall` admits whoever its provider says is on call (`oncall`, the service's answers at the
 * moment of the vote, by set index), matched by email; `oncall` in the result then names the shift each such set
 * relied on. A set whose answer is missing or unavailable admits nobody (fail closed); the other sets are unaffected,
 * and a voter no set admits is told which provider could not be asked.
 */
export function approverStanding(
  request: AccessRequest,
  who: Identity,
  oncall: OnCallAnswers = new Map(),
):
  | { eligible: true; sets: number[]; ownerOf?: number[]; oncall?: NonNullable<Vote['oncall']> }
  | { eligible: false; reason: string } {
  const policy = request.flow.approval;
  if (policy.mode !== 'manual') {
    return { eligible: false, reason: 'this flow is self-serve: it has no approvers' };
  }
  if (who.sub === request.requester.sub) {
    return { eligible: false, reason: 'requesters cannot approve their own request' };
  }
  if (who.sub === request.grantee.sub) {
    return { eligible: false, reason: 'grantees cannot approve access for themselves' };
  }
  const sets: number[] = [];
  let laterTier = false;
  let asOwner = false;
  const reached = reachedTier(request);
  const owned = ownedUnits(request, who.sub);
  const shifts: NonNullable<Vote['oncall']> = [];
  const unavailable: string[] = [];
  for (const { set, index, tier } of approverSets(policy)) {
    const isManager =
      set.manager === true && request.requester.manager !== undefined && who.sub === request.requester.manager;
    const isOwner = set.owners === true && owned.length > 0;
    let shift: OnCallShiftAnswer | undefined;
    if (set.oncall !== undefined) {
      const answer = oncall.get(index);
      shift = shiftOf(answer, who);
      // No answer (a view that did not ask): nobody is admitted through the set, and there is no failure to report.
      if (answer !== undefined && 'unavailable' in answer) unavailable.push(answer.unavailable);
    }
    if (
      !(
        set.users.includes(who.sub) ||
        who.groups.some((g) => set.groups.includes(g)) ||
        isManager ||
        isOwner ||
        shift !== undefined
      )
    ) {
      continue;
    }
    if (tier <= reached) {
      sets.push(index);
      if (isOwner) asOwner = true;
      if (shift !== undefined) shifts.push({ set: index, ...reliance(shift) });
    } else laterTier = true;
  }
  if (sets.length === 0) {
    const why = laterTier
      ? 'your escalation tier has not been reached yet for this request'
      : 'you are not an approver of this request';
    return {
      eligible: false,
      reason:
        unavailable.length === 0
          ? why
          : `${why} (who is on call could not be checked, so nobody is admitted as on call: ${[...new Set(unavailable)].join('; ')})`,
    };
  }
  return {
    eligible: true,
    sets,
    ...(asOwner ? { ownerOf: owned } : {}),
    ...(shifts.length > 0 ? { oncall: shifts } : {}),
  };
}

/** Indices of the request's units that `sub` owns, as fixed on the request when it was made. */
function ownedUnits(request: Pick<AccessRequest, 'unitOwners'>, sub: string): number[] {
  return (request.unitOwners ?? []).flatMap((u, i) => (u.owners.includes(sub) ? [i] : []));
}

/**
 * The outcome of the votes under a manual policy. Only votes recorded with at least one approver set of the
 * policy count (applyVote records the voter's sets); each subject counts once.
 * - any counted reject → rejected;
 * - anyOf: one approval; allOf: each set has an approval from one of its members; quorum N: N distinct approvers.
 * An escalation tier stands in for the approvers who did not answer: its members' votes count like any approver's
 * (one distinct approver towards a quorum; a reject rejects), and under allOf an approval from a tier member covers
 * every set.
 * A set with `owners: true` approves as a whole: it is met once each of the request's `unitCount` units has an
 * approval from one of its owners (`vote.ownerOf`), and until then its members' approvals count for nothing
 * (towards no rule), so the owner of one resource never approves another's part. Once it is met, each of those
 * owners counts as one approver, like any set's members. One owner's reject rejects, like every approver's.
 */
export function tally(policy: ManualPolicy, votes: Vote[], unitCount: number): 'pending' | 'approved' | 'rejected' {
  const ownSets = policy.sets.length;
  const all = approverSets(policy);
  const allSets = all.length;
  const counted = votes.filter((v) => v.sets.some((i) => i >= 0 && i < allSets));
  if (counted.some((v) => v.vote === 'reject')) return 'rejected';
  const approvals = counted.filter((v) => v.vote === 'approve');
  // Whether set i is met: one approval from a member, or (owners) every unit approved by one of its owners.
  const met = all.map(({ set, index }) => {
    const members = approvals.filter((v) => v.sets.includes(index));
    if (set.owners !== true) return members.length > 0;
    const covered = new Set(members.flatMap((v) => v.ownerOf ?? []));
    return Array.from({ length: unitCount }, (_, u) => u).every((u) => covered.has(u));
  });
  const counts = (v: Vote) =>
    v.sets.some((i) => i >= 0 && i < allSets && (all[i]?.set.owners !== true || met[i] === true));
  const approvers = new Set(approvals.filter(counts).map((v) => v.by));
  switch (policy.rule.type) {
    case 'anyOf':
      return approvers.size >= 1 ? 'approved' : 'pending';
    case 'allOf': {
      if (met.some((m, i) => m && i >= ownSets)) return 'approved';
      return policy.sets.every((_, i) => met[i] === true) ? 'approved' : 'pending';
    }
    case 'quorum':
      return approvers.size >= policy.rule.count ? 'approved' : 'pending';
  }
}

/**
 * Records one approver's vote and decides the request when the policy is met.
 * - The same subject casting the same vote again (a repeated click or callback) → 'duplicate', request
 *   unchanged, whatever the status now is, so a retried vote is idempotent even after it decided the request.
 * - Otherwise: only while PENDING (InvalidTransitionError); only eligible approvers (NotApproverError);
 *   a subject cannot change its vote (ConflictError); a reason when the flow requires one (PolicyError).
 * The version is left to the store's conditional write.
 */
export function applyVote(
  request: AccessRequest,
  input: {
    who: Identity;
    vote: 'approve' | 'reject';
    reason?: string;
    channel: Channel;
    now: Date;
    /** Who is on call at `now` for each on-call set of the pinned flow (see approverStanding). */
    oncall?: OnCallAnswers;
  },
): { request: AccessRequest; outcome: 'recorded' | 'approved' | 'rejected' | 'duplicate' } {
  const { who, vote, channel, now } = input;
  const previous = request.votes.find((v) => v.by === who.sub);
  if (previous?.vote === vote) return { request, outcome: 'duplicate' };
  if (request.status !== 'PENDING') {
    throw new InvalidTransitionError(`votes are only taken while PENDING; this request is ${request.status}`, 'status');
  }
  const standing = approverStanding(request, who, input.oncall);
  if (!standing.eligible) throw new NotApproverError(standing.reason);
  if (previous !== undefined) {
    throw new ConflictError(`you already voted to ${previous.vote} this request; a vote cannot be changed`);
  }
  const policy = request.flow.approval;
  // approverStanding is only eligible under a manual policy; this narrows the type.
  if (policy.mode !== 'manual') throw new NotApproverError('this flow is self-serve: it has no approvers');
  const reason = input.reason?.trim() || undefined;
  if (policy.reasonRequired && reason === undefined) {
    throw new PolicyError('this flow requires approvers to give a reason', 'reason');
  }

  const at = now.toISOString();
  const recorded: Vote = {
    by: who.sub,
    email: who.email,
    vote,
    channel,
    at,
    sets: standing.sets,
    ...(standing.ownerOf === undefined ? {} : { ownerOf: standing.ownerOf }),
    ...(standing.oncall === undefined ? {} : { oncall: standing.oncall }),
    ...(reason === undefined ? {} : { reason }),
  };
  const votes = [...request.votes, recorded];
  const outcome = tally(policy, votes, request.units.length);
  if (outcome === 'pending') {
    return {
      request: {
        ...request,
        votes,
        lastChange: { by: who.sub, channel, action: vote, at, ...(reason === undefined ? {} : { reason }) },
      },
      outcome: 'recorded',
    };
  }
  const decision = {
    outcome,
    by: who.sub,
    channel,
    at,
    ...(reason === undefined ? {} : { reason }),
  } as const;
  const decided = changeStatus(
    request,
    outcome === 'approved' ? 'APPROVED' : 'REJECTED',
    { by: who.sub, channel, action: vote, reason, at: now },
    { votes, decision },
  );
  return { request: decided, outcome };
}

/**
 * Keys of everyone who may ever approve the request (`user:<sub>`, `group:<name>`, and `oncall:…` for whoever is on
 * call for an on-call set: onCallApproverKey), for the approvals index: every
 * set of the pinned flow's policy and of each escalation tier, the requester's manager (pinned on the request at
 * creation) when a set admits the manager, and the unit owners fixed on the request when a set admits the owners. A key says "may be an approver"; whether its holder is one *now* (tier
 * reached, not the requester) is approverStanding's answer, which the listing applies to each request it reads.
 */
export function approverKeys(request: Pick<AccessRequest, 'flow' | 'requester' | 'unitOwners'>): string[] {
  const policy = request.flow.approval;
  if (policy.mode !== 'manual') return [];
  const keys = new Set<string>();
  for (const { set } of approverSets(policy)) {
    if (set.oncall !== undefined) keys.add(onCallApproverKey(set.oncall));
    for (const user of set.users) keys.add(`user:${user}`);
    for (const group of set.groups) keys.add(`group:${group}`);
    if (set.manager === true && request.requester.manager !== undefined) keys.add(`user:${request.requester.manager}`);
    if (set.owners === true) {
      for (const unit of request.unitOwners ?? []) for (const owner of unit.owners) keys.add(`user:${owner}`);
    }
  }
  return [...keys];
}

/**
 * The approvals-index key of an on-call set's query: `oncall:<provider>` then `:schedule:<id>`, `:policy:<id>` and
 * `:level:<n>` for the parts it names, each id URI-encoded (as the lease keys' parts are), so no id can forge another
 * query's key. One key per query, whoever is on call for it: the listing reads the partition of each query the caller
 * is on call for now (RequestService.list, scope=approvals).
 */
export function onCallApproverKey(ref: OnCallRef): string {
  return [
    `oncall:${ref.provider}`,
    ref.schedule === undefined ? '' : `:schedule:${encodeURIComponent(ref.schedule)}`,
    ref.escalationPolicy === undefined ? '' : `:policy:${encodeURIComponent(ref.escalationPolicy)}`,
    ref.level === undefined ? '' : `:level:${ref.level}`,
  ].join('');
}

/**
 * The answers for the request's on-call sets (by set index) out of answers asked per query (by onCallApproverKey):
 * the approvals listing asks each distinct query once for every request it reads. A set whose query was not asked has
 * no answer and admits nobody.
 */
export function onCallAnswersByKey(
  request: Pick<AccessRequest, 'flow'>,
  byKey: ReadonlyMap<string, OnCallAnswer>,
): OnCallAnswers {
  const answers = new Map<number, OnCallAnswer>();
  for (const { index, oncall } of onCallSets(request)) {
    const answer = byKey.get(onCallApproverKey(oncall));
    if (answer !== undefined) answers.set(index, answer);
  }
  return answers;
}

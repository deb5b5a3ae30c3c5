import { approversOf } from '#lib/channels/approvers.ts';
import {
  CHAT_EVENT_TYPES,
  type ChatEventType,
  GRANTEE_NOTICES,
  NO_REFRESH,
  REQUESTER_NOTICE,
} from '#lib/channels/notices.ts';
import type { DirectoryUser, LinkingDirectory } from '#lib/directory/types.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { logger } from '#lib/observability/logger.ts';
import { type OnCallProviders, onCallAnswersFor } from '#lib/services/oncall.ts';
import type { Store } from '#lib/store/store.ts';
import { approvalCard, type RequesterNotice, requesterCard, requesterSummary } from './cards.ts';
import { cardActivity, TeamsApiError, type TeamsConnector } from './connector.ts';
import { copyKey, type TeamsCopy, type TeamsMessage, type TeamsState } from './state.ts';

/**
 * What Teams does on each request event (the notify function is an EventBridge target of these types), as Slack
 * does (lib/channels/slack/notify.ts):
 * - `request.created` / `request.escalated` while PENDING: the approval card to every eligible approver not asked
 *   yet (approver sets, and every escalation tier reached), in a 1:1 chat with the bot, and as a new thread in the
 *   flow's `teamsChannel`; every copy is recorded (TEAMS#<requestId>) so it can be updated later;
 * - decisions and grant changes: every copy is rewritten to the request's current state;
 * - the requester (and the grantee, for the grant itself) gets a notice card on approved, rejected, active (how to get
 *   the credentials), expiring, revoked, expired, failed.
 *
 * Each card and notice is sent once, as Slack's messages are: claimed by one conditional write before it is sent,
 * marked sent after (a copy together with where the card is), given back when the call failed (TeamsState
 * `claimSend`). Two deliveries of one event running at the same time send it once (the one that finds the other's
 * claim fails, so it is retried and then finds it sent); a claim left by a run that died is taken over once stale.
 *
 * People are found in Teams by their directory user's linked `teams` account (Entra object id), else, when
 * `graphLookup` is on, by Microsoft Graph from their email.
 *
 * Failures: what a person's Teams cannot take (the bot is not installed for them, they do not exist: a Connector 4xx)
 * is logged and skipped. Anything else (throttling, a 5xx, no answer, a token or Graph permission problem) is kept
 * until the rest is done and recorded, then thrown as TeamsNotifyIncompleteError: Lambda retries the failed run twice
 * (asynchronous invocation), then sends the event to the notify dead-letter queue; each retry finds what was recorded
 * and does only the rest.
 * The request is re-read by id (strongly consistent), so events arriving out of order still show the latest state.
 */
export const TEAMS_EVENT_TYPES = CHAT_EVENT_TYPES;
export type TeamsEventType = ChatEventType;

export type TeamsNotifyDeps = {
  connector: Pick<
    TeamsConnector,
    'createPersonalConversation' | 'createChannelThread' | 'send' | 'update' | 'userIdByEmail'
  >;
  directory: LinkingDirectory;
  state: Pick<TeamsState, 'record' | 'claimSend' | 'markCopySent' | 'markNoticeSent' | 'releaseSend' | 'markRendered'>;
  store: Pick<Store, 'getRequest'>;
  /** Look people up in Microsoft Graph by email when their directory user has no linked Teams account. */
  graphLookup: boolean;
  apiUrl?: string;
  now?: () => Date;
  /**
   * The configured on-call providers: whoever is on call when the request arrives is DMed too. A provider that cannot
   * answer adds nobody and blocks no other approver's message (askOnCall never throws).
   */
  oncall?: OnCallProviders;
};

/** What one delivery did: copies posted and updated, notices sent, people skipped (not reachable in Teams). */
export type TeamsNotifyResult = { posted: number; updated: number; notified: number; skipped: number };

/** Some of the work failed in a way a later retry may fix; what succeeded is recorded. */
export class TeamsNotifyIncompleteError extends Error {
  override readonly name = 'TeamsNotifyIncompleteError';
  constructor(
    readonly requestId: string,
    readonly failures: readonly string[],
  ) {
    super(`Teams notification for ${requestId} is incomplete (${failures.length} failed: ${failures.join(', ')})`);
  }
}

type Run = {
  deps: TeamsNotifyDeps;
  result: TeamsNotifyResult;
  failures: string[];
};

export async function notifyTeams(
  deps: TeamsNotifyDeps,
  event: { type: TeamsEventType; requestId: string },
): Promise<TeamsNotifyResult> {
  const run: Run = {
    deps,
    result: { posted: 0, updated: 0, notified: 0, skipped: 0 },
    failures: [],
  };
  const request = await deps.store.getRequest(event.requestId);
  if (request === undefined) {
    logger.warn('Teams notification for a request that does not exist', { requestId: event.requestId });
    return run.result;
  }
  const record = await deps.state.record(request.id);
  if (
    event.type === 'request.created' ||
    event.type === 'request.escalated' ||
    event.type === 'request.oncall_changed'
  ) {
    if (request.status === 'PENDING') {
      await postApprovalCards(run, request, record.copies);
      // A vote or decision that landed while the cards were being sent found no copy to update: catch up now.
      const latest = run.result.posted > 0 ? await deps.store.getRequest(request.id) : undefined;
      if (latest !== undefined && latest.version > request.version) {
        await refreshCopies(run, latest, (await deps.state.record(request.id)).copies);
      }
    }
  } else if (!NO_REFRESH.has(event.type)) {
    await refreshCopies(run, request, record.copies);
  }
  const notice = REQUESTER_NOTICE[event.type];
  if (notice !== undefined) await sendNotices(run, request, notice, record.notices);
  if (run.failures.length > 0) throw new TeamsNotifyIncompleteError(request.id, run.failures);
  return run.result;
}

/** Runs one step for one person or copy; sorts a failure into skipped (their Teams cannot take it) or retry later. */
async function step(run: Run, what: string, log: Record<string, unknown>, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (isRecipientProblem(error)) {
      run.result.skipped += 1;
      logger.warn(`Teams: could not ${what}; skipped`, { ...log, ...describe(error) });
      return;
    }
    run.failures.push(`${what} (${errorName(error)})`);
    logger.warn(`Teams: could not ${what}; the event will be retried`, { ...log, ...describe(error) });
  }
}

/**
 * A Connector 4xx about one conversation: the user has not installed the bot, blocked it, does not exist, or the
 * message is gone. Retrying will not help, and neither will failing the event. Not: 401 (the bot's own
 * credentials), token and Graph failures (configuration: the event should fail, be retried and end in the DLQ).
 */
function isRecipientProblem(error: unknown): boolean {
  return (
    error instanceof TeamsApiError &&
    !error.retryable &&
    error.operation !== 'token' &&
    error.operation !== 'graph-user' &&
    error.status !== undefined &&
    error.status >= 400 &&
    error.status < 500 &&
    error.status !== 401
  );
}

async function postApprovalCards(run: Run, request: AccessRequest, existing: TeamsCopy[]): Promise<void> {
  const { deps } = run;
  // EventBridge delivers at least once, and retries what failed: copies already recorded are not posted again (and
  // the claim in sendOnce stops a delivery running at the same time).
  const done = new Set(existing.map(copyKey));
  const oncall = await onCallAnswersFor(deps.oncall ?? new Map(), request, deps.now?.() ?? new Date());
  for (const { user, why } of await approversOf(deps.directory, request, oncall)) {
    const key = copyKey({ kind: 'approver', approver: user.id });
    if (done.has(key)) continue;
    const log = { requestId: request.id, approver: user.id };
    const sent = await sendOnce(run, request.id, { copy: key }, 'send an approver the card', log, {
      send: async (): Promise<TeamsCopy | undefined> => {
        const aadObjectId = await teamsUserOf(deps, user);
        if (aadObjectId === undefined) {
          logger.info('approver has no Teams account', log);
          return undefined;
        }
        const conversationId = await deps.connector.createPersonalConversation(aadObjectId);
        const activityId = await deps.connector.send(
          conversationId,
          cardActivity(approvalCard(request, { why }), `Stint: ${request.requester.email} asks for access`),
        );
        return {
          conversationId,
          activityId,
          kind: 'approver',
          approver: user.id,
          why,
          renderedVersion: request.version,
        };
      },
      markSent: (copy, now) => deps.state.markCopySent(request.id, copy, now),
    });
    if (sent) run.result.posted += 1;
  }
  const channel = request.flow.teamsChannel;
  if (channel === undefined) return;
  const channelKey = copyKey({ kind: 'channel', channel });
  if (done.has(channelKey)) return;
  const log = { requestId: request.id };
  const sent = await sendOnce(run, request.id, { copy: channelKey }, 'post the card to the flow channel', log, {
    send: async (): Promise<TeamsCopy> => {
      const thread = await deps.connector.createChannelThread(
        channel,
        cardActivity(approvalCard(request), `Stint: ${request.requester.email} asks for access`),
      );
      return { ...thread, kind: 'channel', channel, renderedVersion: request.version };
    },
    markSent: (copy, now) => deps.state.markCopySent(request.id, copy, now),
  });
  if (sent) run.result.posted += 1;
}

/**
 * Sends one card or notice at most once across deliveries: claim it (TeamsState `claimSend`), send, mark it sent
 * (`markSent`, which for a copy also records where the card is). A failed call gives the claim back and is sorted by
 * `step` (skipped, or retried later); `send` answering undefined means there was nobody to send to (no Teams account):
 * nothing sent, the claim given back. A claim another delivery holds fails this one, so it is retried and then finds
 * the card sent (or the claim given back, or stale). True when this call sent it.
 */
async function sendOnce<T>(
  run: Run,
  requestId: string,
  message: TeamsMessage,
  what: string,
  log: Record<string, unknown>,
  how: { send: () => Promise<T | undefined>; markSent: (sent: T, now: Date) => Promise<void> },
): Promise<boolean> {
  const { deps } = run;
  let sent = false;
  await step(run, what, log, async () => {
    const now = deps.now?.() ?? new Date();
    const claim = await deps.state.claimSend(requestId, message, now);
    if (claim === 'sent') return;
    if (claim === 'busy') {
      run.failures.push(`${what} (another delivery is sending it)`);
      logger.info(`Teams: another delivery is sending this; the event will be retried`, log);
      return;
    }
    let result: T | undefined;
    try {
      result = await how.send();
    } catch (error) {
      await release(run, requestId, message);
      throw error;
    }
    if (result === undefined) {
      await release(run, requestId, message);
      return;
    }
    sent = true;
    // Sent: from here on nothing may make a redelivery send it again; a failed mark is only logged (the claim stays,
    // so only a delivery after it went stale could send it again).
    try {
      await how.markSent(result, now);
    } catch (error) {
      logger.error('Teams: sent a card or notice but could not record it', { ...log, error: errorName(error) });
    }
  });
  return sent;
}

async function release(run: Run, requestId: string, message: TeamsMessage): Promise<void> {
  try {
    await run.deps.state.releaseSend(requestId, message);
  } catch (error) {
    // The claim goes stale and a later delivery takes it over.
    logger.warn('could not release a Teams send claim', { requestId, error: errorName(error) });
  }
}

async function refreshCopies(run: Run, request: AccessRequest, copies: TeamsCopy[]): Promise<void> {
  const { deps } = run;
  for (const copy of copies) {
    // Up to date already (posted or updated at this version or later, e.g. by the first try of this event).
    if ((copy.renderedVersion ?? 0) >= request.version) continue;
    await step(run, 'update a card', { requestId: request.id, kind: copy.kind }, async () => {
      const render = (current: AccessRequest) =>
        deps.connector.update(
          copy.conversationId,
          copy.activityId,
          cardActivity(approvalCard(current, copy.why === undefined ? {} : { why: copy.why })),
        );
      await render(request);
      run.result.updated += 1;
      if (await deps.state.markRendered(request.id, copy, request.version)) return;
      // Another delivery recorded a newer state first; this update may have overwritten its card: render the latest.
      const latest = await deps.store.getRequest(request.id);
      if (latest !== undefined && latest.version > request.version) {
        await render(latest);
        await deps.state.markRendered(request.id, copy, latest.version);
      }
    });
  }
}

async function sendNotices(
  run: Run,
  request: AccessRequest,
  notice: RequesterNotice,
  sent: ReadonlySet<string>,
): Promise<void> {
  const { deps } = run;
  const people = [request.requester];
  if (request.grantee.sub !== request.requester.sub && GRANTEE_NOTICES.has(notice)) people.push(request.grantee);
  // A reminder belongs to one expiry: after an extension, the new end gets its own.
  const kind = notice === 'expiring' ? `expiring@${request.expiresAt ?? ''}` : notice;
  for (const person of people) {
    const key = `${kind}#${person.sub}`;
    if (sent.has(key)) continue;
    const log = { requestId: request.id, notice };
    const done = await sendOnce(run, request.id, { notice: key }, `send the ${notice} notice`, log, {
      send: async () => {
        const user = (await deps.directory.userById(person.sub)) ?? { accounts: [], emails: [person.email] };
        const aadObjectId = await teamsUserOf(deps, user);
        if (aadObjectId === undefined) {
          logger.info('no Teams account to notify', log);
          return undefined;
        }
        const conversationId = await deps.connector.createPersonalConversation(aadObjectId);
        return deps.connector.send(
          conversationId,
          cardActivity(
            requesterCard(request, notice, deps.apiUrl === undefined ? {} : { apiUrl: deps.apiUrl }),
            requesterSummary(request, notice),
          ),
        );
      },
      markSent: (_activityId, now) => deps.state.markNoticeSent(request.id, key, now),
    });
    if (done) run.result.notified += 1;
  }
}

/**
 * The person's Entra object id: their linked Teams account, else (when allowed) Microsoft Graph by email. An id Graph
 * finds for an active directory user is linked to that user (as Slack links by email), so their clicks on the card
 * map to them; linking is an optimisation and never fails the delivery.
 */
async function teamsUserOf(
  deps: TeamsNotifyDeps,
  user: Pick<DirectoryUser, 'accounts' | 'emails'> & Partial<Pick<DirectoryUser, 'id' | 'active'>>,
): Promise<string | undefined> {
  for (const account of user.accounts) if (account.kind === 'teams') return account.aadObjectId;
  if (!deps.graphLookup) return undefined;
  for (const email of user.emails) {
    const id = await deps.connector.userIdByEmail(email);
    if (id === undefined) continue;
    if (user.id !== undefined && user.active === true && deps.directory.linkAccount !== undefined) {
      try {
        await deps.directory.linkAccount(user.id, { kind: 'teams', aadObjectId: id });
      } catch (error) {
        logger.warn('could not link the Teams account found in Graph', { userId: user.id, error: errorName(error) });
      }
    }
    return id;
  }
  return undefined;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'unknown';
}

/** What may be logged about a failure: its kind, the operation and the HTTP status; never a body or a token. */
function describe(error: unknown): Record<string, unknown> {
  if (error instanceof TeamsApiError) return { error: error.name, operation: error.operation, status: error.status };
  return { error: errorName(error) };
}

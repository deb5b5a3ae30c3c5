import { approversOf } from '#lib/channels/approvers.ts';
import {
  CHAT_EVENT_TYPES,
  type ChatEventType,
  GRANTEE_NOTICES,
  NO_REFRESH,
  REQUESTER_NOTICE,
} from '#lib/channels/notices.ts';
import type { Directory } from '#lib/directory/types.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { logger } from '#lib/observability/logger.ts';
import { type OnCallProviders, onCallAnswersFor } from '#lib/services/oncall.ts';
import type { Store } from '#lib/store/store.ts';
import type { SlackClient } from './client.ts';
import { SlackFailures } from './failures.ts';
import { errorName } from './identity.ts';
import { refreshPosts } from './interactions.ts';
import { approvalMessage, requesterMessage } from './messages.ts';
import type { SlackState } from './state.ts';

/**
 * What Slack does on each request event (the notify function is an EventBridge target of these types):
 * - `request.created` while PENDING: DM every eligible approver (approver sets' users and group members, from the
 *   directory, found in Slack by email; never the requester or grantee) and post to the flow's `slackChannel`;
 *   every copy is recorded (SLACK#<requestId>) so it can be updated later;
 * - `request.escalated` while PENDING: the same, for the members of every tier reached so far; those already asked
 *   (recorded copies) are not asked again, so only the new tier's members get a DM (a late reconciler that jumped
 *   several tiers reaches all of them at once);
 * - decisions and grant changes: rewrite every copy to the request's current state (copies posted while the request
 *   was being decided are rewritten by the posting delivery itself, which re-reads the request once it is done);
 * - the requester (and the grantee, for the grant itself) gets a DM on approved, rejected, active, expiring (10 minutes
 *   before the end, `grant.expiring` from the reconciler's reminder), revoked, expired, failed.
 * The request is re-read by id (strongly consistent), so events arriving out of order still show the latest state.
 *
 * Nothing is lost, nothing is sent twice: every message is tried (one failure does not stop the others), each one
 * sent is recorded (approval copies in SlackState `posts`, every DM and post as a `slack-sent` claim), and when a call
 * failed in a way that may pass later (429, 5xx, network, `internal_error`…: client.ts) the function throws a
 * SlackDeliveryError at the end, so the event is delivered again and the redelivery sends only what is missing.
 * Permanent failures (`users_not_found`, `channel_not_found`, `is_archived`…) are logged with ids and not retried.
 */
export const SLACK_EVENT_TYPES = CHAT_EVENT_TYPES;
export type SlackEventType = ChatEventType;

export type SlackNotifyDeps = {
  slack: SlackClient;
  directory: Directory;
  state: Pick<SlackState, 'posts' | 'addPosts' | 'claimSend' | 'markSent' | 'releaseSend'>;
  store: Pick<Store, 'getRequest'>;
  apiUrl?: string;
  now?: () => Date;
  /**
   * The configured on-call providers: whoever is on call when the request arrives is DMed too. A provider that cannot
   * answer adds nobody and blocks no other approver's message (askOnCall never throws).
   */
  oncall?: OnCallProviders;
};

export type NotifyResult = { posted: number; updated: number; notified: number };

export async function notifySlack(
  deps: SlackNotifyDeps,
  event: { type: SlackEventType; requestId: string },
): Promise<NotifyResult> {
  const result: NotifyResult = { posted: 0, updated: 0, notified: 0 };
  const request = await deps.store.getRequest(event.requestId);
  if (request === undefined) {
    logger.warn('Slack notification for a request that does not exist', { requestId: event.requestId });
    return result;
  }
  const failures = new SlackFailures(request.id);
  if (
    event.type === 'request.created' ||
    event.type === 'request.escalated' ||
    event.type === 'request.oncall_changed'
  ) {
    if (request.status === 'PENDING') {
      result.posted = await postApprovalRequests(deps, request, failures);
      // A vote or decision that landed while the messages were being posted found no copy to update: catch up now.
      const latest = result.posted > 0 ? await deps.store.getRequest(request.id) : undefined;
      if (latest !== undefined && latest.version > request.version) {
        result.updated = await refreshPosts({ slack: deps.slack, posts: deps.state }, latest, failures);
      }
    }
  } else if (!NO_REFRESH.has(event.type)) {
    result.updated = await refreshPosts({ slack: deps.slack, posts: deps.state }, request, failures);
  }
  const notice = REQUESTER_NOTICE[event.type];
  if (notice !== undefined) {
    const people = [request.requester];
    if (request.grantee.sub !== request.requester.sub && GRANTEE_NOTICES.has(notice)) people.push(request.grantee);
    const message = requesterMessage(request, notice, deps.apiUrl === undefined ? {} : { apiUrl: deps.apiUrl });
    // A grant is reminded again after an extension: each reminder is its own notice.
    const occurrence = notice === 'expiring' ? `${notice}@${request.remindedAt ?? ''}` : notice;
    for (const person of people) {
      const sent = await sendOnce(deps, request, `notice#${occurrence}#${person.sub}`, failures, {
        what: 'could not DM the requester',
        ids: { person: person.sub, notice },
        send: () => dm(deps.slack, person.email, message),
      });
      if (sent) result.notified += 1;
    }
  }
  failures.throwIfRetryable();
  return result;
}

async function postApprovalRequests(
  deps: SlackNotifyDeps,
  request: AccessRequest,
  failures: SlackFailures,
): Promise<number> {
  const now = deps.now?.() ?? new Date();
  // EventBridge delivers at least once: copies already posted are not posted again.
  const existing = await deps.state.posts(request.id);
  const done = new Set(existing.map((p) => (p.kind === 'channel' ? `channel:${p.channel}` : `approver:${p.approver}`)));
  let posted = 0;
  const oncall = await onCallAnswersFor(deps.oncall ?? new Map(), request, deps.now?.() ?? new Date());
  for (const { user, why } of await approversOf(deps.directory, request, oncall)) {
    if (done.has(`approver:${user.id}`)) continue;
    const sent = await sendOnce(deps, request, `approver#${user.id}`, failures, {
      what: 'could not DM an approver',
      ids: { approver: user.id },
      send: async () => {
        const slackUser = await firstSlackUser(deps.slack, user.emails);
        if (slackUser === undefined) {
          logger.info('approver has no Slack account', { requestId: request.id, approver: user.id });
          return undefined;
        }
        const channel = await deps.slack.openDm(slackUser);
        return { ...(await deps.slack.postMessage(channel, approvalMessage(request, { why }))), why };
      },
      record: (copy) => deps.state.addPosts(request.id, [{ ...copy, kind: 'approver', approver: user.id }], now),
    });
    if (sent) posted += 1;
  }
  const flowChannel = request.flow.slackChannel;
  if (flowChannel !== undefined && !done.has(`channel:${flowChannel}`)) {
    const sent = await sendOnce(deps, request, `channel#${flowChannel}`, failures, {
      what: 'could not post to the flow channel',
      ids: {},
      send: () => deps.slack.postMessage(flowChannel, approvalMessage(request)),
      record: (copy) => deps.state.addPosts(request.id, [{ ...copy, kind: 'channel' }], now),
    });
    if (sent) posted += 1;
  }
  return posted;
}

/**
 * Sends one message at most once across deliveries: claim it (SlackState `claimSend`), send, record what was sent
 * (`record`: where the copy is, for later updates), mark it sent. A failed call gives the claim back and is counted
 * in `failures`; `send` answering undefined means there was nobody to send to (no Slack account): nothing sent, the
 * claim given back. True when the message was sent by this call.
 */
async function sendOnce<T>(
  deps: SlackNotifyDeps,
  request: AccessRequest,
  message: string,
  failures: SlackFailures,
  how: {
    what: string;
    ids: Record<string, string>;
    send: () => Promise<T | undefined>;
    record?: (sent: T) => Promise<void>;
  },
): Promise<boolean> {
  const now = deps.now?.() ?? new Date();
  let claim: Awaited<ReturnType<SlackState['claimSend']>>;
  try {
    claim = await deps.state.claimSend(request.id, message, now);
  } catch (error) {
    failures.note(how.what, error, how.ids);
    return false;
  }
  if (claim === 'sent') return false;
  if (claim === 'busy') {
    failures.busy(how.what, how.ids);
    return false;
  }
  let sent: T | undefined;
  try {
    sent = await how.send();
  } catch (error) {
    failures.note(how.what, error, how.ids);
    await release(deps, request.id, message);
    return false;
  }
  if (sent === undefined) {
    await release(deps, request.id, message);
    return false;
  }
  // Sent: from here on nothing may make a redelivery send it again; a failed record is only logged.
  try {
    if (how.record !== undefined) await how.record(sent);
    await deps.state.markSent(request.id, message, now);
  } catch (error) {
    logger.error('sent a Slack message but could not record it', {
      requestId: request.id,
      ...how.ids,
      error: errorName(error),
    });
  }
  return true;
}

async function release(deps: SlackNotifyDeps, requestId: string, message: string): Promise<void> {
  try {
    await deps.state.releaseSend(requestId, message);
  } catch (error) {
    // The claim goes stale and a later delivery takes it over.
    logger.warn('could not release a Slack send claim', { requestId, error: errorName(error) });
  }
}

async function firstSlackUser(slack: SlackClient, emails: string[]): Promise<string | undefined> {
  for (const email of emails) {
    const user = await slack.lookupByEmail(email);
    if (user !== undefined) return user.id;
  }
  return undefined;
}

/** A DM to the person with this email; undefined when Slack knows nobody with it. */
async function dm(
  slack: SlackClient,
  email: string,
  message: ReturnType<typeof requesterMessage>,
): Promise<{ channel: string; ts: string } | undefined> {
  const user = await slack.lookupByEmail(email);
  if (user === undefined) return undefined;
  return slack.postMessage(await slack.openDm(user.id), message);
}

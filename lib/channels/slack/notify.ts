import { approversOf } from '#lib/channels/approvers.ts';
import type { Directory } from '#lib/directory/types.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { logger } from '#lib/observability/logger.ts';
import type { Store } from '#lib/store/store.ts';
import type { SlackClient } from './client.ts';
import { errorName } from './identity.ts';
import { refreshPosts } from './interactions.ts';
import { approvalMessage, type RequesterNotice, requesterMessage } from './messages.ts';
import type { SlackPost, SlackState } from './state.ts';

/**
 * What Slack does on each request event (the notify function is an EventBridge target of these types):
 * - `request.created` while PENDING: DM every eligible approver (approver sets' users and group members, from the
 *   directory, found in Slack by email; never the requester or grantee) and post to the flow's `slackChannel`;
 *   every copy is recorded (SLACK#<requestId>) so it can be updated later;
 * - `request.escalated` while PENDING: the same, for the members of every tier reached so far; those already asked
 *   (recorded copies) are not asked again, so only the new tier's members get a DM (a late reconciler that jumped
 *   several tiers reaches all of them at once);
 * - decisions and grant changes: rewrite every copy to the request's current state;
 * - the requester (and the grantee, for the grant itself) gets a DM on approved, rejected, active, expiring (10 minutes
 *   before the end, `grant.expiring` from the reconciler's reminder), revoked, expired, failed.
 * The request is re-read by id (strongly consistent), so events arriving out of order still show the latest state.
 */
export const SLACK_EVENT_TYPES = [
  'request.created',
  'request.escalated',
  'request.approval_recorded',
  'request.approved',
  'request.rejected',
  'request.cancelled',
  'request.timed_out',
  'grant.active',
  'grant.failed',
  'grant.expiring',
  'grant.revoked',
  'grant.expired',
] as const;
export type SlackEventType = (typeof SLACK_EVENT_TYPES)[number];

const REQUESTER_NOTICE: Partial<Record<SlackEventType, RequesterNotice>> = {
  'request.approved': 'approved',
  'request.rejected': 'rejected',
  'grant.active': 'active',
  'grant.failed': 'failed',
  'grant.expiring': 'expiring',
  'grant.revoked': 'revoked',
  'grant.expired': 'expired',
};
/** Notices the grantee gets too when someone else asked on their behalf. */
const GRANTEE_NOTICES: ReadonlySet<RequesterNotice> = new Set(['active', 'expiring', 'revoked', 'expired']);
/** Events that change nothing the approval copies show: no copy is rewritten. */
const NO_REFRESH: ReadonlySet<SlackEventType> = new Set(['grant.expiring']);

export type SlackNotifyDeps = {
  slack: SlackClient;
  directory: Directory;
  state: Pick<SlackState, 'posts' | 'addPosts'>;
  store: Pick<Store, 'getRequest'>;
  apiUrl?: string;
  now?: () => Date;
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
  if (event.type === 'request.created' || event.type === 'request.escalated') {
    if (request.status === 'PENDING') result.posted = await postApprovalRequests(deps, request);
  } else if (!NO_REFRESH.has(event.type)) {
    result.updated = await refreshPosts({ slack: deps.slack, posts: deps.state }, request);
  }
  const notice = REQUESTER_NOTICE[event.type];
  if (notice !== undefined) {
    const people = [request.requester.email];
    if (request.grantee.sub !== request.requester.sub && GRANTEE_NOTICES.has(notice))
      people.push(request.grantee.email);
    const message = requesterMessage(request, notice, deps.apiUrl === undefined ? {} : { apiUrl: deps.apiUrl });
    for (const email of people) if (await dm(deps, email, message)) result.notified += 1;
  }
  return result;
}

async function postApprovalRequests(deps: SlackNotifyDeps, request: AccessRequest): Promise<number> {
  const now = deps.now?.() ?? new Date();
  // EventBridge delivers at least once: copies already posted are not posted again.
  const existing = await deps.state.posts(request.id);
  const done = new Set(existing.map((p) => (p.kind === 'channel' ? `channel:${p.channel}` : `approver:${p.approver}`)));
  const posts: SlackPost[] = [];
  for (const { user, why } of await approversOf(deps.directory, request)) {
    if (done.has(`approver:${user.id}`)) continue;
    try {
      const slackUser = await firstSlackUser(deps.slack, user.emails);
      if (slackUser === undefined) {
        logger.info('approver has no Slack account', { requestId: request.id, approver: user.id });
        continue;
      }
      const channel = await deps.slack.openDm(slackUser);
      const posted = await deps.slack.postMessage(channel, approvalMessage(request, { why }));
      posts.push({ ...posted, kind: 'approver', approver: user.id, why });
    } catch (error) {
      logger.warn('could not DM an approver', { requestId: request.id, approver: user.id, error: errorName(error) });
    }
  }
  const flowChannel = request.flow.slackChannel;
  if (flowChannel !== undefined && !done.has(`channel:${flowChannel}`)) {
    try {
      const posted = await deps.slack.postMessage(flowChannel, approvalMessage(request));
      posts.push({ ...posted, kind: 'channel' });
    } catch (error) {
      logger.warn('could not post to the flow channel', { requestId: request.id, error: errorName(error) });
    }
  }
  await deps.state.addPosts(request.id, posts, now);
  return posts.length;
}

async function firstSlackUser(slack: SlackClient, emails: string[]): Promise<string | undefined> {
  for (const email of emails) {
    const user = await slack.lookupByEmail(email);
    if (user !== undefined) return user.id;
  }
  return undefined;
}

async function dm(
  deps: SlackNotifyDeps,
  email: string,
  message: ReturnType<typeof requesterMessage>,
): Promise<boolean> {
  try {
    const user = await deps.slack.lookupByEmail(email);
    if (user === undefined) return false;
    await deps.slack.postMessage(await deps.slack.openDm(user.id), message);
    return true;
  } catch (error) {
    logger.warn('could not DM the requester', { error: errorName(error) });
    return false;
  }
}

import * as z from 'zod';
import { voteRefusal } from '#lib/channels/refusal.ts';
import { errorName, type LinkingDirectory } from '#lib/channels/slack/identity.ts';
import { header } from '#lib/channels/slack/verify.ts';
import { malformedPayloadResponse } from '#lib/channels/webhook-lambda.ts';
import type { ChatAccount, DirectoryUser } from '#lib/directory/types.ts';
import { DomainError } from '#lib/domain/errors.ts';
import type { JiraApproval } from '#lib/domain/flow.ts';
import type { Identity } from '#lib/domain/identity.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { identityOfDirectoryUser } from '#lib/identity/resolver.ts';
import { logger } from '#lib/observability/logger.ts';
import type { RequestService } from '#lib/services/requests.ts';
import type { Store } from '#lib/store/store.ts';
import type { TargetConfig } from '#lib/targets/config.ts';
import type { JiraApi } from './client.ts';
import type { JiraReplayGuard } from './state.ts';
import { verifyJiraSignature } from './verify.ts';

/**
 * `POST /webhooks/jira` (no JWT: Jira signs the body instead). Approvals by Jira transitions on a request's ticket.
 *
 * In order:
 * 1. verify `X-Hub-Signature` over the raw body (constant time; 401 when missing or wrong);
 * 2. refuse a body older than MAX_AGE_SECONDS by its signed `timestamp` (401), then claim its signature once (a
 *    replay → 401, nothing done); the claim is released if processing fails, so Jira's retry is handled;
 * 3. trust nothing else in the payload: take only the issue key/id, and re-read the issue (status, labels) and its
 *    changelog from the Jira REST API with the target's own credentials;
 * 4. find the request by the issue's `stint-<request id>` label and require `request.tickets[target] === key` and
 *    the request's (pinned) flow to name this target in `jiraApproval`;
 * 5. map the CURRENT status to approve / reject (neither → no decision), and require the newest status change in
 *    the changelog to lead to it; its author is the voter;
 * 6. map the author's Atlassian account to a Stint identity (linked account; else Jira's user email when visible →
 *    directory user, linked for next time), and vote through RequestService (channel `jira`), which enforces the
 *    flow's policy (requester, non-approver, quorum). A refusal is explained in a comment on the issue (best effort).
 * Everything after step 2 answers 200: Jira retries other answers, and a retry cannot change the outcome.
 */
export type JiraWebhookDeps = {
  webhookSecret: () => Promise<string>;
  guard: JiraReplayGuard;
  /** The deployment's `jira` targets. */
  targets: readonly TargetConfig[];
  /** A REST client with the target's credentials. */
  jira: (target: TargetConfig) => Promise<Pick<JiraApi, 'issue' | 'lastStatusChange' | 'userEmail' | 'comment'>>;
  directory: LinkingDirectory;
  requests: Pick<RequestService, 'vote'>;
  store: Pick<Store, 'getRequest'>;
  now?: () => Date;
};

export type JiraWebhookResponse = { status: number; body: string; headers: Record<string, string> };

/** Oldest accepted body, by its signed `timestamp`; Jira retries a failed delivery within minutes. */
export const MAX_AGE_SECONDS = 60 * 60;
/** Clock skew tolerated for a body stamped in the future. */
const MAX_SKEW_SECONDS = 5 * 60;

export const NOT_KNOWN =
  'This Jira account is not known to Stint (no linked account, and no visible email that matches a Stint user): ' +
  'ask an administrator to add you to the directory. Nothing was recorded.';

const COMMENT_TITLE = 'Stint did not record this transition';

const Payload = z.looseObject({
  timestamp: z.number().int().positive(),
  webhookEvent: z.string().max(128).optional(),
  issue: z.looseObject({
    id: z
      .string()
      .regex(/^\d{1,20}$/)
      .optional(),
    key: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]*-\d{1,12}$/)
      .optional(),
  }),
});

type Outcome =
  | { outcome: 'ignored'; reason: string }
  | { outcome: 'refused'; reason: string }
  | { outcome: 'recorded' | 'approved' | 'rejected' | 'duplicate' };

const json = (status: number, body: unknown): JiraWebhookResponse => ({
  status,
  body: JSON.stringify(body),
  headers: { 'content-type': 'application/json' },
});

export async function handleJiraWebhook(
  deps: JiraWebhookDeps,
  input: {
    headers: Readonly<Record<string, string | undefined>>;
    rawBody: string;
    query?: Readonly<Record<string, string | undefined>>;
  },
): Promise<JiraWebhookResponse> {
  const now = deps.now?.() ?? new Date();
  const check = verifyJiraSignature({
    secret: await deps.webhookSecret(),
    signature: header(input.headers, 'x-hub-signature'),
    rawBody: input.rawBody,
  });
  if (!check.ok) {
    logger.warn('refused a Jira webhook', { reason: check.reason });
    return json(401, { error: check.reason });
  }
  const body = safeJson(input.rawBody);
  const malformed = malformedPayloadResponse(body, 'payload');
  if (malformed !== undefined) return malformed;
  const parsed = Payload.safeParse(body);
  if (!parsed.success) return json(400, { error: 'malformed payload' });
  const payload = parsed.data;
  const age = (now.getTime() - payload.timestamp) / 1000;
  if (age > MAX_AGE_SECONDS || age < -MAX_SKEW_SECONDS) {
    logger.warn('refused a stale Jira webhook', { ageSeconds: Math.round(age) });
    return json(401, { error: 'stale-timestamp' });
  }
  if (!(await deps.guard.claim(check.digest, now))) {
    logger.warn('refused a replayed Jira webhook', {
      delivery: header(input.headers, 'x-atlassian-webhook-identifier'),
    });
    return json(401, { error: 'replayed' });
  }
  try {
    const result = await processTransition(deps, payload.issue, input.query?.target);
    logger.info('handled a Jira webhook', { ...result, webhookEvent: payload.webhookEvent });
    return json(200, result);
  } catch (error) {
    try {
      await deps.guard.release(check.digest);
    } catch (releaseError) {
      logger.warn('could not release a Jira webhook claim', { error: errorName(releaseError) });
    }
    throw error;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The Jira to re-read from: the only `jira` target, or the one named by `?target=` (one webhook URL per Jira site).
 * The query is not signed (only the body is), and that is safe: it only chooses which configured Jira is asked, with
 * that target's own credentials; nothing decided comes from it. A vote needs that Jira's issue to carry the request's
 * label, to be the ticket stored on the request FOR THAT TARGET, and the request's pinned flow to name THAT TARGET in
 * `jiraApproval`; so a wrong target is ignored. Replaying a signed body with another `?target=` is refused as a replay:
 * the guard claims the body's signature, whatever the URL (test: "the unsigned ?target= parameter").
 */
function pickTarget(targets: readonly TargetConfig[], wanted: string | undefined): TargetConfig | undefined {
  const jira = targets.filter((t) => t.kind === 'jira');
  if (wanted !== undefined) return jira.find((t) => t.name === wanted);
  return jira.length === 1 ? jira[0] : undefined;
}

const LABEL = /^stint-([A-Za-z0-9_-]{1,128})$/;

async function processTransition(
  deps: JiraWebhookDeps,
  claimed: { id?: string | undefined; key?: string | undefined },
  targetName: string | undefined,
): Promise<Outcome> {
  const ref = claimed.key ?? claimed.id;
  if (ref === undefined) return { outcome: 'ignored', reason: 'no issue in the payload' };
  const target = pickTarget(deps.targets, targetName);
  if (target === undefined) {
    return { outcome: 'ignored', reason: 'no single jira target (add ?target=<name> to the webhook URL)' };
  }
  const jira = await deps.jira(target);

  // The payload said something happened to `ref`; what happened is read from Jira itself.
  const issue = await jira.issue(ref);
  if (issue === undefined) return { outcome: 'ignored', reason: 'issue not found' };
  const request = await requestOf(deps, issue, target.name);
  if (request === undefined) return { outcome: 'ignored', reason: 'not the ticket of a Stint request' };
  const approval = request.flow.jiraApproval;
  if (approval === undefined || approval.target !== target.name) {
    return { outcome: 'ignored', reason: 'the flow does not approve through this Jira target' };
  }
  if (request.status !== 'PENDING') return { outcome: 'ignored', reason: `the request is ${request.status}` };
  const vote = voteFor(approval, issue.status);
  if (vote === undefined) return { outcome: 'ignored', reason: `status "${issue.status}" decides nothing` };

  const change = await jira.lastStatusChange(issue.key);
  if (change === undefined || change.toStatus.toLowerCase() !== issue.status.toLowerCase()) {
    return { outcome: 'ignored', reason: 'the newest status change does not lead to the current status' };
  }
  const say = async (text: string) => {
    try {
      await jira.comment(issue.key, COMMENT_TITLE, text);
    } catch (error) {
      logger.warn('could not comment on the Jira issue', { requestId: request.id, error: errorName(error) });
    }
  };
  if (change.accountId === undefined) {
    await say(`The transition to "${issue.status}" has no Jira user (an automation?). Nothing was recorded.`);
    return { outcome: 'refused', reason: 'anonymous transition' };
  }
  const who = await jiraIdentity(deps, jira, change.accountId);
  if (who === undefined) {
    await say(NOT_KNOWN);
    return { outcome: 'refused', reason: 'unknown account' };
  }
  try {
    const { outcome } = await deps.requests.vote(request.id, who, {
      vote,
      channel: 'jira',
      reason: `Jira transition to ${issue.status}`.slice(0, 500),
    });
    return { outcome };
  } catch (error) {
    if (error instanceof DomainError) {
      await say(`The transition to "${issue.status}" was not recorded as a vote: ${voteRefusal(error, request, who)}.`);
      return { outcome: 'refused', reason: error.name };
    }
    throw error;
  }
}

/** The request whose `stint-<id>` label the issue carries and whose ticket for this target is this very issue. */
async function requestOf(
  deps: JiraWebhookDeps,
  issue: { key: string; labels: string[] },
  target: string,
): Promise<AccessRequest | undefined> {
  for (const label of issue.labels) {
    const id = LABEL.exec(label)?.[1];
    if (id === undefined) continue;
    const request = await deps.store.getRequest(id);
    if (request !== undefined && request.tickets[target] === issue.key) return request;
  }
  return undefined;
}

function voteFor(approval: JiraApproval, status: string): 'approve' | 'reject' | undefined {
  const same = (s: string) => s.toLowerCase() === status.trim().toLowerCase();
  if (approval.approveStatuses.some(same)) return 'approve';
  if (approval.rejectStatuses.some(same)) return 'reject';
  return undefined;
}

/**
 * The Stint identity behind an Atlassian account: the linked `jira` account first; else the account's email as Jira
 * shows it (only when the profile makes it visible) → the directory user with that email, linked for next time.
 */
export async function jiraIdentity(
  deps: { directory: LinkingDirectory },
  jira: Pick<JiraApi, 'userEmail'>,
  accountId: string,
): Promise<Identity | undefined> {
  const account: ChatAccount = { kind: 'jira', accountId };
  let user: DirectoryUser | undefined = await deps.directory.userByAccount(account);
  if (user === undefined) {
    const email = await jira.userEmail(accountId);
    if (email === undefined) return undefined;
    user = await deps.directory.userByEmail(email);
    if (user === undefined) return undefined;
    if (deps.directory.linkAccount !== undefined && user.active) {
      try {
        await deps.directory.linkAccount(user.id, account);
      } catch (error) {
        logger.warn('could not link the Jira account', { userId: user.id, error: errorName(error) });
      }
    }
  }
  return identityOfDirectoryUser(deps.directory, user.id);
}

import * as z from 'zod';
import { voteRefusal } from '#lib/channels/refusal.ts';
import { malformedPayloadResponse } from '#lib/channels/webhook-lambda.ts';
import { approverStanding } from '#lib/domain/approvals.ts';
import { DomainError } from '#lib/domain/errors.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { Line } from '#lib/domain/text.ts';
import { logger } from '#lib/observability/logger.ts';
import type { RequestService } from '#lib/services/requests.ts';
import type { Store } from '#lib/store/store.ts';
import type { SlackClient } from './client.ts';
import type { SlackFailures } from './failures.ts';
import { type SlackHttpResponse, slackGate } from './gate.ts';
import { errorName, type LinkingDirectory, slackIdentity } from './identity.ts';
import {
  APPROVE_ACTION,
  approvalMessage,
  DECISION_VIEW,
  REASON_BLOCK,
  REASON_INPUT,
  REJECT_ACTION,
  reasonModal,
} from './messages.ts';
import type { SlackState } from './state.ts';
import type { ReplayGuard } from './verify.ts';

/**
 * `POST /webhooks/slack/interactions`, after API Gateway (no JWT: Slack signs the request instead).
 * In order: verify the v0 signature and 5-minute window (401); acknowledge a Slack retry (`X-Slack-Retry-Num`)
 * without processing it again; claim the signature once (a replay → 401, nothing recorded); map the Slack user to
 * a Stint identity; vote through RequestService (the API's domain code, channel `slack`), synchronously (one
 * conditional write and at most one SendTaskSuccess/Failure); refresh every copy of the message. Refusals are
 * shown to the clicker (ephemeral, through `response_url`); modal submissions show them in the modal.
 */
export type SlackInteractionDeps = {
  signingSecret: () => Promise<string>;
  guard: ReplayGuard;
  directory: LinkingDirectory;
  slack: SlackClient;
  requests: Pick<RequestService, 'vote'>;
  store: Pick<Store, 'getRequest'>;
  posts: Pick<SlackState, 'posts'>;
  now?: () => Date;
};

export type { SlackHttpResponse } from './gate.ts';

export const NOT_KNOWN =
  'You are not known to Stint: ask an administrator to add you to the directory. Nothing was recorded.';

const SlackUserRef = z.object({ id: z.string().min(1).max(32), team_id: z.string().min(1).max(32).optional() });
const Team = z.object({ id: z.string().min(1).max(32) }).nullish();

const BlockActions = z.object({
  type: z.literal('block_actions'),
  team: Team,
  user: SlackUserRef,
  trigger_id: z.string().optional(),
  response_url: z.url().optional(),
  actions: z.array(z.looseObject({ action_id: z.string(), value: z.string().max(64).optional() })).min(1),
});

const ViewSubmission = z.object({
  type: z.literal('view_submission'),
  team: Team,
  user: SlackUserRef,
  view: z.looseObject({
    callback_id: z.string(),
    private_metadata: z.string().max(3000),
    state: z.object({
      values: z.record(z.string(), z.record(z.string(), z.looseObject({ value: z.string().nullish() }))),
    }),
  }),
});

const Payload = z.looseObject({ type: z.string() });
const Metadata = z.object({ requestId: Line.min(1).max(64), vote: z.enum(['approve', 'reject']) });

const ok = (body?: unknown): SlackHttpResponse =>
  body === undefined
    ? { status: 200 }
    : { status: 200, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };

export async function handleSlackInteraction(
  deps: SlackInteractionDeps,
  input: { headers: Readonly<Record<string, string | undefined>>; rawBody: string },
): Promise<SlackHttpResponse> {
  const stop = await slackGate(deps, input, { what: 'callback', acknowledgeRetries: true });
  if (stop !== undefined) return stop;

  const raw = new URLSearchParams(input.rawBody).get('payload');
  const json = raw === null ? undefined : safeJson(raw);
  const malformed = malformedPayloadResponse(json, 'payload');
  if (malformed !== undefined) return malformed;
  const parsed = raw === null ? undefined : Payload.safeParse(json);
  if (parsed === undefined || !parsed.success) return { status: 400, body: 'malformed payload' };
  const payload = parsed.data;
  if (payload.type === 'block_actions') {
    const actions = BlockActions.safeParse(payload);
    return actions.success ? onAction(deps, actions.data) : { status: 400, body: 'malformed payload' };
  }
  if (payload.type === 'view_submission') {
    const view = ViewSubmission.safeParse(payload);
    return view.success ? onSubmission(deps, view.data) : { status: 400, body: 'malformed payload' };
  }
  return ok();
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function teamOf(payload: { team?: { id: string } | null | undefined; user: { team_id?: string | undefined } }) {
  return payload.user.team_id ?? payload.team?.id;
}

async function onAction(deps: SlackInteractionDeps, payload: z.infer<typeof BlockActions>): Promise<SlackHttpResponse> {
  const [action] = payload.actions;
  if (action === undefined || (action.action_id !== APPROVE_ACTION && action.action_id !== REJECT_ACTION)) return ok();
  const requestId = action.value;
  const tell = (text: string) => tellClicker(deps, payload.response_url, text);
  if (requestId === undefined) return ok();
  const vote = action.action_id === APPROVE_ACTION ? 'approve' : 'reject';

  const teamId = teamOf(payload);
  const who = teamId === undefined ? undefined : await slackIdentity(deps, { teamId, userId: payload.user.id });
  if (who === undefined) {
    logger.info('a Slack user unknown to Stint clicked', { requestId });
    await tell(NOT_KNOWN);
    return ok();
  }

  const request = await deps.store.getRequest(requestId);
  if (request === undefined) {
    await tell(`Request ${requestId} does not exist.`);
    return ok();
  }
  const policy = request.flow.approval;
  const needsReason = vote === 'reject' || (policy.mode === 'manual' && policy.reasonRequired);
  if (needsReason && payload.trigger_id !== undefined && !request.votes.some((v) => v.by === who.sub)) {
    // Say no at once rather than after the reason was typed; the vote is still authorized again on submit.
    const standing = approverStanding(request, who);
    if (request.status === 'PENDING' && !standing.eligible) {
      await tell(`Not recorded: ${standing.reason}.`);
      return ok();
    }
    if (request.status === 'PENDING') {
      const required = vote === 'approve' || (policy.mode === 'manual' && policy.reasonRequired);
      await deps.slack.openView(payload.trigger_id, reasonModal(request.id, vote, required));
      return ok();
    }
  }
  const result = await castVote(deps, request.id, who, vote, undefined);
  await tell(result.message);
  return ok();
}

async function onSubmission(
  deps: SlackInteractionDeps,
  payload: z.infer<typeof ViewSubmission>,
): Promise<SlackHttpResponse> {
  if (payload.view.callback_id !== DECISION_VIEW) return ok();
  const metadata = Metadata.safeParse(safeJson(payload.view.private_metadata));
  if (!metadata.success) return { status: 400, body: 'malformed view' };
  const reason = payload.view.state.values[REASON_BLOCK]?.[REASON_INPUT]?.value ?? undefined;
  const teamId = teamOf(payload);
  const who = teamId === undefined ? undefined : await slackIdentity(deps, { teamId, userId: payload.user.id });
  if (who === undefined) return ok({ response_action: 'errors', errors: { [REASON_BLOCK]: NOT_KNOWN } });
  const result = await castVote(deps, metadata.data.requestId, who, metadata.data.vote, reason ?? undefined);
  if (!result.recorded) return ok({ response_action: 'errors', errors: { [REASON_BLOCK]: result.message } });
  return ok({ response_action: 'clear' });
}

type Cast = { recorded: boolean; message: string };

async function castVote(
  deps: SlackInteractionDeps,
  requestId: string,
  who: NonNullable<Awaited<ReturnType<typeof slackIdentity>>>,
  vote: 'approve' | 'reject',
  reason: string | undefined,
): Promise<Cast> {
  try {
    const { request, outcome } = await deps.requests.vote(requestId, who, {
      vote,
      channel: 'slack',
      ...(reason === undefined ? {} : { reason }),
    });
    logger.info('recorded a Slack vote', { requestId, outcome });
    if (outcome !== 'duplicate') await refreshPosts(deps, request);
    const messages = {
      duplicate: `Your ${vote} was already recorded; nothing changed.`,
      recorded: 'Your approval was recorded; more approvals are needed.',
      approved: 'Approved: Stint is granting the access.',
      rejected: 'Rejected: the requester is told.',
    } as const;
    return { recorded: true, message: messages[outcome] };
  } catch (error) {
    if (error instanceof DomainError) {
      logger.info('refused a Slack vote', { requestId, error: error.name });
      const request = await deps.store.getRequest(requestId);
      return { recorded: false, message: `Not recorded: ${voteRefusal(error, request, who)}.` };
    }
    throw error;
  }
}

/**
 * Rewrites every copy of the request's approval message to its current state (chat.update, idempotent). With
 * `failures` (the notify function) each failed copy is counted there, so a retryable one fails the invocation and the
 * event is delivered again; without (a click, which must answer at once) failures are only logged: the event the vote
 * produces rewrites the copies again through the notify function.
 */
export async function refreshPosts(
  deps: { slack: Pick<SlackClient, 'update'>; posts: Pick<SlackState, 'posts'> },
  request: AccessRequest,
  failures?: SlackFailures,
): Promise<number> {
  const posts = await deps.posts.posts(request.id);
  const results = await Promise.allSettled(
    posts.map((post) =>
      deps.slack.update(
        post.channel,
        post.ts,
        approvalMessage(request, post.why === undefined ? {} : { why: post.why }),
      ),
    ),
  );
  let updated = 0;
  results.forEach((result, index) => {
    if (result.status === 'fulfilled') {
      updated += 1;
      return;
    }
    const post = posts[index];
    const ids = {
      copy: post?.kind === 'approver' ? `approver:${post.approver ?? ''}` : `channel:${post?.channel ?? ''}`,
    };
    if (failures !== undefined) failures.note('could not update a Slack copy', result.reason, ids);
    else
      logger.warn('could not update a Slack copy', { requestId: request.id, ...ids, error: errorName(result.reason) });
  });
  return updated;
}

async function tellClicker(deps: SlackInteractionDeps, responseUrl: string | undefined, text: string): Promise<void> {
  if (responseUrl === undefined) return;
  try {
    await deps.slack.respond(responseUrl, { text, ephemeral: true });
  } catch (error) {
    logger.warn('could not answer through response_url', { error: errorName(error) });
  }
}

import type { ChatRequestView, RequesterNotice } from '#lib/channels/notices.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import type { SlackBlock, SlackMessage } from './client.ts';

/**
 * Block Kit messages. Every user-controlled string (justification, reasons, names) is escaped, so a request cannot
 * mention `<!channel>` or forge a link. Buttons carry the request id in `value`; the decision itself is always
 * re-checked in Stint (who clicked, against the flow's policy), never taken from the message.
 */
export const APPROVE_ACTION = 'stint_approve';
export const REJECT_ACTION = 'stint_reject';
/** `callback_id` of the reason modal; its `private_metadata` is `{"requestId":…,"vote":…}`. */
export const DECISION_VIEW = 'stint_decision';
export const REASON_BLOCK = 'reason';
export const REASON_INPUT = 'reason_input';

type Request = ChatRequestView;

/** Escapes Slack's control characters (&, <, >) in mrkdwn and plain text. */
export function escapeText(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

const section = (text: string): SlackBlock => ({ type: 'section', text: { type: 'mrkdwn', text } });
const context = (text: string): SlackBlock => ({ type: 'context', elements: [{ type: 'mrkdwn', text }] });

export function formatDuration(minutes: number): string {
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

function summary(request: Request): SlackBlock[] {
  const targets = request.units.map(
    (u) => `• \`${escapeText(u.integrationId)}\` ${escapeText(u.resource)} → ${escapeText(u.permission)}`,
  );
  const onBehalf = request.grantee.sub === request.requester.sub ? '' : ` for *${escapeText(request.grantee.email)}*`;
  return [
    section(
      `*${escapeText(request.requester.email)}* asks for access${onBehalf} (flow \`${escapeText(request.flowId)}\`)`,
    ),
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: `*Requester*\n${escapeText(request.requester.email)}` },
        { type: 'mrkdwn', text: `*Grantee*\n${escapeText(request.grantee.email)}` },
        { type: 'mrkdwn', text: `*Duration*\n${formatDuration(request.durationMinutes)}` },
        { type: 'mrkdwn', text: `*Request*\n\`${escapeText(request.id)}\`` },
      ],
    },
    section(`*Targets*\n${targets.join('\n')}`),
    section(
      `*Justification*\n${request.justification === undefined ? '_none given_' : escapeText(request.justification)}`,
    ),
  ];
}

function votesLine(request: Request): string | undefined {
  if (request.votes.length === 0) return undefined;
  const votes = request.votes.map(
    (v) => `${v.vote === 'approve' ? 'approved' : 'rejected'} by ${escapeText(v.email)} (${v.channel})`,
  );
  const policy = request.flow.approval;
  const needed =
    policy.mode === 'manual' && policy.rule.type === 'quorum' ? ` — ${policy.rule.count} approvals needed` : '';
  return `${votes.join(', ')}${needed}`;
}

const OUTCOME: Record<AccessRequest['status'], string> = {
  PENDING: ':hourglass: Awaiting approval',
  APPROVED: ':white_check_mark: Approved',
  REJECTED: ':x: Rejected',
  CANCELLED: ':no_entry_sign: Cancelled by the requester',
  TIMED_OUT: ':alarm_clock: Timed out without a decision',
  GRANTING: ':white_check_mark: Approved — granting',
  ACTIVE: ':white_check_mark: Approved — access is active',
  FAILED: ':warning: Approved — the grant failed',
  REVOKING: ':white_check_mark: Approved — access is ending',
  REVOKED: ':white_check_mark: Approved — access was revoked',
  EXPIRED: ':white_check_mark: Approved — access has expired',
  REVOKE_FAILED: ':warning: Approved — revoking failed (Stint keeps trying)',
};

/**
 * The approval message as it should read now: with Approve / Reject while PENDING, then the outcome and who
 * decided. `why` tells this copy's reader why they are an approver.
 */
export function approvalMessage(request: Request, options: { why?: string } = {}): SlackMessage {
  const blocks = summary(request);
  if (options.why !== undefined) blocks.push(context(`You are asked because ${escapeText(options.why)}.`));
  const votes = votesLine(request);
  if (votes !== undefined) blocks.push(context(votes));
  if (request.status === 'PENDING') {
    blocks.push({
      type: 'actions',
      block_id: 'decision',
      elements: [
        {
          type: 'button',
          action_id: APPROVE_ACTION,
          text: { type: 'plain_text', text: 'Approve' },
          style: 'primary',
          value: request.id,
        },
        {
          type: 'button',
          action_id: REJECT_ACTION,
          text: { type: 'plain_text', text: 'Reject' },
          style: 'danger',
          value: request.id,
        },
      ],
    });
    return { text: `Access request from ${request.requester.email} awaits your approval`, blocks };
  }
  const decision = request.decision;
  const by =
    decision !== undefined && decision.outcome !== 'auto'
      ? ` by ${escapeText(request.votes.find((v) => v.by === decision.by)?.email ?? decision.by)} (${decision.channel})`
      : '';
  const reason = decision?.reason === undefined ? '' : ` — “${escapeText(decision.reason)}”`;
  const outcome = `${OUTCOME[request.status]}${request.decision === undefined ? '' : by}${reason}`;
  blocks.push(section(`*${outcome}*`));
  return { text: `Access request ${request.id}: ${request.status.toLowerCase()}`, blocks };
}

/** The modal asking for a reason; Reject always opens it, Approve when the flow requires an approver reason. */
export function reasonModal(requestId: string, vote: 'approve' | 'reject', required: boolean): Record<string, unknown> {
  return {
    type: 'modal',
    callback_id: DECISION_VIEW,
    private_metadata: JSON.stringify({ requestId, vote }),
    title: { type: 'plain_text', text: vote === 'approve' ? 'Approve access' : 'Reject access' },
    submit: { type: 'plain_text', text: vote === 'approve' ? 'Approve' : 'Reject' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'input',
        block_id: REASON_BLOCK,
        optional: !required,
        label: { type: 'plain_text', text: 'Reason' },
        element: { type: 'plain_text_input', action_id: REASON_INPUT, multiline: true, max_length: 500 },
      },
    ],
  };
}

export type { RequesterNotice };

/** A DM to the requester about their request. */
export function requesterMessage(
  request: Request,
  notice: RequesterNotice,
  options: { apiUrl?: string } = {},
): SlackMessage {
  const id = escapeText(request.id);
  const reason = request.decision?.reason === undefined ? '' : ` Reason: “${escapeText(request.decision.reason)}”.`;
  const until = request.expiresAt === undefined ? '' : ` until ${request.expiresAt}`;
  const api = options.apiUrl === undefined ? '' : escapeText(options.apiUrl.replace(/\/$/, ''));
  const texts: Record<RequesterNotice, string> = {
    approved: `:white_check_mark: Your access request \`${id}\` was approved.${reason} Stint is granting it now.`,
    rejected: `:x: Your access request \`${id}\` was rejected.${reason}`,
    active:
      `:key: Your access (request \`${id}\`) is active${until}.\n` +
      `Get the credentials with \`stint access ${id}\` or \`GET ${api}/requests/${id}/access\` (as the grantee).`,
    expiring: `:hourglass_flowing_sand: Your access (request \`${id}\`) ends in 10 minutes${until}.`,
    revoked: `:lock: Your access (request \`${id}\`) was revoked.`,
    expired: `:lock: Your access (request \`${id}\`) has expired.`,
    failed: `:warning: Granting your access (request \`${id}\`) failed${request.failureReason === undefined ? '' : `: ${escapeText(request.failureReason)}`}.`,
  };
  const text = texts[notice];
  return {
    text: text
      .replace(/:[a-z_][a-z0-9_+-]*:/g, '')
      .replace(/[*`]/g, '')
      .trim(),
    blocks: [...summary(request).slice(0, 1), section(text)],
  };
}

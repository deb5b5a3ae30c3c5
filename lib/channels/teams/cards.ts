import type { ChatRequestView, RequesterNotice } from '#lib/channels/notices.ts';
import type { AccessRequest } from '#lib/domain/request.ts';

/**
 * Adaptive Cards (schema 1.4, Universal Actions) for approvals in Microsoft Teams. Approve / Reject are
 * `Action.Execute` with a verb and `data: { requestId }`; the decision is always re-checked in Stint (who clicked,
 * against the flow's policy), never taken from the card. Every user-controlled string is escaped, so a
 * justification cannot forge a link or markup.
 */
export const APPROVE_VERB = 'stint.approve';
export const REJECT_VERB = 'stint.reject';
/** Universal Actions refresh: Teams asks for the current card when a user opens it. */
export const REFRESH_VERB = 'stint.refresh';
export const REASON_INPUT = 'reason';
export const ADAPTIVE_CARD_TYPE = 'application/vnd.microsoft.card.adaptive';

export type AdaptiveElement = Record<string, unknown>;
export type AdaptiveCard = {
  type: 'AdaptiveCard';
  $schema: string;
  version: '1.4';
  body: AdaptiveElement[];
  actions?: AdaptiveElement[];
  refresh?: AdaptiveElement;
};

type Request = ChatRequestView;

/** Backslash-escapes what makes links and emphasis in the Markdown subset Adaptive Card TextBlocks render. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]()<>~]/g, (c) => `\\${c}`);
}

const text = (value: string, extra: AdaptiveElement = {}): AdaptiveElement => ({
  type: 'TextBlock',
  text: value,
  wrap: true,
  ...extra,
});

function formatDuration(minutes: number): string {
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

/** The decision, as the card's headline says it. */
const OUTCOME: Record<AccessRequest['status'], string> = {
  PENDING: 'Awaiting approval',
  APPROVED: 'Approved',
  REJECTED: 'Rejected',
  CANCELLED: 'Cancelled by the requester',
  TIMED_OUT: 'Timed out without a decision',
  GRANTING: 'Approved',
  ACTIVE: 'Approved',
  FAILED: 'Approved',
  REVOKING: 'Approved',
  REVOKED: 'Approved',
  EXPIRED: 'Approved',
  REVOKE_FAILED: 'Approved',
};

/** Who decided, as the card shows it: "Approved by dba-1@example.com (teams) — “reason”". */
export function outcomeLine(request: Request): string {
  const decision = request.decision;
  const by =
    decision !== undefined && decision.outcome !== 'auto'
      ? ` by ${escapeMarkdown(request.votes.find((v) => v.by === decision.by)?.email ?? decision.by)} (${decision.channel})`
      : decision?.outcome === 'auto'
        ? ' automatically (break-glass)'
        : '';
  const reason = decision?.reason === undefined ? '' : ` — “${escapeMarkdown(decision.reason)}”`;
  return `${OUTCOME[request.status]}${by}${reason}`;
}

/** What became of the access after the approval; undefined before it (or when there was none). */
export function accessLine(request: Request): string | undefined {
  const until = request.expiresAt === undefined ? '' : ` until ${request.expiresAt}`;
  switch (request.status) {
    case 'GRANTING':
      return 'Granting the access…';
    case 'ACTIVE':
      return `Access is active${until}.`;
    case 'FAILED':
      return `The grant failed${request.failureReason === undefined ? '' : `: ${escapeMarkdown(request.failureReason)}`}.`;
    case 'REVOKING':
      return 'Access is ending…';
    case 'REVOKED':
      return `Access was revoked${request.revokedAt === undefined ? '' : ` at ${request.revokedAt}`}.`;
    case 'EXPIRED':
      return `Access expired${request.revokedAt === undefined ? '' : ` at ${request.revokedAt}`}.`;
    case 'REVOKE_FAILED':
      return 'Revoking failed; Stint keeps trying.';
    default:
      return undefined;
  }
}

/**
 * The approval card as it should read now: Approve / Reject (with an optional reason) while PENDING, then the
 * outcome and who decided. `notice` is a line for the person who clicked (a refusal, "already recorded"…).
 */
export function approvalCard(request: Request, options: { notice?: string; why?: string } = {}): AdaptiveCard {
  const onBehalf = request.grantee.sub === request.requester.sub ? '' : ` for ${escapeMarkdown(request.grantee.email)}`;
  const body: AdaptiveElement[] = [
    text(`**${escapeMarkdown(request.requester.email)}** asks for access${onBehalf}`, { size: 'Medium' }),
    {
      type: 'FactSet',
      facts: [
        { title: 'Flow', value: escapeMarkdown(request.flowId) },
        { title: 'Requester', value: escapeMarkdown(request.requester.email) },
        { title: 'Grantee', value: escapeMarkdown(request.grantee.email) },
        { title: 'Duration', value: formatDuration(request.durationMinutes) },
        { title: 'Request', value: escapeMarkdown(request.id) },
      ],
    },
    text(
      `**Targets**\n\n${request.units
        .map(
          (u) => `${escapeMarkdown(u.integrationId)} ${escapeMarkdown(u.resource)} → ${escapeMarkdown(u.permission)}`,
        )
        .join('\n\n')}`,
    ),
    text(
      `**Justification**: ${request.justification === undefined ? 'none given' : escapeMarkdown(request.justification)}`,
    ),
  ];
  if (options.why !== undefined)
    body.push(text(`You are asked because ${escapeMarkdown(options.why)}.`, { isSubtle: true }));
  if (request.votes.length > 0) {
    const policy = request.flow.approval;
    const needed =
      policy.mode === 'manual' && policy.rule.type === 'quorum' ? ` — ${policy.rule.count} approvals needed` : '';
    const votes = request.votes.map(
      (v) => `${v.vote === 'approve' ? 'approved' : 'rejected'} by ${escapeMarkdown(v.email)} (${v.channel})`,
    );
    body.push(text(`${votes.join(', ')}${needed}`, { isSubtle: true }));
  }
  const card: AdaptiveCard = {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.4',
    body,
    refresh: { action: { type: 'Action.Execute', verb: REFRESH_VERB, data: { requestId: request.id } } },
  };
  if (request.status === 'PENDING') {
    body.push({
      type: 'Input.Text',
      id: REASON_INPUT,
      placeholder: 'Reason (optional)',
      maxLength: 500,
      isMultiline: true,
    });
    card.actions = [
      {
        type: 'Action.Execute',
        title: 'Approve',
        verb: APPROVE_VERB,
        data: { requestId: request.id },
        style: 'positive',
      },
      {
        type: 'Action.Execute',
        title: 'Reject',
        verb: REJECT_VERB,
        data: { requestId: request.id },
        style: 'destructive',
      },
    ];
  } else {
    body.push(text(`**${outcomeLine(request)}**`, { weight: 'Bolder' }));
    const access = accessLine(request);
    if (access !== undefined) body.push(text(access));
  }
  if (options.notice !== undefined) body.push(text(escapeMarkdown(options.notice), { color: 'Attention' }));
  return card;
}

/** A card with one message (unknown user, unknown request). */
export function noticeCard(message: string): AdaptiveCard {
  return {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.4',
    body: [text(escapeMarkdown(message), { color: 'Attention' })],
  };
}

/** What the requester (and, for the grant itself, the grantee) is told in a 1:1 chat with the bot. */
export type { RequesterNotice };

/** The notice card: a headline, the request's facts, and for `active` how to get the credentials. */
export function requesterCard(
  request: Request & Pick<AccessRequest, 'expiresAt'>,
  notice: RequesterNotice,
  options: { apiUrl?: string } = {},
): AdaptiveCard {
  const id = escapeMarkdown(request.id);
  const until = request.expiresAt === undefined ? '' : ` until ${request.expiresAt}`;
  const reason = request.decision?.reason === undefined ? '' : ` Reason: “${escapeMarkdown(request.decision.reason)}”.`;
  const headline: Record<RequesterNotice, string> = {
    approved: `Your access request ${id} was approved.${reason} Stint is granting it now.`,
    rejected: `Your access request ${id} was rejected.${reason}`,
    active: `Your access (request ${id}) is active${until}.`,
    expiring: `Your access (request ${id}) ends in 10 minutes${until}.`,
    revoked: `Your access (request ${id}) was revoked.`,
    expired: `Your access (request ${id}) has expired.`,
    failed: `Granting your access (request ${id}) failed${request.failureReason === undefined ? '' : `: ${escapeMarkdown(request.failureReason)}`}.`,
  };
  const body: AdaptiveElement[] = [
    text(`**${headline[notice]}**`, { size: 'Medium', ...(notice === 'failed' ? { color: 'Attention' } : {}) }),
    {
      type: 'FactSet',
      facts: [
        { title: 'Flow', value: escapeMarkdown(request.flowId) },
        { title: 'Grantee', value: escapeMarkdown(request.grantee.email) },
        { title: 'Duration', value: formatDuration(request.durationMinutes) },
        { title: 'Request', value: id },
      ],
    },
    text(
      request.units
        .map(
          (u) => `${escapeMarkdown(u.integrationId)} ${escapeMarkdown(u.resource)} → ${escapeMarkdown(u.permission)}`,
        )
        .join('\n\n'),
    ),
  ];
  if (notice === 'active') {
    // Inside code spans nothing is rendered, so nothing is escaped; backticks (which would end the span) are dropped.
    const code = (value: string) => value.replace(/`/g, '');
    const api = options.apiUrl === undefined ? '' : code(options.apiUrl.replace(/\/$/, ''));
    const raw = code(request.id);
    body.push(
      text(
        `Get the credentials (as the grantee) with \`stint access ${raw}\` or \`GET ${api}/requests/${raw}/access\`.`,
      ),
    );
  }
  return {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.4',
    body,
  };
}

/** One line for notifications and the chat list (plain text: no Markdown there). */
export function requesterSummary(request: Pick<AccessRequest, 'id'>, notice: RequesterNotice): string {
  const texts: Record<RequesterNotice, string> = {
    approved: 'approved',
    rejected: 'rejected',
    active: 'access is active',
    expiring: 'access ends in 10 minutes',
    revoked: 'access was revoked',
    expired: 'access has expired',
    failed: 'the grant failed',
  };
  return `Stint: request ${request.id}: ${texts[notice]}`;
}

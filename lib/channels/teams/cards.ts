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

type Request = Pick<
  AccessRequest,
  | 'id'
  | 'requester'
  | 'grantee'
  | 'flowId'
  | 'flow'
  | 'units'
  | 'durationMinutes'
  | 'justification'
  | 'status'
  | 'votes'
  | 'decision'
>;

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

const STATUS: Record<AccessRequest['status'], string> = {
  PENDING: 'Awaiting approval',
  APPROVED: 'Approved',
  REJECTED: 'Rejected',
  CANCELLED: 'Cancelled by the requester',
  TIMED_OUT: 'Timed out without a decision',
  GRANTING: 'Approved — granting',
  ACTIVE: 'Approved — access is active',
  FAILED: 'Approved — the grant failed',
  REVOKING: 'Approved — access is ending',
  REVOKED: 'Approved — access was revoked',
  EXPIRED: 'Approved — access has expired',
  REVOKE_FAILED: 'Approved — revoking failed (Stint keeps trying)',
};

/** Who decided, as the card shows it: "Approved by dba-1@example.com (teams) — “reason”". */
export function outcomeLine(request: Request): string {
  const decision = request.decision;
  const by =
    decision !== undefined && decision.outcome !== 'auto'
      ? ` by ${escapeMarkdown(request.votes.find((v) => v.by === decision.by)?.email ?? decision.by)} (${decision.channel})`
      : '';
  const reason = decision?.reason === undefined ? '' : ` — “${escapeMarkdown(decision.reason)}”`;
  return `${STATUS[request.status]}${by}${reason}`;
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

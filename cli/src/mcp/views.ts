import * as z from 'zod';
import type { Ok } from '../api.ts';
import { STATUSES } from '../statuses.ts';

/**
 * What the MCP tools answer: compact views of the API's answers, shaped for a model to read (the API's request view
 * carries timelines and approver standings an agent has no use for). Each is also the tool's `outputSchema`, so a
 * client knows the fields before it calls.
 */
type ApiRequest = Ok<'get-request'>;
type ApiFlow = Ok<'get-catalog'>['flows'][number];

export const Target = z.object({
  integrationId: z.string().optional(),
  resource: z.string(),
  permission: z.string(),
});

export const FlowView = z.object({
  id: z.string().describe('the flowId to pass to request_access'),
  name: z.string(),
  description: z.string().optional(),
  needsApproval: z.boolean().describe('true: a person must approve each request before access is granted'),
  approvedBy: z.string().optional().describe('who approves, when a person must'),
  approvalTimeoutMinutes: z.number().optional().describe('a request nobody approves in this time ends TIMED_OUT'),
  targets: z.array(Target).describe('what the flow can grant: pass some of these as targets'),
  bundles: z.array(z.string()).describe('named sets of targets: pass one as bundle instead of targets'),
  defaultMinutes: z.number(),
  maxMinutes: z.number().describe('durationMinutes may not exceed this'),
  justificationRequired: z.boolean(),
  maxExtensions: z.number(),
  breakGlass: z.boolean().describe('emergency flow: granted at once, reviewed afterwards'),
  workingHours: z
    .object({ days: z.array(z.number()), start: z.string(), end: z.string(), timezone: z.string() })
    .optional()
    .describe('requests are accepted only then (ISO weekdays 1–7)'),
});
export type FlowView = z.infer<typeof FlowView>;

export const CatalogView = z.object({ flows: z.array(FlowView) });

export function flowView(flow: ApiFlow): FlowView {
  const manual = flow.approval.mode === 'manual' && !flow.breakGlass ? flow.approval : undefined;
  return {
    id: flow.id,
    name: flow.name,
    ...(flow.description === undefined ? {} : { description: flow.description }),
    needsApproval: manual !== undefined,
    ...(manual === undefined
      ? {}
      : { approvedBy: describeApprovers(manual.sets, manual.rule), approvalTimeoutMinutes: manual.timeoutMinutes }),
    targets: flow.targets.map((t) => ({
      integrationId: t.integrationId,
      resource: t.resource,
      permission: t.permission,
    })),
    bundles: flow.bundles,
    defaultMinutes: flow.defaultMinutes,
    maxMinutes: flow.maxMinutes,
    justificationRequired: flow.justificationRequired,
    maxExtensions: flow.maxExtensions,
    breakGlass: flow.breakGlass,
    ...(flow.workingHours === undefined ? {} : { workingHours: flow.workingHours }),
  };
}

export const RequestView = z.object({
  id: z.string().describe('the request id, for get_request, get_access and cancel_request'),
  status: z.enum(STATUSES),
  awaitingApproval: z.boolean().describe('true: a person must approve it; agents cannot'),
  next: z.string().describe('what happens next, and what to do'),
  flowId: z.string(),
  flowName: z.string(),
  targets: z.array(Target),
  bundle: z.string().optional(),
  durationMinutes: z.number(),
  justification: z.string().optional(),
  createdAt: z.string(),
  approvalDeadline: z.string().optional().describe('while PENDING: when it times out if nobody approves'),
  approvers: z.string().optional().describe('while PENDING: who may approve'),
  decision: z
    .object({ outcome: z.string(), by: z.string(), at: z.string(), reason: z.string().optional() })
    .optional()
    .describe('approved, rejected or auto (self-serve): by whom, when, why'),
  grantedAt: z.string().optional(),
  expiresAt: z.string().optional().describe('when the access ends (extensions included)'),
  endReason: z.string().optional(),
  failureReason: z.string().optional(),
});
export type RequestView = z.infer<typeof RequestView>;

export const RequestListView = z.object({
  requests: z.array(RequestView),
  cursor: z.string().nullable().describe('pass it back as cursor for the next page; null: no more'),
});

type ApproverSet = { name?: string; groups: string[]; users: string[]; manager?: boolean };
type Rule = { type: 'anyOf' } | { type: 'allOf' } | { type: 'quorum'; count: number };

/** Approver sets as one line: each set as its name and members (`DBAs (group dba)`), joined as the rule says. */
export function describeApprovers(sets: ApproverSet[], rule: Rule): string {
  const who = sets.map((s) => {
    const members = [...s.groups.map((g) => `group ${g}`), ...s.users, ...(s.manager === true ? ['the manager'] : [])];
    const list = members.join(' or ') || 'nobody named';
    return s.name === undefined ? list : `${s.name} (${list})`;
  });
  if (rule.type === 'allOf') return `each of: ${who.join('; ')}`;
  if (rule.type === 'quorum') return `${rule.count} approvals from: ${who.join('; ')}`;
  return who.join('; ');
}

/** Who may approve the request now: its open approver sets (escalation opens later tiers). */
function approversOf(request: ApiRequest): string | undefined {
  const { approval } = request;
  const sets = approval?.sets.filter((s) => s.open);
  if (approval === undefined || sets === undefined || sets.length === 0) return undefined;
  return describeApprovers(sets, approval.rule);
}

/** What the agent should do next, by status: the one line a model most needs. */
function nextOf(request: ApiRequest, accessTool: boolean): string {
  const who = request.decision?.by;
  const why = request.decision?.reason === undefined ? '' : ` (${request.decision.reason})`;
  switch (request.status) {
    case 'PENDING': {
      const approvers = approversOf(request);
      const deadline = request.approvalDeadline === undefined ? '' : `, by ${request.approvalDeadline}`;
      return (
        `Waiting for a person to approve it${approvers === undefined ? '' : ` (${approvers})`}${deadline}; ` +
        'you cannot approve it. Tell the person, then poll get_request.'
      );
    }
    case 'APPROVED':
    case 'GRANTING':
      return 'Approved; the access is being granted. Poll get_request until it is ACTIVE.';
    case 'ACTIVE':
      return accessTool
        ? `Active until ${request.expiresAt ?? 'its expiry'}. Call get_access for the credentials.`
        : `Active until ${request.expiresAt ?? 'its expiry'}. Credentials are not given to agents here: the person can run \`stint access ${request.id}\`.`;
    case 'REJECTED':
      return `Rejected by ${who ?? 'an approver'}${why}. Do not ask again unless the person wants to.`;
    case 'CANCELLED':
      return 'Cancelled before it was granted.';
    case 'TIMED_OUT':
      return 'Nobody approved it in time. A new request is needed.';
    case 'FAILED':
      return `Granting failed${request.failureReason === undefined ? '' : `: ${request.failureReason}`}.`;
    case 'REVOKING':
      return 'The access is being removed.';
    case 'REVOKED':
      return 'The access was revoked. A new request is needed.';
    case 'EXPIRED':
      return 'The access expired. A new request is needed.';
    case 'REVOKE_FAILED':
      return 'The access ended but removing it from the target failed; Stint retries and admins are told.';
  }
}

export function requestView(request: ApiRequest, options: { accessTool: boolean }): RequestView {
  const pending = request.status === 'PENDING';
  const approvers = pending ? approversOf(request) : undefined;
  const { decision } = request;
  return {
    id: request.id,
    status: request.status,
    awaitingApproval: pending,
    next: nextOf(request, options.accessTool),
    flowId: request.flowId,
    flowName: request.flowName,
    targets: request.unitDetails.map((u) => ({
      integrationId: u.integrationId,
      resource: u.resource,
      permission: u.permission,
    })),
    ...(request.bundle === undefined ? {} : { bundle: request.bundle }),
    durationMinutes: request.durationMinutes,
    ...(request.justification === undefined ? {} : { justification: request.justification }),
    createdAt: request.createdAt,
    ...(pending && request.approvalDeadline !== undefined ? { approvalDeadline: request.approvalDeadline } : {}),
    ...(approvers === undefined ? {} : { approvers }),
    ...(decision === undefined
      ? {}
      : {
          decision: {
            outcome: decision.outcome,
            by: decision.by,
            at: decision.at,
            ...(decision.reason === undefined ? {} : { reason: decision.reason }),
          },
        }),
    ...(request.grantedAt === undefined ? {} : { grantedAt: request.grantedAt }),
    ...(request.expiresAt === undefined ? {} : { expiresAt: request.expiresAt }),
    ...(request.endReason === undefined ? {} : { endReason: request.endReason }),
    ...(request.failureReason === undefined ? {} : { failureReason: request.failureReason }),
  };
}

/**
 * GET /requests/{id}/access as the API answers it (kind-tagged: a database login, an AWS account or role, a custom
 * target's fields), checked loosely: the fields every kind has, the rest passed through.
 */
export const AccessView = z.looseObject({
  kind: z.string().describe('database, aws-account, aws-role or custom: which other fields there are'),
  integrationId: z.string(),
  resource: z.string(),
  permission: z.string(),
  expiresAt: z.string().describe('the credentials stop working then'),
});

/**
 * What the ITSM kinds (jira, servicenow) share: templates over request fields, the human text of a ticket and of
 * each later event, the marker that lets a redelivered event be recognised, and credential parsing.
 */
import * as z from 'zod';
import { type RequestEvent, type RequestEventType, RequestView, type StintEvent } from '#events/schemas.ts';
import { PermanentDeliveryError } from './types.ts';

// ---------------------------------------------------------------------------------------------------------------
// Templates: `{{request.flowId}}`, `{{request.requester.email}}`, `{{event.type}}`, `{{actor.sub}}`…

const PLACEHOLDER = /\{\{\s*([a-zA-Z0-9_.]+)\s*\}\}/g;
const EVENT_FIELDS = ['id', 'type', 'time', 'severity', 'previousStatus'] as const;
const ACTOR_FIELDS = ['sub', 'channel', 'reason'] as const;

/** Why a placeholder path cannot resolve (undefined when it can). Checks the first field against the schemas. */
function placeholderProblem(path: string): string | undefined {
  const [root, field] = path.split('.');
  const known: Record<string, readonly string[]> = {
    request: Object.keys(RequestView.shape),
    event: EVENT_FIELDS,
    actor: ACTOR_FIELDS,
  };
  if (root === undefined || !(root in known)) return `{{${path}}}: must start with request., event. or actor.`;
  if (field === undefined || !known[root]?.includes(field)) return `{{${path}}}: ${root} has no field "${field ?? ''}"`;
  return undefined;
}

/** A string with `{{path}}` placeholders over the event's request, envelope and actor; checked at synth. */
export const Template = z
  .string()
  .max(4000)
  .superRefine((value, ctx) => {
    for (const match of value.matchAll(PLACEHOLDER)) {
      const problem = placeholderProblem(match[1] ?? '');
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    }
  });

/** A field value: a template, or JSON whose string leaves are templates (e.g. a Jira select: `{ value: "{{…}}" }`). */
export type FieldValue = string | number | boolean | null | FieldValue[] | { [key: string]: FieldValue };
export const FieldValue: z.ZodType<FieldValue> = z.lazy(() =>
  z.union([Template, z.number(), z.boolean(), z.null(), z.array(FieldValue), z.record(z.string(), FieldValue)]),
);

export type TemplateContext = Record<'request' | 'event' | 'actor', Record<string, unknown>>;

export function templateContext(event: RequestEvent): TemplateContext {
  return {
    request: event.request,
    event: {
      id: event.id,
      type: event.type,
      time: event.time,
      severity: event.severity,
      previousStatus: event.previousStatus,
    },
    actor: event.actor,
  };
}

function lookup(context: TemplateContext, path: string): unknown {
  let value: unknown = context;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = Reflect.get(value, part);
  }
  return value;
}

function text(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number'))
    return value.join(', ');
  return JSON.stringify(value);
}

export function render(template: string, context: TemplateContext): string {
  return template.replace(PLACEHOLDER, (_, path: string) => text(lookup(context, path)));
}

export function renderValue(value: FieldValue, context: TemplateContext): FieldValue {
  if (typeof value === 'string') return render(value, context);
  if (Array.isArray(value)) return value.map((v) => renderValue(v, context));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderValue(v, context)]));
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------------
// Events

export function isRequestEvent(event: StintEvent): event is RequestEvent {
  return 'request' in event;
}

/**
 * Put in every ticket and comment Stint writes: `[stint-event:<event id>]` (closed, so `…:4` never matches `…:41`)
 * recognises a redelivered event, and the
 * ticket's own marker (`stint-request:<request id>` in text, `stint-<request id>` as a Jira label) finds a ticket
 * whose key was never stored (a crash between the vendor's create and the ticket store).
 */
export const eventMarker = (eventId: string) => `[stint-event:${eventId}]`;

const TITLES: Record<RequestEventType, string> = {
  'request.created': 'Access requested',
  'request.approval_recorded': 'Approval recorded',
  'request.escalated': 'Escalated to the next approver tier',
  'request.oncall_changed': 'Sent to the person now on call',
  'request.approved': 'Request approved',
  'request.rejected': 'Request rejected',
  'request.cancelled': 'Request cancelled',
  'request.timed_out': 'Request timed out: nobody decided before the deadline',
  'grant.started': 'Granting access',
  'grant.active': 'Access granted',
  'grant.failed': 'Granting failed',
  'grant.expiring': 'Access ends in 10 minutes',
  'grant.extended': 'Access extended',
  'grant.revoking': 'Revoking access',
  'grant.revoked': 'Access revoked',
  'grant.expired': 'Access expired',
  'grant.revoke_failed': 'Revocation failed (Stint keeps retrying)',
};

/** Request event types, for option keys (`transitions`, `states`). */
export const RequestEventTypeKey = z.enum(Object.keys(TITLES) as [RequestEventType, ...RequestEventType[]], {
  error: 'must be a request.* or grant.* event type',
});

export function titleOf(type: RequestEventType): string {
  return TITLES[type];
}

export type Line = { label: string; value: string };

const units = (r: RequestView) => r.units.map((u) => `${u.integrationId}/${u.resource}/${u.permission}`).join(', ');
const who = (i: { sub: string; email: string }) => `${i.sub} <${i.email}>`;

/** The ticket's description, line by line (request.created). */
export function describeRequest(event: RequestEvent): Line[] {
  const r = event.request;
  const lines: Line[] = [
    { label: 'Requester', value: who(r.requester) },
    ...(r.grantee.sub === r.requester.sub ? [] : [{ label: 'Grantee', value: who(r.grantee) }]),
    { label: 'Flow', value: `${r.flowId} (version ${r.flowVersion})${r.breakGlass ? ' — BREAK-GLASS' : ''}` },
    { label: 'Access', value: units(r) },
    { label: 'Duration', value: `${r.durationMinutes} minutes` },
    ...(r.justification === undefined ? [] : [{ label: 'Justification', value: r.justification }]),
    { label: 'Status', value: r.status },
    ...(r.approvalDeadline === undefined ? [] : [{ label: 'Decision due', value: r.approvalDeadline }]),
    { label: 'Request', value: `stint-request:${r.id}` },
    { label: 'Event', value: eventMarker(event.id) },
  ];
  return lines;
}

/** A later event, line by line: who, what, when, why — and the marker. */
export function describeChange(event: RequestEvent): Line[] {
  const r = event.request;
  const lines: Line[] = [
    { label: 'By', value: `${event.actor.sub} via ${event.actor.channel}` },
    { label: 'When', value: event.time },
  ];
  if (event.actor.reason !== undefined) lines.push({ label: 'Reason', value: event.actor.reason });
  lines.push({
    label: 'Status',
    value: event.previousStatus === undefined ? r.status : `${event.previousStatus} → ${r.status}`,
  });
  if (event.type === 'request.approval_recorded' && event.vote !== undefined) {
    lines.push({ label: 'Vote', value: `${event.vote.vote} by ${event.vote.by} via ${event.vote.channel}` });
  }
  if ((event.type === 'grant.active' || event.type === 'grant.extended') && r.expiresAt !== undefined) {
    lines.push({ label: 'Access until', value: r.expiresAt });
  }
  if (r.endReason !== undefined && ['grant.revoking', 'grant.revoked', 'grant.expired'].includes(event.type)) {
    lines.push({ label: 'End reason', value: r.endReason });
  }
  if (r.failureReason !== undefined && (event.type === 'grant.failed' || event.type === 'grant.revoke_failed')) {
    lines.push({ label: 'Failure', value: r.failureReason });
  }
  lines.push({ label: 'Event', value: eventMarker(event.id) });
  return lines;
}

export function plainText(title: string, lines: Line[]): string {
  return [title, ...lines.map((l) => `${l.label}: ${l.value}`)].join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Credentials

/**
 * Parses the resolved secret (JSON) against the shapes a kind accepts. A wrong secret is a configuration error:
 * permanent, and the message names the expected shapes, never the value.
 */
export function parseSecret<T>(secret: string, schema: z.ZodType<T>, kind: string, expected: string): T {
  let json: unknown;
  try {
    json = JSON.parse(secret);
  } catch {
    json = undefined;
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new PermanentDeliveryError(`${kind}: the secret must be JSON ${expected}`);
  return parsed.data;
}

export const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

/** Options are validated at synth and cold start; should a bad one get here, it is a permanent failure. */
export function parseOptions<T>(schema: z.ZodType<T>, options: unknown, kind: string): T {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new PermanentDeliveryError(`${kind}: invalid options: ${where}`);
  }
  return parsed.data;
}

/** Parses a vendor's JSON answer; an answer that does not match is permanent (retrying will not change it). */
export function parseAnswer<T>(body: string, schema: z.ZodType<T>, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new PermanentDeliveryError(`${what}: the answer is not JSON`, undefined, body.slice(0, 2000));
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new PermanentDeliveryError(`${what}: unexpected answer`, undefined, body.slice(0, 2000));
  }
  return parsed.data;
}

/** `https://x.example/` + `/rest/api/3/issue` without a double slash. */
export function joinUrl(endpoint: string, path: string): string {
  return `${endpoint.replace(/\/+$/, '')}${path}`;
}

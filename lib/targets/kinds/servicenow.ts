/**
 * `servicenow`: one record (incident or service request) per access request, with a work note per later event and
 * state changes as the request moves on.
 *
 * Follows the ServiceNow REST "Table API" (REST API reference › Table API; /api/now/table/{tableName}):
 * - Table - POST: `POST /api/now/table/{table}` with the field name/value pairs → 201 `{ result: { sys_id, number… } }`.
 * - Table - GET: `GET /api/now/table/{table}?sysparm_query=<encoded query>&sysparm_limit=1&sysparm_fields=…`
 *   → 200 `{ result: [ … ] }`.
 * - Table - PATCH: `PATCH /api/now/table/{table}/{sys_id}` with the fields to change → 200 `{ result: { … } }`.
 *   Writing `work_notes` (or `comments`) adds a journal entry; journal entries are rows of `sys_journal_field`
 *   (`element_id` = the record's sys_id, `element` = the field, `value` = the text), readable through the same API.
 * - Headers `Accept: application/json` and `Content-Type: application/json`; Basic auth with an integration user,
 *   or an OAuth access token as `Authorization: Bearer`. Chosen by the secret's shape.
 * - Incident states (incident table, `state`): 1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled.
 *   Resolving or closing needs `close_code` and `close_notes` (the incident data policy, which the Table API
 *   enforces like the form does — "Data policy": applied to web services by default), so a state of 6 or 7 given as
 *   a plain value gets both. Service requests (`sc_request`) move through `request_state` (e.g. `closed_complete`).
 *
 * Idempotency under redelivery (the ITSM queue is FIFO, one message group per target, delivered at least once): the record carries
 * `correlation_id` = the request id, queried before creating when the request has no stored key; each work note
 * carries `[stint-event:<event id>]` and is not written again when `sys_journal_field` already has it (a state change
 * is idempotent by itself).
 */
import * as z from 'zod';
import type { RequestEvent, StintEvent } from '#events/schemas.ts';
import {
  basic,
  describeChange,
  describeRequest,
  eventMarker,
  isRequestEvent,
  joinUrl,
  parseAnswer,
  parseOptions,
  parseSecret,
  plainText,
  RequestEventTypeKey,
  render,
  Template,
  templateContext,
  titleOf,
} from '../itsm.ts';
import {
  type DeliveryContext,
  expectSuccess,
  type OutboundRequest,
  type OutboundResponse,
  PermanentDeliveryError,
  type TargetDriver,
} from '../types.ts';

/** Fields the driver sets itself. */
const RESERVED_FIELDS = ['short_description', 'description', 'correlation_id', 'correlation_display', 'work_notes'];
const FieldName = z.string().regex(/^[a-z][a-z0-9_]{0,79}$/, { error: 'must be a ServiceNow column name' });

/** Incident states that need close information (Resolved, Closed). */
const CLOSING_STATES = ['6', '7'];

export const ServiceNowOptions = z
  .strictObject({
    table: z.enum(['incident', 'sc_request']).default('incident'),
    shortDescription: Template.default(
      'Access request: {{request.requester.sub}} → {{request.flowId}} ({{request.id}})',
    ),
    /** Column → template over the request, e.g. `{ category: 'access', u_flow: '{{request.flowId}}' }`. */
    fields: z
      .record(FieldName, Template)
      .default({})
      .refine((f) => !RESERVED_FIELDS.some((name) => name in f), {
        error: `may not set ${RESERVED_FIELDS.join(', ')} (set by Stint)`,
      }),
    /** Where each event's note goes: `work_notes` (internal, default) or `comments` (visible to the caller). */
    notesField: z.enum(['work_notes', 'comments']).default('work_notes'),
    /**
     * Event type → new state: a value for the table's state column (`state` for incident, `request_state` for
     * sc_request), e.g. `grant.expired: '6'`; or columns → templates, e.g.
     * `{ state: '7', close_code: 'Solution provided', close_notes: 'Access {{request.endReason}}' }`.
     */
    states: z
      .partialRecord(RequestEventTypeKey, z.union([z.string().min(1).max(80), z.record(FieldName, Template)]))
      .default({}),
    /** close_code used when an incident is resolved or closed through a plain state value. */
    closeCode: z.string().min(1).max(80).default('Solution provided'),
  })
  .superRefine((o, ctx) => {
    if (o.table !== 'incident') return;
    for (const [type, change] of Object.entries(o.states)) {
      if (typeof change === 'string' || change.state === undefined || !CLOSING_STATES.includes(change.state)) continue;
      for (const needed of ['close_code', 'close_notes']) {
        if (!(needed in change)) {
          ctx.addIssue({
            code: 'custom',
            path: ['states', type, needed],
            message: `required when an incident goes to state ${change.state} (resolved/closed)`,
          });
        }
      }
    }
  });
export type ServiceNowOptions = z.infer<typeof ServiceNowOptions>;

const ServiceNowSecret = z.union([
  z.strictObject({ username: z.string().min(1), password: z.string().min(1) }),
  z.strictObject({ token: z.string().min(1) }),
]);

const Record_ = z.object({ sys_id: z.string().min(1), number: z.string().optional() });
const One = z.object({ result: Record_ });
const Many = z.object({ result: z.array(Record_) });

class ServiceNowClient {
  private readonly authorization: string;

  constructor(
    private readonly ctx: DeliveryContext,
    readonly options: ServiceNowOptions,
  ) {
    const secret = parseSecret(ctx.secret, ServiceNowSecret, 'servicenow', '{"username","password"} or {"token"}');
    this.authorization = 'token' in secret ? `Bearer ${secret.token}` : basic(secret.username, secret.password);
  }

  send(method: OutboundRequest['method'], path: string, body?: unknown): Promise<OutboundResponse> {
    const headers: Record<string, string> = { accept: 'application/json', authorization: this.authorization };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return this.ctx.http.send({
      method,
      url: joinUrl(this.ctx.target.endpoint, path),
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  async call(method: OutboundRequest['method'], path: string, what: string, body?: unknown) {
    return expectSuccess(await this.send(method, path, body), `servicenow ${what}`);
  }

  tablePath(query: Record<string, string>, sysId?: string): string {
    const table = `/api/now/table/${this.options.table}${sysId === undefined ? '' : `/${encodeURIComponent(sysId)}`}`;
    return `${table}?${new URLSearchParams(query).toString()}`;
  }
}

/** Encoded-query values end at `^`; a request id (a ULID) has none, anything else is refused rather than injected. */
function queryValue(value: string): string {
  if (/[\^\s]/.test(value)) throw new PermanentDeliveryError(`servicenow: cannot query for ${JSON.stringify(value)}`);
  return value;
}

/** The request's record: the stored key, a record found by correlation_id, or a new one. */
async function created(sn: ServiceNowClient, ctx: DeliveryContext, event: RequestEvent): Promise<string> {
  const requestId = event.request.id;
  const stored = await ctx.tickets.get(requestId, ctx.target.name);
  if (stored !== undefined) return stored;
  const found = await sn.call(
    'GET',
    sn.tablePath({
      sysparm_query: `correlation_id=${queryValue(requestId)}^ORDERBYsys_created_on`,
      sysparm_limit: '1',
      sysparm_fields: 'sys_id,number',
    }),
    'find record',
  );
  const [existing] = parseAnswer(found.body, Many, 'servicenow find record').result;
  if (existing !== undefined) {
    await ctx.tickets.put(requestId, ctx.target.name, existing.sys_id);
    return existing.sys_id;
  }
  const context = templateContext(event);
  const mapped = Object.fromEntries(Object.entries(sn.options.fields).map(([k, v]) => [k, render(v, context)]));
  const shortDescription = render(sn.options.shortDescription, context).replace(/\s+/g, ' ').trim().slice(0, 160);
  const response = await sn.call(
    'POST',
    sn.tablePath({ sysparm_fields: 'sys_id,number', sysparm_exclude_reference_link: 'true' }),
    'create record',
    {
      ...mapped,
      short_description: shortDescription === '' ? `Access request ${requestId}` : shortDescription,
      description: plainText(titleOf(event.type), describeRequest(event)),
      correlation_id: requestId,
      correlation_display: 'Stint',
    },
  );
  const record = parseAnswer(response.body, One, 'servicenow create record').result;
  await ctx.tickets.put(requestId, ctx.target.name, record.sys_id);
  return record.sys_id;
}

/** Whether a journal entry of this record already carries the marker; unknown (false) without read access. */
async function noted(sn: ServiceNowClient, sysId: string, marker: string): Promise<boolean> {
  const query = new URLSearchParams({
    sysparm_query: `element_id=${queryValue(sysId)}^element=${sn.options.notesField}^valueLIKE${marker}`,
    sysparm_limit: '1',
    sysparm_fields: 'sys_id',
  });
  const response = await sn.send('GET', `/api/now/table/sys_journal_field?${query.toString()}`);
  // An integration user without read access to journal entries: deliver at least once rather than fail.
  if (response.status === 403) return false;
  const checked = expectSuccess(response, 'servicenow find work note');
  return parseAnswer(checked.body, Many, 'servicenow find work note').result.length > 0;
}

function stateChange(sn: ServiceNowClient, event: RequestEvent): Record<string, string> {
  const change = sn.options.states[event.type];
  if (change === undefined) return {};
  const context = templateContext(event);
  if (typeof change !== 'string') {
    return Object.fromEntries(Object.entries(change).map(([k, v]) => [k, render(v, context)]));
  }
  if (sn.options.table === 'sc_request') return { request_state: change };
  if (!CLOSING_STATES.includes(change)) return { state: change };
  return {
    state: change,
    close_code: sn.options.closeCode,
    close_notes: `${titleOf(event.type)} (Stint request ${event.request.id}, ${event.id})`,
  };
}

async function changed(sn: ServiceNowClient, ctx: DeliveryContext, event: RequestEvent): Promise<void> {
  // No record yet (a target added after the request was made, or a filter without request.created): open it now,
  // from this event's view of the request, rather than hold the target's queue waiting for an event that never comes.
  const sysId = await created(sn, ctx, event);
  const marker = eventMarker(event.id);
  const update: Record<string, string> = { ...stateChange(sn, event) };
  if (!(await noted(sn, sysId, marker)))
    update[sn.options.notesField] = plainText(titleOf(event.type), describeChange(event));
  if (Object.keys(update).length === 0) return;
  await sn.call('PATCH', sn.tablePath({ sysparm_fields: 'sys_id,number' }, sysId), 'update record', update);
}

export const serviceNowDriver: TargetDriver = {
  kind: 'servicenow',
  optionsSchema: ServiceNowOptions,
  maxBatch: 1,
  async deliver(events: StintEvent[], ctx: DeliveryContext): Promise<void> {
    const sn = new ServiceNowClient(ctx, parseOptions(ServiceNowOptions, ctx.target.options, 'servicenow'));
    for (const event of events) {
      if (!isRequestEvent(event)) continue;
      if (event.type === 'request.created') await created(sn, ctx, event);
      else await changed(sn, ctx, event);
    }
  },
};

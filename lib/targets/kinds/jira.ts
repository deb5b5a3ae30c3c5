/**
 * `jira`: one Jira issue per access request, commented and transitioned as the request moves on.
 *
 * Follows the Jira Cloud platform REST API v3 (developer.atlassian.com/cloud/jira/platform/rest/v3):
 * - Issues › Create issue: `POST /rest/api/3/issue`, `{ fields: { project: { key }, issuetype: { name }, summary,
 *   description, labels, …custom fields } }` → 201 `{ id, key, self }`. In v3 `description` (like every rich-text
 *   field) is an Atlassian Document Format document ("Atlassian Document Format", apis/document/structure:
 *   `{ version: 1, type: 'doc', content: [block nodes] }`, paragraphs and headings holding non-empty `text` nodes).
 * - Issue comments › Add comment: `POST /rest/api/3/issue/{issueIdOrKey}/comment`, `{ body: <ADF> }`; Get comments:
 *   `GET …/comment?orderBy=-created&maxResults=…` → `{ comments: [{ id, body }] }`.
 * - Issues › Get transitions: `GET …/transitions` → `{ transitions: [{ id, name, to: { name } }] }` (only those
 *   available from the current status); Transition issue: `POST …/transitions`, `{ transition: { id } }` → 204.
 * - Issue search › Search for issues using JQL enhanced search: `POST /rest/api/3/search/jql`, `{ jql, fields,
 *   maxResults }` → `{ issues: [{ id, key }], nextPageToken? }`. The older `/rest/api/3/search` was deprecated
 *   (Atlassian changelog, Oct 2024) and removed in 2025. The enhanced search is eventually consistent; it is only
 *   used to find an issue created by an earlier delivery attempt, which a redelivery reaches well after its
 *   visibility timeout.
 * - Auth ("Basic auth for REST APIs"): `Authorization: Basic base64(email:api_token)`; a bearer token (OAuth 2.0
 *   access token with endpoint `https://api.atlassian.com/ex/jira/{cloudId}`, or a Data Center personal access
 *   token) goes in `Authorization: Bearer`. Chosen by the secret's shape.
 *
 * Idempotency under redelivery (the ITSM queue is FIFO, one message group per target, delivered at least once):
 * - created: the key stored on the request (TicketStore) wins; without one, a JQL search for the label
 *   `stint-<request id>` (set at creation) finds an issue created by an attempt that crashed before storing its key;
 *   only then is an issue created.
 * - later events: the comment carries `[stint-event:<event id>]`; if one of the recent comments already has it, the
 *   comment is not posted again. A transition not available any more after such a comment was done already.
 */
import * as z from 'zod';
import type { RequestEvent, StintEvent } from '#events/schemas.ts';
import {
  basic,
  describeChange,
  describeRequest,
  eventMarker,
  FieldValue,
  isRequestEvent,
  joinUrl,
  type Line,
  parseAnswer,
  parseOptions,
  parseSecret,
  RequestEventTypeKey,
  render,
  renderValue,
  Template,
  templateContext,
  titleOf,
} from '../itsm.ts';
import {
  type DeliveryContext,
  expectSuccess,
  type OutboundRequest,
  PermanentDeliveryError,
  type TargetDriver,
} from '../types.ts';

/** Fields the driver sets itself; `options.fields` may not override them. */
const RESERVED_FIELDS = ['project', 'issuetype', 'summary', 'description', 'labels'];

/** Jira labels cannot contain spaces (and are at most 255 characters). */
const Label = z.string().regex(/^\S{1,255}$/, { error: 'must be 1–255 characters without spaces' });

export const JiraOptions = z.strictObject({
  /** The project the issues go to, e.g. `OPS`. */
  projectKey: z.string().regex(/^[A-Z][A-Z0-9_]{0,254}$/, { error: 'must be a Jira project key such as OPS' }),
  /** Issue type name, e.g. `Task` or `Service Request`. */
  issueType: z.string().min(1).max(255).default('Task'),
  summary: Template.default('Access request: {{request.requester.sub}} → {{request.flowId}} ({{request.id}})'),
  /** Extra labels; Stint always adds `stint` and `stint-<request id>`. */
  labels: z.array(Label).max(20).default([]),
  /**
   * Field id → value, a template over the request (`customfield_10010: "{{request.flowId}}"`) or JSON whose strings
   * are templates (`customfield_10020: { value: "{{request.labels.env}}" }` for a select list).
   */
  fields: z
    .record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]*$/, { error: 'must be a Jira field id' }), FieldValue)
    .default({})
    .refine((f) => !RESERVED_FIELDS.some((name) => name in f), {
      error: `may not set ${RESERVED_FIELDS.join(', ')} (set by Stint)`,
    }),
  /** Event type → transition to perform (its name, or the name of the status it leads to), e.g. `grant.expired: Done`. */
  transitions: z.partialRecord(RequestEventTypeKey, z.string().min(1).max(255)).default({}),
});
export type JiraOptions = z.infer<typeof JiraOptions>;

const JiraSecret = z.union([
  z.strictObject({ email: z.string().min(3), apiToken: z.string().min(1) }),
  z.strictObject({ token: z.string().min(1) }),
]);

const Created = z.object({ id: z.string(), key: z.string().min(1) });
const SearchResult = z.object({ issues: z.array(z.object({ id: z.string(), key: z.string().optional() })) });
const Comments = z.object({ comments: z.array(z.object({ id: z.string(), body: z.unknown() })) });
const Transitions = z.object({
  transitions: z.array(z.object({ id: z.string(), name: z.string(), to: z.object({ name: z.string() }).optional() })),
});
const IssueStatus = z.object({ fields: z.object({ status: z.object({ name: z.string() }) }) });

/** How many of the latest comments are checked for a redelivered event's marker. */
const RECENT_COMMENTS = 50;

// ---------------------------------------------------------------------------------------------------------------
// Atlassian Document Format

type AdfText = { type: 'text'; text: string; marks?: { type: 'strong' | 'code' }[] };
type AdfBlock =
  | { type: 'paragraph'; content: AdfText[] }
  | { type: 'heading'; attrs: { level: number }; content: AdfText[] };
export type AdfDoc = { version: 1; type: 'doc'; content: AdfBlock[] };

/** ADF text nodes must not be empty. */
const textNode = (text: string, mark?: 'strong' | 'code'): AdfText[] =>
  text === '' ? [] : [{ type: 'text', text, ...(mark === undefined ? {} : { marks: [{ type: mark }] }) }];

export function adf(title: string, lines: Line[]): AdfDoc {
  return {
    version: 1,
    type: 'doc',
    content: [
      { type: 'heading', attrs: { level: 3 }, content: textNode(title) },
      ...lines.map(
        (l): AdfBlock => ({
          type: 'paragraph',
          content: [
            ...textNode(`${l.label}: `, 'strong'),
            ...textNode(l.value, l.label === 'Event' ? 'code' : undefined),
          ],
        }),
      ),
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------

/** The label that finds the issue of a request (JQL-safe: the id is a ULID; anything else is reduced). */
export const requestLabel = (requestId: string) => `stint-${requestId.replace(/[^A-Za-z0-9_-]/g, '_')}`;

class JiraClient {
  private readonly authorization: string;

  constructor(
    private readonly ctx: DeliveryContext,
    readonly options: JiraOptions,
  ) {
    const secret = parseSecret(ctx.secret, JiraSecret, 'jira', '{"email","apiToken"} or {"token"}');
    this.authorization = 'token' in secret ? `Bearer ${secret.token}` : basic(secret.email, secret.apiToken);
  }

  async call(method: OutboundRequest['method'], path: string, what: string, body?: unknown) {
    const headers: Record<string, string> = { accept: 'application/json', authorization: this.authorization };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.ctx.http.send({
      method,
      url: joinUrl(this.ctx.target.endpoint, path),
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return expectSuccess(response, `jira ${what}`);
  }
}

const issuePath = (key: string) => `/rest/api/3/issue/${encodeURIComponent(key)}`;

async function findIssue(jira: JiraClient, requestId: string): Promise<string | undefined> {
  const jql = `project = "${jira.options.projectKey}" AND labels = "${requestLabel(requestId)}" ORDER BY created ASC`;
  const response = await jira.call('POST', '/rest/api/3/search/jql', 'search', {
    jql,
    fields: ['labels'],
    maxResults: 1,
  });
  const [issue] = parseAnswer(response.body, SearchResult, 'jira search').issues;
  return issue === undefined ? undefined : (issue.key ?? issue.id);
}

/** The request's issue: the stored key, an issue found by its label, or a new one. */
async function created(jira: JiraClient, ctx: DeliveryContext, event: RequestEvent): Promise<string> {
  const requestId = event.request.id;
  const stored = await ctx.tickets.get(requestId, ctx.target.name);
  if (stored !== undefined) return stored;
  const found = await findIssue(jira, requestId);
  if (found !== undefined) {
    await ctx.tickets.put(requestId, ctx.target.name, found);
    return found;
  }
  const context = templateContext(event);
  const mapped = Object.fromEntries(
    Object.entries(jira.options.fields).map(([id, value]) => [id, renderValue(value, context)]),
  );
  const summary = render(jira.options.summary, context).replace(/\s+/g, ' ').trim().slice(0, 255);
  const response = await jira.call('POST', '/rest/api/3/issue', 'create issue', {
    fields: {
      ...mapped,
      project: { key: jira.options.projectKey },
      issuetype: { name: jira.options.issueType },
      summary: summary === '' ? `Access request ${requestId}` : summary,
      description: adf(titleOf(event.type), describeRequest(event)),
      labels: [...new Set([...jira.options.labels, 'stint', requestLabel(requestId)])],
    },
  });
  const issue = parseAnswer(response.body, Created, 'jira create issue');
  await ctx.tickets.put(requestId, ctx.target.name, issue.key);
  return issue.key;
}

async function changed(jira: JiraClient, ctx: DeliveryContext, event: RequestEvent): Promise<void> {
  // No issue yet (a target added after the request was made, or a filter without request.created): open it now,
  // from this event's view of the request, rather than hold the target's queue waiting for an event that never comes.
  const key = await created(jira, ctx, event);
  const marker = eventMarker(event.id);
  const listed = await jira.call(
    'GET',
    `${issuePath(key)}/comment?orderBy=-created&maxResults=${RECENT_COMMENTS}`,
    'get comments',
  );
  const seen = parseAnswer(listed.body, Comments, 'jira get comments').comments.some((c) =>
    JSON.stringify(c.body).includes(marker),
  );
  if (!seen) {
    await jira.call('POST', `${issuePath(key)}/comment`, 'add comment', {
      body: adf(titleOf(event.type), describeChange(event)),
    });
  }
  const wanted = jira.options.transitions[event.type];
  if (wanted !== undefined) await transition(jira, key, wanted, seen);
}

async function transition(jira: JiraClient, key: string, wanted: string, seen: boolean): Promise<void> {
  const same = (name: string | undefined) => name !== undefined && name.toLowerCase() === wanted.toLowerCase();
  const listed = await jira.call('GET', `${issuePath(key)}/transitions`, 'get transitions');
  const { transitions } = parseAnswer(listed.body, Transitions, 'jira get transitions');
  const match = transitions.find((t) => same(t.name)) ?? transitions.find((t) => same(t.to?.name));
  if (match !== undefined) {
    await jira.call('POST', `${issuePath(key)}/transitions`, 'transition issue', { transition: { id: match.id } });
    return;
  }
  // Not available from the current status: an earlier delivery of this event did it, or the issue is already there.
  if (seen) return;
  const issue = await jira.call('GET', `${issuePath(key)}?fields=status`, 'get issue');
  const status = parseAnswer(issue.body, IssueStatus, 'jira get issue').fields.status.name;
  if (same(status)) return;
  throw new PermanentDeliveryError(
    `jira: transition "${wanted}" is not available for ${key} in status "${status}"`,
    undefined,
    `available: ${transitions.map((t) => t.name).join(', ') || 'none'}`,
  );
}

export const jiraDriver: TargetDriver = {
  kind: 'jira',
  optionsSchema: JiraOptions,
  maxBatch: 1,
  async deliver(events: StintEvent[], ctx: DeliveryContext): Promise<void> {
    const jira = new JiraClient(ctx, parseOptions(JiraOptions, ctx.target.options, 'jira'));
    for (const event of events) {
      // Admin events (flow.*, integration.*, bundle.*) have no ticket.
      if (!isRequestEvent(event)) continue;
      if (event.type === 'request.created') await created(jira, ctx, event);
      else await changed(jira, ctx, event);
    }
  },
};

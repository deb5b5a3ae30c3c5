/**
 * The few Jira Cloud REST API v3 reads and writes Jira approvals need, with a `jira` target's own credentials
 * (the same secret shapes as the jira delivery kind: `{"email","apiToken"}` → Basic, `{"token"}` → Bearer), through
 * the outbound guard (lib/targets/outbound.ts: HTTPS, no private address unless the target allows it).
 *
 * - Issues › Get issue: `GET /rest/api/3/issue/{key}?fields=status,labels` → `{ id, key, fields: { status: { name },
 *   labels } }`.
 * - Issues › Get changelogs: `GET /rest/api/3/issue/{key}/changelog?startAt&maxResults` (at most 100 a page) →
 *   `{ startAt, maxResults, total, isLast, values: [{ id, author: { accountId }, created, items: [{ field, fieldId,
 *   from, fromString, to, toString }] }] }`, sorted by date, OLDEST first: the newest entries are on the last page.
 * - Users › Get user: `GET /rest/api/3/user?accountId=` → `{ accountId, emailAddress?, active }` (`emailAddress` only
 *   when the user's profile visibility allows it).
 * - Issue comments › Add comment: `POST /rest/api/3/issue/{key}/comment`, `{ body: <ADF> }`.
 */
import * as z from 'zod';
import { basic, joinUrl } from '#lib/targets/itsm.ts';
import { adf } from '#lib/targets/kinds/jira.ts';
import type { Outbound } from '#lib/targets/types.ts';

const JiraSecret = z.union([
  z.strictObject({ email: z.string().min(3), apiToken: z.string().min(1) }),
  z.strictObject({ token: z.string().min(1) }),
]);

const Issue = z.object({
  id: z.string(),
  key: z.string().min(1),
  fields: z.object({ status: z.object({ name: z.string() }), labels: z.array(z.string()).default([]) }),
});
export type JiraIssue = { id: string; key: string; status: string; labels: string[] };

/**
 * A changed field. Read as a plain record: its `toString` key (the new value's name) shadows
 * Object.prototype.toString, so only own string properties are taken.
 */
const ChangeItem = z.record(z.string(), z.unknown()).transform((item) => {
  const own = (name: string) => {
    const value: unknown = Object.hasOwn(item, name) ? item[name] : undefined;
    return typeof value === 'string' ? value : undefined;
  };
  return { field: own('field'), fieldId: own('fieldId'), toName: own('toString') };
});
const Changelog = z.object({
  id: z.string(),
  author: z.looseObject({ accountId: z.string().min(1).max(128) }).optional(),
  created: z.string(),
  items: z.array(ChangeItem).default([]),
});
const ChangelogPage = z.object({
  startAt: z.number().int().min(0),
  total: z.number().int().min(0),
  values: z.array(Changelog),
});
const User = z.looseObject({
  accountId: z.string(),
  emailAddress: z.email().optional(),
  active: z.boolean().optional(),
});

/** The newest status change of an issue: who made it, and to which status. */
export type StatusChange = { accountId: string | undefined; toStatus: string; created: string; id: string };

export class JiraApiError extends Error {
  override readonly name = 'JiraApiError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

const PAGE = 100;

export class JiraApi {
  private readonly authorization: string;

  constructor(private readonly options: { baseUrl: string; secret: string; http: Outbound }) {
    let json: unknown;
    try {
      json = JSON.parse(options.secret);
    } catch {
      json = undefined;
    }
    const secret = JiraSecret.safeParse(json);
    if (!secret.success) throw new JiraApiError('jira: the secret must be JSON {"email","apiToken"} or {"token"}');
    this.authorization =
      'token' in secret.data ? `Bearer ${secret.data.token}` : basic(secret.data.email, secret.data.apiToken);
  }

  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    schema: z.ZodType<T> | undefined,
    body?: unknown,
  ): Promise<T | undefined> {
    const headers: Record<string, string> = { accept: 'application/json', authorization: this.authorization };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.options.http.send({
      method,
      url: joinUrl(this.options.baseUrl, path),
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (response.status === 404) return undefined;
    if (response.status < 200 || response.status >= 300) {
      throw new JiraApiError(`jira ${method} ${path.split('?')[0]}: HTTP ${response.status}`, response.status);
    }
    if (schema === undefined) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(response.body);
    } catch {
      throw new JiraApiError(`jira ${method} ${path.split('?')[0]}: the answer is not JSON`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new JiraApiError(`jira ${method} ${path.split('?')[0]}: unexpected answer`);
    return parsed.data;
  }

  /** The issue as Jira has it now; undefined when it does not exist or is not visible to the target's user. */
  async issue(keyOrId: string): Promise<JiraIssue | undefined> {
    const issue = await this.call('GET', `${issuePath(keyOrId)}?fields=status,labels`, Issue);
    return issue === undefined
      ? undefined
      : { id: issue.id, key: issue.key, status: issue.fields.status.name, labels: issue.fields.labels };
  }

  /** The newest changelog entry that changed the status (the last page, read newest first). */
  async lastStatusChange(key: string): Promise<StatusChange | undefined> {
    const first = await this.call('GET', `${issuePath(key)}/changelog?startAt=0&maxResults=${PAGE}`, ChangelogPage);
    if (first === undefined) return undefined;
    let values = first.values;
    if (first.total > first.startAt + first.values.length) {
      const last = await this.call(
        'GET',
        `${issuePath(key)}/changelog?startAt=${Math.max(0, first.total - PAGE)}&maxResults=${PAGE}`,
        ChangelogPage,
      );
      values = last?.values ?? values;
    }
    // Oldest first per the API; order by creation time ourselves rather than trust the page order.
    const newestFirst = values
      .map((entry, index) => ({ entry, index, at: Date.parse(entry.created) }))
      .sort((a, b) => (Number.isNaN(a.at) || Number.isNaN(b.at) ? 0 : b.at - a.at) || b.index - a.index)
      .map((e) => e.entry);
    for (const entry of newestFirst) {
      const item = entry.items.find((i) => i.fieldId === 'status' || i.field === 'status');
      if (item === undefined) continue;
      const toStatus = item.toName;
      if (toStatus === undefined) continue;
      return { accountId: entry.author?.accountId, toStatus, created: entry.created, id: entry.id };
    }
    return undefined;
  }

  /** The account's email, when its profile visibility shows it to the target's user. */
  async userEmail(accountId: string): Promise<string | undefined> {
    const user = await this.call('GET', `/rest/api/3/user?accountId=${encodeURIComponent(accountId)}`, User);
    if (user === undefined || user.accountId !== accountId || user.active === false) return undefined;
    return user.emailAddress;
  }

  async comment(key: string, title: string, text: string): Promise<void> {
    await this.call('POST', `${issuePath(key)}/comment`, undefined, {
      body: adf(title, [{ label: 'Stint', value: text }]),
    });
  }
}

const issuePath = (key: string) => `/rest/api/3/issue/${encodeURIComponent(key)}`;

import * as z from 'zod';
import { ADAPTIVE_CARD_TYPE, type AdaptiveCard } from './cards.ts';
import { DEFAULT_GRAPH_URL, DEFAULT_TEAMS_SERVICE_URL } from './defaults.ts';

/**
 * A minimal Bot Connector (v3 REST) and Microsoft Graph client over fetch, for proactive Teams cards. No Bot Framework
 * SDK: the four Connector calls Stint needs, one Graph read, and OAuth2 client-credentials tokens. Every answer is
 * zod-parsed. Base URLs are configurable so tests and the local runtime talk to a stand-in.
 *
 * - Tokens: `POST {loginUrl}` (by default `https://login.microsoftonline.com/{tenantId}/oauth2/v2.0/token`), form body
 *   `grant_type=client_credentials`, the bot's app id and client secret, and the scope
 *   `https://api.botframework.com/.default` (Connector) or `https://graph.microsoft.com/.default` (Graph). A token is
 *   cached per scope until shortly before `expires_in` runs out.
 * - Connector (Microsoft's "Bot Connector API reference"; Teams' "Proactive messages"): `POST {serviceUrl}v3/conversations`
 *   creates a 1:1 conversation with a user (Entra object id in `members[].id`) or a new thread in a channel (the
 *   card goes in `activity`, the answer carries `activityId`); `POST …/v3/conversations/{id}/activities` sends;
 *   `PUT …/v3/conversations/{id}/activities/{activityId}` replaces a sent card.
 * - Graph (application permission User.Read.All; 404 = no such user): `GET {graphUrl}/v1.0/users/{email}?$select=id`
 *   (notify: who to send a card to) and `GET {graphUrl}/v1.0/users/{id}?$select=id,mail,userPrincipalName` (invoke:
 *   who clicked). Graph's user resource: `mail` may be null; `userPrincipalName` is always set.
 *
 * Errors: HTTP 429, 5xx and network failures (timeouts included) throw TeamsTransientError (worth retrying later);
 * any other failure, a 4xx or an answer of the wrong shape, throws TeamsApiError (retrying will not help). A 401 from
 * the Connector or Graph drops the cached token and is tried once more with a fresh one.
 */
export const BOT_FRAMEWORK_SCOPE = 'https://api.botframework.com/.default';
export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
/** A cached token is renewed this long before it expires (or at half its life, when that is shorter). */
export const TOKEN_RENEW_BEFORE_SECONDS = 5 * 60;

export const loginUrlFor = (tenantId: string) =>
  `https://login.microsoftonline.com/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`;

/** What Stint calls, as errors and logs name it. */
export type TeamsOperation =
  | 'token'
  | 'create-conversation'
  | 'create-channel-thread'
  | 'send-activity'
  | 'update-activity'
  | 'graph-user';

/** A failure that will not go away by itself: a 4xx (other than 429) or an answer of the wrong shape. */
export class TeamsApiError extends Error {
  override readonly name: string = 'TeamsApiError';
  readonly retryable: boolean = false;
  constructor(
    readonly operation: TeamsOperation,
    readonly status: number | undefined,
    detail?: string,
  ) {
    super(
      `Teams ${operation}: ${[status === undefined ? '' : `HTTP ${status}`, detail ?? ''].filter(Boolean).join(' ')}`,
    );
  }
}

/** Throttled (429), a server error (5xx) or no answer at all: worth retrying later. */
export class TeamsTransientError extends TeamsApiError {
  override readonly name: string = 'TeamsTransientError';
  override readonly retryable: boolean = true;
}

export type TeamsConnectorOptions = {
  appId: string;
  /** The bot's client secret, resolved when first needed. */
  appPassword: () => Promise<string>;
  tenantId: string;
  serviceUrl?: string;
  loginUrl?: string;
  graphUrl?: string;
  now?: () => Date;
  timeoutMs?: number;
};

export type TeamsActivity = {
  type: 'message';
  summary?: string;
  attachments: { contentType: string; content: AdaptiveCard }[];
};

const TokenAnswer = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.coerce.number().int().positive(),
});
const ConversationAnswer = z.looseObject({ id: z.string().min(1).max(1024) });
const ThreadAnswer = z.looseObject({ id: z.string().min(1).max(1024), activityId: z.string().min(1).max(256) });
const ResourceAnswer = z.looseObject({ id: z.string().min(1).max(1024) });
const GraphUser = z.looseObject({ id: z.uuid() });
const GraphUserEmails = z.looseObject({
  id: z.uuid(),
  mail: z.string().max(320).nullish(),
  userPrincipalName: z.string().max(320).nullish(),
});

/** A Graph user as the invoke handler reads it: its object id and the addresses it may be known by. */
export type GraphUserEmails = { id: string; mail: string | undefined; userPrincipalName: string | undefined };

/** An activity carrying one Adaptive Card; `summary` is what notifications and the chat list show. */
export function cardActivity(card: AdaptiveCard, summary?: string): TeamsActivity {
  return {
    type: 'message',
    ...(summary === undefined ? {} : { summary }),
    attachments: [{ contentType: ADAPTIVE_CARD_TYPE, content: card }],
  };
}

export class TeamsConnector {
  private readonly serviceUrl: string;
  private readonly loginUrl: string;
  private readonly graphUrl: string;
  private readonly tokens = new Map<string, { token: string; renewAt: number }>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(private readonly options: TeamsConnectorOptions) {
    this.serviceUrl = withSlash(options.serviceUrl ?? DEFAULT_TEAMS_SERVICE_URL);
    this.loginUrl = options.loginUrl ?? loginUrlFor(options.tenantId);
    this.graphUrl = withSlash(options.graphUrl ?? DEFAULT_GRAPH_URL);
  }

  /** The bot's 1:1 conversation with a user (Teams answers the same id each time for the same user). */
  async createPersonalConversation(aadObjectId: string): Promise<string> {
    const answer = await this.call(
      'create-conversation',
      BOT_FRAMEWORK_SCOPE,
      'POST',
      this.connector('v3/conversations'),
      {
        isGroup: false,
        bot: { id: `28:${this.options.appId}` },
        members: [{ id: aadObjectId }],
        tenantId: this.options.tenantId,
        channelData: { tenant: { id: this.options.tenantId } },
      },
    );
    return parse('create-conversation', ConversationAnswer, answer).id;
  }

  /** Posts a card as a new thread in a channel (the bot must be in its team). */
  async createChannelThread(
    channelId: string,
    activity: TeamsActivity,
  ): Promise<{ conversationId: string; activityId: string }> {
    const answer = await this.call(
      'create-channel-thread',
      BOT_FRAMEWORK_SCOPE,
      'POST',
      this.connector('v3/conversations'),
      {
        isGroup: true,
        channelData: { channel: { id: channelId }, tenant: { id: this.options.tenantId } },
        activity,
      },
    );
    const thread = parse('create-channel-thread', ThreadAnswer, answer);
    return { conversationId: thread.id, activityId: thread.activityId };
  }

  /** Sends an activity to a conversation; returns its activity id. */
  async send(conversationId: string, activity: TeamsActivity): Promise<string> {
    const answer = await this.call(
      'send-activity',
      BOT_FRAMEWORK_SCOPE,
      'POST',
      this.connector(`v3/conversations/${encodeURIComponent(conversationId)}/activities`),
      activity,
    );
    return parse('send-activity', ResourceAnswer, answer).id;
  }

  /** Replaces a sent activity (the card of an approval copy). */
  async update(conversationId: string, activityId: string, activity: TeamsActivity): Promise<void> {
    await this.call(
      'update-activity',
      BOT_FRAMEWORK_SCOPE,
      'PUT',
      this.connector(
        `v3/conversations/${encodeURIComponent(conversationId)}/activities/${encodeURIComponent(activityId)}`,
      ),
      { ...activity, id: activityId },
    );
  }

  /** The Entra object id of the user whose user principal name (or id) is `email`; undefined when Graph has none. */
  async userIdByEmail(email: string): Promise<string | undefined> {
    const url = new URL(`v1.0/users/${encodeURIComponent(email)}`, this.graphUrl);
    url.searchParams.set('$select', 'id');
    try {
      const answer = await this.call('graph-user', GRAPH_SCOPE, 'GET', url);
      return parse('graph-user', GraphUser, answer).id;
    } catch (error) {
      if (error instanceof TeamsApiError && !error.retryable && error.status === 404) return undefined;
      throw error;
    }
  }

  /** The mail and user principal name of the Entra ID user with this object id; undefined when Graph has none. */
  async userById(aadObjectId: string): Promise<GraphUserEmails | undefined> {
    const url = new URL(`v1.0/users/${encodeURIComponent(aadObjectId)}`, this.graphUrl);
    url.searchParams.set('$select', 'id,mail,userPrincipalName');
    try {
      const answer = await this.call('graph-user', GRAPH_SCOPE, 'GET', url);
      const user = parse('graph-user', GraphUserEmails, answer);
      if (user.id.toLowerCase() !== aadObjectId.toLowerCase()) {
        throw new TeamsApiError('graph-user', undefined, 'answered another user');
      }
      return { id: user.id, mail: user.mail ?? undefined, userPrincipalName: user.userPrincipalName ?? undefined };
    } catch (error) {
      if (error instanceof TeamsApiError && !error.retryable && error.status === 404) return undefined;
      throw error;
    }
  }

  private connector(path: string): URL {
    return new URL(path, this.serviceUrl);
  }

  private async call(
    operation: TeamsOperation,
    scope: string,
    method: 'GET' | 'POST' | 'PUT',
    url: URL,
    body?: unknown,
  ): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.token(scope);
      const response = await this.fetch(operation, url, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (response.status === 401 && attempt === 0) {
        // The token may have been revoked or the secret rotated: once more with a fresh token.
        await response.body?.cancel();
        this.tokens.delete(scope);
        continue;
      }
      await failOn(operation, response);
      const text = await response.text();
      if (text.trim() === '') return {};
      try {
        return JSON.parse(text);
      } catch {
        throw new TeamsApiError(operation, response.status, 'answer is not JSON');
      }
    }
  }

  /** A client-credentials token for `scope`, cached; concurrent callers share one request. */
  private async token(scope: string): Promise<string> {
    const cached = this.tokens.get(scope);
    if (cached !== undefined && cached.renewAt > this.nowMs()) return cached.token;
    let pending = this.pending.get(scope);
    if (pending === undefined) {
      pending = this.fetchToken(scope).finally(() => this.pending.delete(scope));
      this.pending.set(scope, pending);
    }
    return pending;
  }

  private async fetchToken(scope: string): Promise<string> {
    const requestedAt = this.nowMs();
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: this.options.appId,
      client_secret: await this.options.appPassword(),
      scope,
    });
    const response = await this.fetch('token', new URL(this.loginUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form,
    });
    await failOn('token', response);
    const answer = parse('token', TokenAnswer, await response.json().catch(() => undefined));
    const lifetime = answer.expires_in;
    const renewIn = Math.max(0, Math.min(lifetime - TOKEN_RENEW_BEFORE_SECONDS, lifetime / 2));
    this.tokens.set(scope, { token: answer.access_token, renewAt: requestedAt + renewIn * 1000 });
    return answer.access_token;
  }

  private async fetch(operation: TeamsOperation, url: URL, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000) });
    } catch (error) {
      // No answer (connection refused, DNS, timeout): the call may work later.
      throw new TeamsTransientError(operation, undefined, error instanceof Error ? error.name : 'network error');
    }
  }

  private nowMs(): number {
    return (this.options.now?.() ?? new Date()).getTime();
  }
}

/** Throws the right error for a failed answer (the body is dropped unread: it may echo what was sent). */
async function failOn(operation: TeamsOperation, response: Response): Promise<void> {
  if (response.ok) return;
  await response.body?.cancel();
  if (response.status === 429 || response.status >= 500) throw new TeamsTransientError(operation, response.status);
  throw new TeamsApiError(operation, response.status);
}

function parse<T>(operation: TeamsOperation, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new TeamsApiError(operation, undefined, 'unexpected answer');
  return parsed.data;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

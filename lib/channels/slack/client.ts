import * as z from 'zod';

/**
 * A minimal Slack Web API client over fetch: the six methods Stint uses, form-encoded (every Web API method
 * accepts that), with the bot token as a Bearer header. The base URL is configurable so tests and the local
 * runtime talk to a stand-in (STINT_SLACK_API_URL). `ok: false` answers become SlackApiError naming Slack's error
 * code; HTTP 429 is retried after `Retry-After` seconds, at most `maxRetries` times and only when the wait fits
 * `maxRetryAfterSeconds` (an interaction must answer within 3 s). Every failure says whether it is worth retrying
 * later (`retryable`), so the notify function can let its event be redelivered instead of dropping a message.
 */
export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';

/**
 * Failures that may succeed later (docs.slack.dev "Web API" common errors and rate limits): `ratelimited` (HTTP 429),
 * `internal_error` / `fatal_error` ("likely due to a transient issue on our end"), `service_unavailable`,
 * `request_timeout`; and, from the transport, HTTP 408 and 5xx, a network failure or timeout, an answer that is not
 * JSON (a proxy's error page). Anything else Slack answers with `ok: false` is permanent for this message:
 * `users_not_found`, `user_not_found`, `channel_not_found`, `not_in_channel`, `is_archived`, `account_inactive`,
 * `invalid_auth`, `token_revoked`, `missing_scope`, `invalid_blocks`, `msg_too_long`, `cant_update_message`,
 * `message_not_found`… (retrying the same call gives the same answer).
 */
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'ratelimited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'network_error',
  'invalid_json',
]);

export function isRetryableSlackCode(code: string): boolean {
  if (RETRYABLE_CODES.has(code)) return true;
  const status = /^http_(\d{3})$/.exec(code)?.[1];
  return status !== undefined && (status === '408' || status.startsWith('5'));
}

export class SlackApiError extends Error {
  override readonly name = 'SlackApiError';
  /** True when the same call may succeed later (see isRetryableSlackCode). */
  readonly retryable: boolean;
  constructor(
    readonly method: string,
    readonly code: string,
    /** Slack's `Retry-After` for a 429, in seconds. */
    readonly retryAfterSeconds?: number,
  ) {
    super(`Slack ${method}: ${code}`);
    this.retryable = isRetryableSlackCode(code);
  }
}

/**
 * Whether a failure met while talking to Slack is worth a redelivery: a SlackApiError says so itself; anything else
 * (a DynamoDB hiccup while recording, an unexpected bug) is retried too, because dropping a message is worse than
 * trying once more.
 */
export function isRetryableSlackFailure(error: unknown): boolean {
  return error instanceof SlackApiError ? error.retryable : true;
}

export type SlackBlock = Record<string, unknown>;
export type SlackMessage = { text: string; blocks: SlackBlock[] };

export type SlackClientOptions = {
  /** The bot token (xoxb-…), resolved when first needed. */
  token: () => Promise<string>;
  baseUrl?: string;
  maxRetries?: number;
  maxRetryAfterSeconds?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Origins a `response_url` may point at (besides hooks.slack.com): the stand-in's in tests. */
  responseOrigins?: string[];
};

const Answer = z.looseObject({ ok: z.boolean(), error: z.string().optional() });
const SlackUser = z.looseObject({
  id: z.string(),
  team_id: z.string().optional(),
  deleted: z.boolean().optional(),
  is_bot: z.boolean().optional(),
  profile: z.looseObject({ email: z.string().optional() }).optional(),
});
export type SlackUser = { id: string; teamId?: string; email?: string };

export class SlackClient {
  private readonly baseUrl: string;
  private readonly maxRetries: number;
  private readonly maxRetryAfterSeconds: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly responseOrigins: Set<string>;

  constructor(private readonly options: SlackClientOptions) {
    const base = options.baseUrl ?? DEFAULT_SLACK_API_URL;
    this.baseUrl = base.endsWith('/') ? base : `${base}/`;
    this.maxRetries = options.maxRetries ?? 2;
    this.maxRetryAfterSeconds = options.maxRetryAfterSeconds ?? 2;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.responseOrigins = new Set(['https://hooks.slack.com', ...(options.responseOrigins ?? [])]);
  }

  /** Calls one Web API method; returns Slack's answer when `ok`. */
  async call(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const body = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value === undefined) continue;
      body.set(key, typeof value === 'string' ? value : JSON.stringify(value));
    }
    const token = await this.options.token();
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(new URL(method, this.baseUrl), {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
          body,
          signal: AbortSignal.timeout(5_000),
        });
      } catch (error) {
        const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
        throw new SlackApiError(method, timedOut ? 'request_timeout' : 'network_error');
      }
      if (response.status === 429) {
        await response.body?.cancel();
        const wait = Number(response.headers.get('retry-after') ?? '1');
        const seconds = Number.isFinite(wait) && wait >= 0 ? wait : 1;
        if (attempt >= this.maxRetries || seconds > this.maxRetryAfterSeconds) {
          throw new SlackApiError(method, 'ratelimited', seconds);
        }
        await this.sleep(seconds * 1000);
        continue;
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new SlackApiError(method, `http_${response.status}`);
      }
      let json: unknown;
      try {
        json = await response.json();
      } catch {
        throw new SlackApiError(method, 'invalid_json');
      }
      const parsed = Answer.safeParse(json);
      if (!parsed.success) throw new SlackApiError(method, 'invalid_response');
      if (!parsed.data.ok) throw new SlackApiError(method, parsed.data.error ?? 'unknown_error');
      return parsed.data;
    }
  }

  /** The Slack user with this email, or undefined when Slack knows none (`users_not_found`). */
  async lookupByEmail(email: string): Promise<SlackUser | undefined> {
    try {
      return toUser((await this.call('users.lookupByEmail', { email })).user);
    } catch (error) {
      if (error instanceof SlackApiError && error.code === 'users_not_found') return undefined;
      throw error;
    }
  }

  async userInfo(userId: string): Promise<SlackUser | undefined> {
    try {
      return toUser((await this.call('users.info', { user: userId })).user);
    } catch (error) {
      if (error instanceof SlackApiError && error.code === 'user_not_found') return undefined;
      throw error;
    }
  }

  /** The DM channel with one user. */
  async openDm(userId: string): Promise<string> {
    const answer = await this.call('conversations.open', { users: userId });
    const channel = z.object({ id: z.string() }).safeParse(answer.channel);
    if (!channel.success) throw new SlackApiError('conversations.open', 'invalid_response');
    return channel.data.id;
  }

  async postMessage(channel: string, message: SlackMessage): Promise<{ channel: string; ts: string }> {
    const answer = await this.call('chat.postMessage', { channel, text: message.text, blocks: message.blocks });
    const posted = z.object({ channel: z.string(), ts: z.string() }).safeParse(answer);
    if (!posted.success) throw new SlackApiError('chat.postMessage', 'invalid_response');
    return posted.data;
  }

  async update(channel: string, ts: string, message: SlackMessage): Promise<void> {
    await this.call('chat.update', { channel, ts, text: message.text, blocks: message.blocks });
  }

  async openView(triggerId: string, view: Record<string, unknown>): Promise<void> {
    await this.call('views.open', { trigger_id: triggerId, view });
  }

  /**
   * Answers through an interaction's `response_url` (ephemeral by default). The URL comes from a verified payload,
   * and is still only followed to Slack's hooks host (or a configured stand-in): never an arbitrary address.
   */
  async respond(
    responseUrl: string,
    message: { text: string; blocks?: SlackBlock[]; ephemeral?: boolean; replaceOriginal?: boolean },
  ): Promise<void> {
    const url = new URL(responseUrl);
    if (!this.responseOrigins.has(url.origin)) throw new SlackApiError('response_url', 'untrusted_origin');
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        text: message.text,
        ...(message.blocks === undefined ? {} : { blocks: message.blocks }),
        response_type: message.ephemeral === false ? 'in_channel' : 'ephemeral',
        replace_original: message.replaceOriginal ?? false,
      }),
      signal: AbortSignal.timeout(5_000),
    });
    await response.body?.cancel();
    if (!response.ok) throw new SlackApiError('response_url', `http_${response.status}`);
  }
}

function toUser(value: unknown): SlackUser | undefined {
  const user = SlackUser.safeParse(value);
  if (!user.success || user.data.deleted === true || user.data.is_bot === true) return undefined;
  return {
    id: user.data.id,
    ...(user.data.team_id === undefined ? {} : { teamId: user.data.team_id }),
    ...(user.data.profile?.email === undefined ? {} : { email: user.data.profile.email }),
  };
}

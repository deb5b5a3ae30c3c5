import createClient from 'openapi-fetch';
import { ProblemError } from '../../portal/src/api/problem.ts';
import type { paths } from '../../portal/src/api/schema.d.ts';
import type { Ctx } from './context.ts';
import { CliError, EXIT, SignedOutError } from './errors.ts';
import { freshSession, type Session } from './session.ts';

export type { Body, Ok } from '../../portal/src/api/types.ts';

/** What the API records a change as made through: `cli`, or `mcp` for what an agent does through `stint mcp`. */
export type CliChannel = 'cli' | 'mcp';

/**
 * The one API client: openapi-fetch over the types generated from the API description (shared with the portal),
 * with the session's bearer token and `X-Stint-Channel` (recorded with every vote and change).
 */
export async function apiFor(ctx: Ctx, channel: CliChannel = 'cli'): Promise<{ api: Api; session: Session }> {
  const session = await freshSession();
  if (ctx.url !== undefined && ctx.url.replace(/\/+$/, '') !== session.url) {
    throw new SignedOutError(`signed in to ${session.url}, not ${ctx.url}: run \`stint login --url ${ctx.url}\``);
  }
  return { api: clientFor(session.url, session.accessToken, channel), session };
}

export function clientFor(url: string, token: string, channel: CliChannel = 'cli') {
  const client = createClient<paths>({ baseUrl: url });
  client.use({
    onRequest({ request }) {
      request.headers.set('authorization', `Bearer ${token}`);
      request.headers.set('x-stint-channel', channel);
      return request;
    },
  });
  return client;
}
export type Api = ReturnType<typeof clientFor>;

/**
 * The data of an answer, or a CliError of one line: the API's problem detail, prefixed by the field it names
 * (`body.durationMinutes: must be at most 60`). 401 means the token was refused: exit 3, sign in again.
 */
export function unwrap<T>(
  result: { data?: T; error?: unknown; response: Response },
  /** The flag each body field comes from, so the line names what the person typed (`durationMinutes` → `--minutes`). */
  flags: Record<string, string> = {},
): T {
  if (result.error === undefined && result.response.ok) return result.data as T;
  const { status } = result.response;
  const problem = new ProblemError(status, result.error);
  if (status === 401) throw new SignedOutError(`the API refused the token (${problem.message}): run \`stint login\``);
  // Prefixed only by a field of what was sent (body, query, path): other fields (a request's `status`) are context.
  const raw = rawField(result.error);
  const [field, message] = Object.entries(problem.fields)[0] ?? [problem.field, problem.message];
  const sent = raw !== undefined && /^(body|query|path)\./.test(raw) ? field : undefined;
  const flag = sent === undefined ? undefined : (flags[sent] ?? flags[sent.split('.')[0] ?? ''] ?? sent);
  const line = flag === undefined ? problem.message : `${flag}: ${message}`;
  throw new CliError(line, EXIT.failed, {
    status,
    title: problem.title,
    detail: problem.message,
    ...(field === undefined ? {} : { field }),
  });
}

function rawField(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { field, errors } = error as { field?: unknown; errors?: { field?: unknown }[] };
  const first = Array.isArray(errors) ? errors[0]?.field : undefined;
  const value = first ?? field;
  return typeof value === 'string' ? value : undefined;
}

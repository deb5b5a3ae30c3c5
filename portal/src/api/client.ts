import createClient, { type Middleware } from 'openapi-fetch';
import type { Authenticator } from '../auth/session.ts';
import { ProblemError } from './problem.ts';
import type { paths } from './schema.d.ts';

export type { components, operations, paths } from './schema.d.ts';
export type { Body, Ok } from './types.ts';

/** The one API client: types generated from the API description, the bearer token added to every call. */
export function createApiClient(baseUrl: string, auth: Authenticator) {
  const client = createClient<paths>({ baseUrl });
  const bearer: Middleware = {
    async onRequest({ request }) {
      const token = await auth.token();
      if (token !== undefined) request.headers.set('authorization', `Bearer ${token}`);
      // Recorded with every write (timeline, votes, audit events) as the channel it came through.
      request.headers.set('x-stint-channel', 'portal');
      return request;
    },
  };
  client.use(bearer);
  return client;
}

export type ApiClient = ReturnType<typeof createApiClient>;

/**
 * The data of an openapi-fetch answer, or a ProblemError with the API's problem+json (status, detail and field
 * messages) for a form or an alert to show.
 */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) throw new ProblemError(result.response.status, result.error);
  return result.data as T;
}

/** The `ETag` of an answer (the item's version for conditional writes), if any. */
export function etagOf(response: Response): string | undefined {
  return response.headers.get('etag') ?? undefined;
}

import { userKey } from '#lib/directory/keys.ts';
import type { CreateRequestInput } from '#lib/domain/create-request.ts';
import { configKey, type Key, requestKey } from '#lib/store/keys.ts';

/**
 * What API routes read first, named for `httpHandler`'s `readAhead` (lib/http/chain.ts): read in one BatchGetItem
 * with the caller's directory entry (lib/store/read-ahead.ts).
 */

/** A route of one request (`/requests/{id}`, `/requests/{id}/<action>`): the request, before anything else. */
export const theRequest = ({ params }: { params: { id: string } }): Key[] => [requestKey(params.id)];

/** POST /requests: the flow, the bundle asked for and the directory entry of an on-behalf grantee. */
export const whatARequestIsMadeUnder = ({ body }: { body: CreateRequestInput }): Key[] => [
  configKey('flow', body.flowId),
  ...(body.bundle === undefined ? [] : [configKey('bundle', body.bundle)]),
  ...(body.grantee === undefined ? [] : [userKey(body.grantee.sub)]),
];

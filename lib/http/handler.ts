import { type ChainOptions, type HttpInput, type HttpOutput, httpChain, type Schemas } from './chain.ts';
import { identityFromEvent } from './identity.ts';

export { type HttpInput, type HttpOutput, MAX_BODY_BYTES, UnsupportedMediaTypeError } from './chain.ts';

/**
 * The API functions' chain (lib/http/chain.ts) with the caller resolved from the verified token and the directory;
 * `options.readAhead` names the items the handler reads first, read with the caller's directory entry in one call.
 */
export function httpHandler<S extends Schemas>(
  schemas: S,
  fn: (input: HttpInput<S>) => Promise<HttpOutput>,
  options: ChainOptions<S> = {},
) {
  return httpChain(schemas, fn, schemas.auth === false ? undefined : identityFromEvent, options);
}

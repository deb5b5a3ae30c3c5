import { type HttpInput, type HttpOutput, httpChain, type Schemas } from './chain.ts';

/**
 * The chain (lib/http/chain.ts) for a public route (`auth: false` in functions/api/routes.ts, e.g. /health): no
 * caller, so the function carries no token verification, directory or DynamoDB client.
 */
export function publicHttpHandler<S extends Omit<Schemas, 'auth'>>(
  schemas: S,
  fn: (input: HttpInput<S & { auth: false }>) => Promise<HttpOutput>,
) {
  return httpChain({ ...schemas, auth: false as const }, fn, undefined);
}

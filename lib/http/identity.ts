import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import { config } from '#lib/config.ts';
import { defaultDirectory } from '#lib/directory/default.ts';
import { UnauthenticatedError } from '#lib/domain/errors.ts';
import type { Identity } from '#lib/domain/identity.ts';
import { assertWellFormed } from '#lib/domain/well-formed.ts';
import { type IdentityDirectory, resolveIdentity } from '#lib/identity/resolver.ts';
import { claimedIdentityOf, createTokenVerifier, type TokenVerifier } from '#lib/identity/token.ts';
import { createUserInfoLookup, type UserInfoLookup } from '#lib/identity/userinfo.ts';
import { lazy } from '#lib/lazy.ts';

export type CallerDeps = { verify: TokenVerifier; directory: IdentityDirectory; userInfo?: UserInfoLookup };

/**
 * The caller of an API route. API Gateway's JWT authorizer has already checked the token, but it hands array claims
 * to the function flattened (`groups: ["a b", "c"]` arrives as the string "[a b c]"), which cannot be split back.
 * So the function verifies the bearer token itself (same issuer, audiences and keys) and reads the claims from it;
 * the flattened claims serve only as a consistency check. The directory then adds its groups and manager
 * (lib/identity/resolver.ts, the rule chat callers share). An access token often carries no `email`: then the
 * directory's is used, else the issuer's UserInfo endpoint is asked with the caller's own token (lib/identity/userinfo.ts).
 */
export async function callerIdentity(
  event: APIGatewayProxyEventV2WithJWTAuthorizer,
  deps: CallerDeps,
): Promise<Identity> {
  const token = bearerToken(event.headers?.authorization ?? event.headers?.Authorization);
  if (token === undefined) throw new UnauthenticatedError('A bearer token is required', 'authorization');
  const payload = await deps.verify(token);
  const claimed = claimedIdentityOf(payload);
  // A claim that is not well-formed Unicode (a lone surrogate in `sub`…) is refused before it reaches a key: 400 token.*.
  assertWellFormed(claimed, 'token');
  const flattenedSub = event.requestContext?.authorizer?.jwt?.claims?.sub;
  if (flattenedSub !== undefined && String(flattenedSub) !== claimed.sub) {
    throw new UnauthenticatedError('The bearer token is not the one the authorizer verified', 'authorization');
  }
  const { userInfo } = deps;
  return resolveIdentity(
    deps.directory,
    claimed,
    userInfo === undefined
      ? {}
      : {
          emailFallback: async () => {
            const email = await userInfo(token, {
              sub: claimed.sub,
              ...(payload.exp === undefined ? {} : { exp: payload.exp }),
            });
            if (email !== undefined) assertWellFormed({ email }, 'userinfo');
            return email;
          },
        },
  );
}

/** `Bearer <jwt>` (the scheme is case-insensitive); API Gateway's authorizer also accepts the bare token. */
function bearerToken(header: string | undefined): string | undefined {
  const value = header?.trim().replace(/^Bearer\s+/i, '');
  return value === undefined || value === '' ? undefined : value;
}

const verifier = /* @__PURE__ */ lazy(() => createTokenVerifier(config().jwt));
const userInfo = /* @__PURE__ */ lazy(() => createUserInfoLookup(config().jwt));

/**
 * The function's own verifier, UserInfo lookup (and its cache) and directory, built on first use from the
 * configuration and kept for its lifetime.
 */
export function defaultCallerDeps(): CallerDeps {
  return { verify: verifier(), directory: defaultDirectory(), userInfo: userInfo() };
}

/** The caller of an API route, with the function's verifier and directory. */
export function identityFromEvent(event: APIGatewayProxyEventV2WithJWTAuthorizer): Promise<Identity> {
  return callerIdentity(event, defaultCallerDeps());
}

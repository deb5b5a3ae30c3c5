import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, errors as joseErrors, jwtVerify } from 'jose';
import * as z from 'zod';
import { UnauthenticatedError } from '#lib/domain/errors.ts';
import type { ClaimedIdentity } from './resolver.ts';

/**
 * Which tokens the API accepts: the same issuer and audiences API Gateway's JWT authorizer is configured with.
 * `jwksUrl` names the issuer's key set; without it, `jwks_uri` is read from `<issuer>/.well-known/openid-configuration`.
 */
export type TokenSettings = { issuer: string; audiences: readonly string[]; jwksUrl?: string };

/** Verifies a compact JWT and returns its payload; refuses (UnauthenticatedError) what the authorizer would refuse. */
export type TokenVerifier = (token: string) => Promise<JWTPayload>;

const DISCOVERY_TIMEOUT_MS = 5_000;
const Discovery = z.looseObject({ issuer: z.string(), jwks_uri: z.url(), userinfo_endpoint: z.url().optional() });
/** What Stint reads of an issuer's OpenID configuration. */
export type Discovery = z.infer<typeof Discovery>;

/**
 * OIDC Discovery 1.0 §4: the issuer's configuration is at `<issuer without trailing slash>/.well-known/openid-configuration`.
 * Its `issuer` must be the configured one (§4.3).
 */
export async function discoverIssuer(issuer: string): Promise<Discovery> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const res = await fetch(url, { signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`OpenID configuration of the token issuer answered ${res.status}`);
  const parsed = Discovery.safeParse(await res.json());
  if (!parsed.success) throw new Error('OpenID configuration of the token issuer has no valid jwks_uri');
  if (parsed.data.issuer !== issuer)
    throw new Error('OpenID configuration names another issuer than the configured one');
  return parsed.data;
}

/**
 * A verifier for one issuer. The key set is created once, on first use, and kept (jose caches the fetched keys
 * and refetches on an unknown `kid`); a failed discovery is retried on the next call.
 * Checks as API Gateway's JWT authorizer does: signature against the issuer's keys, `iss` exactly, `exp`/`nbf`,
 * and `aud` or `client_id` (Cognito access tokens carry `client_id`) naming one of the audiences.
 */
export function createTokenVerifier(settings: TokenSettings): TokenVerifier {
  let keys: Promise<JWTVerifyGetKey> | undefined;
  const keySet = (): Promise<JWTVerifyGetKey> => {
    keys ??= (async () => {
      const url = settings.jwksUrl ?? (await discoverIssuer(settings.issuer)).jwks_uri;
      return createRemoteJWKSet(new URL(url));
    })().catch((error: unknown) => {
      keys = undefined;
      throw error;
    });
    return keys;
  };
  return async (token) => {
    const getKey = await keySet();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, { issuer: settings.issuer }));
    } catch (error) {
      // The issuer's key set could not be read: our failure (500), not the caller's.
      if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) throw error;
      if (error instanceof joseErrors.JOSEError) throw new UnauthenticatedError('The bearer token is not valid');
      throw error;
    }
    const audiences = [payload.aud, payload.client_id].flat().filter((a): a is string => typeof a === 'string');
    if (!audiences.some((a) => settings.audiences.includes(a))) {
      throw new UnauthenticatedError('The bearer token is not valid');
    }
    return payload;
  };
}

/** A claim that must be an array of strings when present; anything else is refused, never guessed at. */
const GroupsClaim = z.array(z.string(), { error: 'must be an array of strings' }).optional();
const OptionalString = z.string({ error: 'must be a string' }).optional();
const IdentityClaims = z.looseObject({
  sub: z.string({ error: 'must be a string' }).min(1),
  email: OptionalString,
  manager: OptionalString,
  groups: GroupsClaim,
  'cognito:groups': GroupsClaim,
});

/**
 * What a verified token says about its bearer. Groups are the union of the `groups` claim (most OIDC providers) and
 * `cognito:groups` (Cognito), each exactly as the token holds it: a name may contain spaces, commas, brackets, quotes
 * or any letter.
 */
export function claimedIdentityOf(payload: JWTPayload): ClaimedIdentity {
  const parsed = IdentityClaims.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const claim = String(issue?.path[0] ?? 'sub');
    throw new UnauthenticatedError(`The token's \`${claim}\` claim ${issue?.message ?? 'is not valid'}`, claim);
  }
  const c = parsed.data;
  return {
    sub: c.sub,
    groups: [...new Set([...(c.groups ?? []), ...(c['cognito:groups'] ?? [])])],
    ...(c.email === undefined ? {} : { email: c.email }),
    ...(c.manager === undefined ? {} : { manager: c.manager }),
  };
}

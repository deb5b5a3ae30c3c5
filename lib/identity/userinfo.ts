import { createHash } from 'node:crypto';
import * as z from 'zod';
import { DomainError, UnauthenticatedError } from '#lib/domain/errors.ts';
import { logger } from '#lib/observability/logger.ts';
import { type Discovery, discoverIssuer } from './token.ts';

/**
 * The caller's email from the issuer's OIDC UserInfo endpoint (OpenID Connect Core 1.0 §5.3), for access tokens that
 * carry no `email` claim (Cognito's and many IdPs'). Asked with the caller's own bearer token; only `sub` and `email`
 * are read (groups never come from UserInfo: they come from the verified token and the directory).
 */
export type UserInfoSettings = {
  issuer: string;
  /** The endpoint; without it, `userinfo_endpoint` of the issuer's OpenID configuration. */
  userinfoUrl?: string;
};

/** The verified token and what it says: the answer must be about the same `sub`; it is cached until `exp`. */
export type UserInfoLookup = (token: string, claims: { sub: string; exp?: number }) => Promise<string | undefined>;

/** The issuer's UserInfo endpoint could not answer: our failure (503), not the caller's. */
export class IdentityProviderUnavailableError extends DomainError {
  readonly status = 503;
  readonly type = 'identity-provider-unavailable';
}

const USERINFO_TIMEOUT_MS = 5_000;
/** Answers kept at most (one per token); the oldest goes first. */
export const USERINFO_CACHE_ENTRIES = 1_000;
/** A token without `exp` (the verifier requires none) is asked again after this long. */
const NO_EXP_TTL_MS = 5 * 60_000;

const UserInfoAnswer = z.looseObject({ sub: z.string().min(1), email: z.unknown().optional() });

type Cached = { email: string | undefined; until: number };

/**
 * A lookup with its own cache, at module scope in the function that creates it: keyed by the SHA-256 of the token
 * (the token itself is never a key nor logged), kept until the token's `exp`, at most `maxEntries` answers.
 * Refused (401): an answer about another `sub` (§5.3.2), or the endpoint refusing the token (401/403). Anything else
 * that goes wrong (no answer, 5xx, not JSON) is a 503.
 */
export function createUserInfoLookup(
  settings: UserInfoSettings,
  options: { maxEntries?: number; now?: () => number } = {},
): UserInfoLookup {
  const maxEntries = options.maxEntries ?? USERINFO_CACHE_ENTRIES;
  const now = options.now ?? Date.now;
  const cache = new Map<string, Cached>();
  let discovery: Promise<Discovery> | undefined;

  const endpoint = async (): Promise<string | undefined> => {
    if (settings.userinfoUrl !== undefined) return settings.userinfoUrl;
    discovery ??= discoverIssuer(settings.issuer).catch((error: unknown) => {
      discovery = undefined;
      throw error;
    });
    return (await discovery).userinfo_endpoint;
  };

  const remember = (key: string, entry: Cached) => {
    for (const [k, v] of cache) if (v.until <= now()) cache.delete(k);
    while (cache.size >= maxEntries) {
      const oldest = cache.keys().next();
      if (oldest.done === true) break;
      cache.delete(oldest.value);
    }
    cache.set(key, entry);
  };

  return async (token, claims) => {
    const key = createHash('sha256').update(token).digest('base64url');
    const hit = cache.get(key);
    if (hit !== undefined && hit.until > now()) return hit.email;
    if (hit !== undefined) cache.delete(key);

    let url: string | undefined;
    try {
      url = await endpoint();
    } catch (error) {
      logger.warn('userinfo endpoint unknown: discovery failed', { error: String(error) });
      throw new IdentityProviderUnavailableError("The identity provider's configuration could not be read; try again");
    }
    if (url === undefined) return undefined;

    let res: Response;
    try {
      res = await fetch(url, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        signal: AbortSignal.timeout(USERINFO_TIMEOUT_MS),
      });
    } catch (error) {
      logger.warn('userinfo request failed', { error: String(error) });
      throw new IdentityProviderUnavailableError("The identity provider's UserInfo endpoint did not answer; try again");
    }
    if (res.status === 401 || res.status === 403) {
      throw new UnauthenticatedError(
        "The identity provider's UserInfo endpoint refused the bearer token (does it carry the openid scope?)",
        'authorization',
      );
    }
    let body: unknown;
    try {
      body = res.ok ? await res.json() : undefined;
    } catch {
      body = undefined;
    }
    const answer = UserInfoAnswer.safeParse(body);
    if (!answer.success) {
      logger.warn('userinfo answer unusable', { status: res.status });
      throw new IdentityProviderUnavailableError(
        `The identity provider's UserInfo endpoint answered ${res.status} without a usable body; try again`,
      );
    }
    // OIDC Core §5.3.2: the sub in the UserInfo Response MUST match the token's, else the answer MUST NOT be used.
    if (answer.data.sub !== claims.sub) {
      logger.warn('userinfo answered about another subject');
      throw new UnauthenticatedError(
        "The identity provider's UserInfo answer is about another subject",
        'authorization',
      );
    }
    const email = typeof answer.data.email === 'string' ? answer.data.email : undefined;
    remember(key, { email, until: claims.exp === undefined ? now() + NO_EXP_TTL_MS : claims.exp * 1000 });
    return email;
  };
}

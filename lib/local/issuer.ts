import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';
import * as z from 'zod';

/**
 * The local issuer (local mode only): an RSA key pair (RS256, as API Gateway's HTTP API JWT authorizer accepts
 * only RSA-based algorithms) generated once and kept under the state dir, whose JWKS the runtime serves at
 * /_local/.well-known/jwks.json and whose tokens the local API gateway verifies exactly as API Gateway's JWT
 * authorizer verifies the real issuer's.
 */
export const TokenRequest = z.strictObject({
  sub: z.string().min(1).max(256),
  /** The person's email: a claim of an `id` token; only the UserInfo endpoint's for an `access` token. */
  email: z.email().optional(),
  groups: z.array(z.string().min(1).max(256)).max(100).default([]),
  manager: z.string().min(1).max(256).optional(),
  /**
   * `id` (default): the email is a claim of the token. `access`: as a Cognito access token, the token has no `email`
   * and `token_use: "access"`; the API learns the email from the issuer's UserInfo endpoint (/_local/userinfo).
   */
  use: z.enum(['id', 'access']).default('id'),
});
export type TokenRequest = z.infer<typeof TokenRequest>;

const ALG = 'RS256';
/** Emails of access tokens the UserInfo endpoint answers for (by token id), newest kept. */
const USERINFO_ENTRIES = 10_000;
const KEY_FILE = 'issuer-key.json';
const PrivateJwk = z.object({
  kty: z.literal('RSA'),
  n: z.string(),
  e: z.string(),
  d: z.string(),
  p: z.string(),
  q: z.string(),
  dp: z.string(),
  dq: z.string(),
  qi: z.string(),
  kid: z.string(),
});
type PrivateJwk = z.infer<typeof PrivateJwk>;

/** The key kept in the state dir; a file that is not an RSA key (earlier versions kept an ES256 key) is replaced. */
async function loadOrCreateKey(file: string | undefined): Promise<PrivateJwk> {
  if (file !== undefined && existsSync(file)) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      json = undefined;
    }
    const stored = PrivateJwk.safeParse(json);
    if (stored.success) return stored.data;
  }
  const { privateKey } = await generateKeyPair(ALG, { extractable: true, modulusLength: 2048 });
  const exported = await exportJWK(privateKey);
  const jwk = PrivateJwk.parse({
    ...exported,
    kid: await calculateJwkThumbprint({ kty: exported.kty, n: exported.n, e: exported.e }),
  });
  if (file !== undefined) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(jwk), { mode: 0o600 });
  }
  return jwk;
}

export type LocalIssuer = {
  readonly issuer: string;
  readonly audience: string;
  readonly jwks: JSONWebKeySet;
  /** Signs a token for this identity (1 h expiry); `overrides` lets tests mint wrong ones. */
  mint(
    identity: z.input<typeof TokenRequest>,
    overrides?: { audience?: string; issuer?: string; expiresIn?: string | number },
  ): Promise<string>;
  /**
   * The OIDC UserInfo answer (OpenID Connect Core §5.3.2) for a bearer token this issuer signed and that is still
   * valid: `sub`, and `email` (the token's claim, or the one given when an access token was minted, held in memory
   * only). Undefined for a token it does not accept.
   */
  userInfo(token: string): Promise<{ sub: string; email?: string; email_verified?: boolean } | undefined>;
};

export async function createLocalIssuer(options: {
  stateDir?: string;
  issuer: string;
  audience: string;
}): Promise<LocalIssuer> {
  const jwk = await loadOrCreateKey(options.stateDir === undefined ? undefined : join(options.stateDir, KEY_FILE));
  const key = await importJWK(jwk, ALG);
  const publicJwk: JWK = { kty: jwk.kty, n: jwk.n, e: jwk.e, kid: jwk.kid, alg: ALG, use: 'sig' };
  const jwks: JSONWebKeySet = { keys: [publicJwk] };
  const keySet = createLocalJWKSet(jwks);
  const accessEmails = new Map<string, string>();
  return {
    issuer: options.issuer,
    audience: options.audience,
    jwks,
    async mint(request, overrides = {}) {
      const identity = TokenRequest.parse(request);
      const jti = randomUUID();
      const claims: Record<string, unknown> = { groups: identity.groups, jti };
      if (identity.use === 'access') {
        claims.token_use = 'access';
        if (identity.email !== undefined) {
          if (accessEmails.size >= USERINFO_ENTRIES) accessEmails.delete(accessEmails.keys().next().value ?? '');
          accessEmails.set(jti, identity.email);
        }
      } else if (identity.email !== undefined) claims.email = identity.email;
      if (identity.manager !== undefined) claims.manager = identity.manager;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: ALG, kid: jwk.kid, typ: 'JWT' })
        .setSubject(identity.sub)
        .setIssuer(overrides.issuer ?? options.issuer)
        .setAudience(overrides.audience ?? options.audience)
        .setIssuedAt()
        .setExpirationTime(overrides.expiresIn ?? '1h')
        .sign(key);
    },
    async userInfo(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keySet, { issuer: options.issuer }));
      } catch {
        return undefined;
      }
      if (payload.sub === undefined) return undefined;
      const email =
        typeof payload.email === 'string' ? payload.email : (accessEmails.get(String(payload.jti ?? '')) ?? undefined);
      return { sub: payload.sub, ...(email === undefined ? {} : { email, email_verified: true }) };
    },
  };
}

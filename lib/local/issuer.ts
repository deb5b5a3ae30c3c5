import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  SignJWT,
} from 'jose';
import { z } from 'zod';

/**
 * The local issuer (local mode only): an RSA key pair (RS256, as API Gateway's HTTP API JWT authorizer accepts
 * only RSA-based algorithms) generated once and kept under the state dir, whose JWKS the runtime serves at
 * /_local/.well-known/jwks.json and whose tokens the local API gateway verifies exactly as API Gateway's JWT
 * authorizer verifies the real issuer's.
 */
export const TokenRequest = z.strictObject({
  sub: z.string().min(1).max(256),
  email: z.email(),
  groups: z.array(z.string().min(1).max(256)).max(100).default([]),
  manager: z.string().min(1).max(256).optional(),
});
export type TokenRequest = z.infer<typeof TokenRequest>;

const ALG = 'RS256';
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
    identity: TokenRequest,
    overrides?: { audience?: string; issuer?: string; expiresIn?: string | number },
  ): Promise<string>;
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
  return {
    issuer: options.issuer,
    audience: options.audience,
    jwks,
    async mint(identity, overrides = {}) {
      const claims: Record<string, unknown> = { email: identity.email, groups: identity.groups };
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
  };
}

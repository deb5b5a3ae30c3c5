import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
 * The local issuer (local mode only): an ES256 key pair generated once and kept under the state dir, whose
 * JWKS the runtime serves at /_local/.well-known/jwks.json and whose tokens the local API gateway verifies
 * exactly as API Gateway's JWT authorizer verifies the real issuer's.
 */
export const TokenRequest = z.strictObject({
  sub: z.string().min(1).max(256),
  email: z.email(),
  groups: z.array(z.string().min(1).max(256)).max(100).default([]),
  manager: z.string().min(1).max(256).optional(),
});
export type TokenRequest = z.infer<typeof TokenRequest>;

const ALG = 'ES256';
const KEY_FILE = 'issuer-key.json';
const PrivateJwk = z.looseObject({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: z.string(),
  y: z.string(),
  d: z.string(),
  kid: z.string(),
});

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
  const file = options.stateDir === undefined ? undefined : join(options.stateDir, KEY_FILE);
  let jwk: z.infer<typeof PrivateJwk>;
  if (file !== undefined && existsSync(file)) {
    jwk = PrivateJwk.parse(JSON.parse(readFileSync(file, 'utf8')));
  } else {
    const { privateKey } = await generateKeyPair(ALG, { extractable: true });
    const exported = await exportJWK(privateKey);
    const { d: _d, ...publicPart } = exported;
    jwk = PrivateJwk.parse({ ...exported, kid: await calculateJwkThumbprint(publicPart) });
    if (file !== undefined && options.stateDir !== undefined) {
      mkdirSync(options.stateDir, { recursive: true });
      writeFileSync(file, JSON.stringify(jwk), { mode: 0o600 });
    }
  }
  const { d: _d, ...publicJwk } = jwk;
  const key = await importJWK(jwk, ALG);
  const jwks: JSONWebKeySet = { keys: [{ ...publicJwk, alg: ALG, use: 'sig' } satisfies JWK] };
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

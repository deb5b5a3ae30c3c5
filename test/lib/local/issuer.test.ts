import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createLocalIssuer, TokenRequest } from '#lib/local/issuer.ts';

describe('createLocalIssuer', () => {
  it('signs RS256 tokens (what API Gateway accepts) with the identity, issuer, audience and a one-hour expiry, verifiable with its JWKS', async () => {
    const issuer = await createLocalIssuer({ issuer: 'http://x/_local', audience: 'aud' });
    const token = await issuer.mint({ sub: 'bob', email: 'bob@example.com', groups: ['dba'] });
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(issuer.jwks), {
      issuer: 'http://x/_local',
      audience: 'aud',
    });
    expect([protectedHeader.alg, protectedHeader.kid]).toEqual(['RS256', issuer.jwks.keys[0]?.kid]);
    expect(payload).toMatchObject({ sub: 'bob', email: 'bob@example.com', groups: ['dba'] });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(3600);
    expect(Object.keys(issuer.jwks.keys[0] ?? {}).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
  });

  it('keeps its key in the state dir across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-issuer-'));
    try {
      const first = await createLocalIssuer({ stateDir: dir, issuer: 'i', audience: 'a' });
      const token = await first.mint({ sub: 's', email: 's@example.com', groups: [] });
      const second = await createLocalIssuer({ stateDir: dir, issuer: 'i', audience: 'a' });
      expect(second.jwks).toEqual(first.jwks);
      await expect(jwtVerify(token, createLocalJWKSet(second.jwks))).resolves.toBeDefined();
      expect(decodeProtectedHeader(token).kid).toBe(second.jwks.keys[0]?.kid);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('replaces a key file it cannot use (an ES256 key from an earlier version) with a new RSA key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-issuer-'));
    try {
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      writeFileSync(join(dir, 'issuer-key.json'), JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'old' }));
      const issuer = await createLocalIssuer({ stateDir: dir, issuer: 'i', audience: 'a' });
      const token = await issuer.mint({ sub: 's', email: 's@example.com', groups: [] });
      expect(decodeProtectedHeader(token).alg).toBe('RS256');
      expect(issuer.jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256' });
      expect(JSON.parse(readFileSync(join(dir, 'issuer-key.json'), 'utf8'))).toMatchObject({ kty: 'RSA' });
      const again = await createLocalIssuer({ stateDir: dir, issuer: 'i', audience: 'a' });
      expect(again.jwks).toEqual(issuer.jwks);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [{ sub: 'a', email: 'not-an-email', groups: [] }],
    [{ sub: '', email: 'a@example.com' }],
    [{ sub: 'a', email: 'a@example.com', admin: true }],
    [{ sub: 'a', email: 'a@example.com', groups: 'dba' }],
  ])('refuses the token request %j', (body) => {
    expect(TokenRequest.safeParse(body).success).toBe(false);
  });

  it('defaults groups to none', () => {
    expect(TokenRequest.parse({ sub: 'a', email: 'a@example.com' }).groups).toEqual([]);
  });
});

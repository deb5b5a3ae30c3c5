import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createLocalIssuer, TokenRequest } from '#lib/local/issuer.ts';

describe('createLocalIssuer', () => {
  it('signs ES256 tokens with the identity, issuer, audience and a one-hour expiry, verifiable with its JWKS', async () => {
    const issuer = await createLocalIssuer({ issuer: 'http://x/_local', audience: 'aud' });
    const token = await issuer.mint({ sub: 'bob', email: 'bob@example.com', groups: ['dba'] });
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(issuer.jwks), {
      issuer: 'http://x/_local',
      audience: 'aud',
    });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toMatchObject({ sub: 'bob', email: 'bob@example.com', groups: ['dba'] });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(3600);
    expect(issuer.jwks.keys[0]).not.toHaveProperty('d');
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

import type { Server } from 'node:http';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { collectPageErrors, launchBrowser, newPerson, PORTAL_DIST, storageKeys } from '../../support/browser.ts';

/**
 * The portal's OIDC sign-in (authorization code + PKCE, oidc-client-ts) against a real OpenID Provider
 * (`oidc-provider`, with its development login pages) instead of the local issuer: the local runtime's gateway and
 * the API functions verify that provider's access tokens, as API Gateway's JWT authorizer would in AWS.
 */
const CLIENT_ID = 'stint-portal';
const AUDIENCE = 'urn:stint:api';
const ACCESS_TOKEN_SECONDS = 125;
const GROUPS: Record<string, string[]> = { olivia: ['stint-admins', 'Platform Team, EU'] };

let stint: Stint;
let browser: Browser;
let op: Server;
let issuer: string;

beforeAll(async () => {
  const [opPort, apiPort] = [await freePort(), await freePort()];
  issuer = `http://127.0.0.1:${opPort}`;
  const portal = `http://127.0.0.1:${apiPort}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        application_type: 'web',
        token_endpoint_auth_method: 'none',
        redirect_uris: [`${portal}/`],
        post_logout_redirect_uris: [`${portal}/`],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'op-key', alg: 'RS256', use: 'sig' }] },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      // Access tokens as JWTs for the API (an audience of their own), as Okta, Entra ID and Cognito issue them.
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'openid email',
          audience: AUDIENCE,
          accessTokenFormat: 'jwt',
          // Short-lived, so the portal must renew it (it does within 120 s of expiry) while the test runs.
          accessTokenTTL: ACCESS_TOKEN_SECONDS,
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    issueRefreshToken: async () => true,
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub, email: `${sub}@example.com` }) }),
    claims: { openid: ['sub'], email: ['email'] },
    extraTokenClaims: async (_ctx, token) =>
      'accountId' in token && typeof token.accountId === 'string'
        ? { email: `${token.accountId}@example.com`, groups: GROUPS[token.accountId] ?? [] }
        : undefined,
  });
  op = provider.listen(opPort);
  stint = await startStint({
    pgDataDir: join(await clusterParentDir('stint-e2e-portal-oidc'), 'pg'),
    pgPort: await freePort(),
    port: apiPort,
    portalDir: PORTAL_DIST,
    signIn: {
      issuer,
      audience: AUDIENCE,
      externalKeys: { jwksUrl: `${issuer}/jwks` },
      portalConfig: {
        mode: 'oidc',
        apiUrl: '',
        issuer,
        clientId: CLIENT_ID,
        scopes: 'openid email',
        redirectPath: '/',
      },
    },
  });
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stint?.stop();
  await new Promise((resolve) => op?.close(resolve));
});

describe('signing in to the portal with an OpenID Provider', () => {
  it('uses the code flow with PKCE, keeps tokens out of the URL, calls the API with the access token and renews it silently', async () => {
    const context = await newPerson(browser);
    const page = await context.newPage();
    const errors = collectPageErrors(page, stint.url);
    const authorize: URL[] = [];
    const bearer: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.origin === issuer && url.pathname === '/auth') authorize.push(url);
      const header = request.headers().authorization;
      if (url.origin === stint.url && header !== undefined) bearer.push(header);
    });

    await page.goto(`${stint.url}/`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The provider's own pages: any login and password, then consent.
    await page.locator('input[name=login]').fill('olivia');
    await page.locator('input[name=password]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();

    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    // Admin from the token's groups (a name with a space and a comma stays one group).
    await nav.getByRole('link', { name: 'Flows' }).waitFor();

    const request = authorize[0];
    expect(request?.searchParams.get('response_type')).toBe('code');
    expect(request?.searchParams.get('code_challenge_method')).toBe('S256');
    expect(request?.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(request?.searchParams.get('client_id')).toBe(CLIENT_ID);

    // The code and state are gone from the address bar; no token is ever in a URL.
    const address = new URL(page.url());
    expect(address.search).toBe('');
    const token = bearer.at(-1)?.replace(/^Bearer /, '') ?? '';
    const [, payload] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString());
    expect(claims).toMatchObject({ iss: issuer, aud: AUDIENCE, sub: 'olivia' });
    expect(page.url()).not.toContain(token);

    // Tokens live in this tab's sessionStorage only, never in localStorage.
    const storage = await storageKeys(page);
    expect(storage.local).toEqual([]);
    expect(storage.session.some((key) => key.startsWith('oidc.user:'))).toBe(true);

    // The API took the provider's token: /me says who signed in, with the exact group names.
    const res = await fetch(`${stint.url}/me`, { headers: { authorization: `Bearer ${token}` } });
    const Me = z.object({ sub: z.string(), email: z.string(), admin: z.boolean(), groups: z.array(z.string()) });
    expect(Me.parse(await res.json())).toMatchObject({
      sub: 'olivia',
      email: 'olivia@example.com',
      admin: true,
      groups: expect.arrayContaining(['Platform Team, EU', 'stint-admins']),
    });

    // The access token is renewed silently with the refresh token (no redirect, no prompt): a later page load
    // calls the API with a new token for the same person.
    await expect
      .poll(
        async () => {
          await page.reload();
          await page.getByRole('button', { name: 'Sign out' }).waitFor();
          return bearer.at(-1);
        },
        { interval: 2_000, timeout: 30_000 },
      )
      .not.toBe(`Bearer ${token}`);
    const renewed = JSON.parse(Buffer.from(bearer.at(-1)?.split('.')[1] ?? '', 'base64url').toString());
    expect(renewed).toMatchObject({ iss: issuer, sub: 'olivia' });
    expect(authorize).toHaveLength(1);

    // Signing out forgets the tokens, then ends the provider's session (it asks to confirm) and comes back.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect((await storageKeys(page)).session.filter((k) => k.startsWith('oidc.user:'))).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});

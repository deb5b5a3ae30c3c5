import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { CLI_REDIRECT_URIS } from '#lib/identity/loopback.ts';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { CLI_BIN, ensureCliBuilt } from '../../cli/build.ts';
import {
  API_AUDIENCE,
  CLI_CLIENT_ID,
  type OidcProvider,
  PORTAL_CLIENT_ID,
  startOidcProvider,
} from '../fixtures/oidc-provider.ts';
import { collectPageErrors, launchBrowser, newPerson, PORTAL_DIST, storageKeys } from '../support/browser.ts';

/**
 * Signing in with a real OpenID Provider (`oidc-provider`, with its development login pages: test/fixtures/
 * oidc-provider.ts) instead of the local issuer, in the portal (authorization code + PKCE, oidc-client-ts) and in the
 * CLI (the built `stint` binary: code + PKCE on a loopback redirect, and the device flow). The local runtime's gateway
 * and the API functions verify that provider's access tokens, as API Gateway's JWT authorizer would in AWS.
 */
const GROUPS: Record<string, string[]> = { olivia: ['stint-admins', 'Platform Team, EU'], casey: ['stint-auditors'] };
const CLI_SCOPES = 'openid email';

let stint: Stint;
let browser: Browser;
let op: OidcProvider;

beforeAll(async () => {
  await ensureCliBuilt();
  const [opPort, apiPort] = [await freePort(), await freePort()];
  const portal = `http://127.0.0.1:${apiPort}`;
  op = await startOidcProvider({ port: opPort, portalRedirectUri: `${portal}/`, groups: GROUPS });
  stint = await startStint({
    pgDataDir: join(await clusterParentDir('stint-e2e-portal-oidc'), 'pg'),
    pgPort: await freePort(),
    port: apiPort,
    portalDir: PORTAL_DIST,
    signIn: {
      issuer: op.issuer,
      audience: API_AUDIENCE,
      externalKeys: { jwksUrl: op.jwksUrl },
      portalConfig: {
        mode: 'oidc',
        apiUrl: '',
        issuer: op.issuer,
        clientId: PORTAL_CLIENT_ID,
        scopes: 'openid email',
        redirectPath: '/',
      },
    },
    // What GET /auth-config announces to `stint login --url`: the provider's CLI client.
    env: { STINT_CLI_CLIENT_ID: CLI_CLIENT_ID, STINT_CLI_SCOPES: CLI_SCOPES },
  });
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stint?.stop();
  await op?.stop();
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
      if (url.origin === op.issuer && url.pathname === '/auth') authorize.push(url);
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
    expect(request?.searchParams.get('client_id')).toBe(PORTAL_CLIENT_ID);

    // The code and state are gone from the address bar; no token is ever in a URL.
    const address = new URL(page.url());
    expect(address.search).toBe('');
    const token = bearer.at(-1)?.replace(/^Bearer /, '') ?? '';
    const [, payload] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString());
    expect(claims).toMatchObject({ iss: op.issuer, aud: API_AUDIENCE, sub: 'olivia' });
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
    expect(renewed).toMatchObject({ iss: op.issuer, sub: 'olivia' });
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

/** The built `stint` binary as a user runs it: its own config folder, no terminal on stdin, no browser opener. */
type Run = {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The first match of `pattern` on stderr, once it is printed. */
  stderrMatch(pattern: RegExp): Promise<RegExpExecArray>;
  exit: Promise<number | null>;
};

function runCli(configDir: string, args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: configDir, STINT_CONFIG_DIR: configDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    for (const wake of waiters.splice(0)) wake();
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    async stderrMatch(pattern) {
      for (;;) {
        const match = pattern.exec(err);
        if (match !== null) return match;
        const ended = await Promise.race([
          exit.then(() => true),
          new Promise<boolean>((resolve) => waiters.push(() => resolve(false))),
        ]);
        if (ended) {
          const last = pattern.exec(err);
          if (last !== null) return last;
          throw new Error(`stint exited before printing ${pattern}: ${err}`);
        }
      }
    },
  };
}

async function cli(configDir: string, args: string[]) {
  const run = runCli(configDir, args);
  const code = await run.exit;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

const StoredSession = z.object({
  kind: z.literal('oidc'),
  url: z.string(),
  issuer: z.string(),
  clientId: z.string(),
  accessToken: z.string(),
  expiresAt: z.number(),
  refreshToken: z.string(),
  idToken: z.string().optional(),
});
const sessionIn = (dir: string) => StoredSession.parse(JSON.parse(readFileSync(join(dir, 'session.json'), 'utf8')));
const claimsOf = (jwt: string) =>
  z.record(z.string(), z.unknown()).parse(JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()));
const Me = z.object({ sub: z.string(), email: z.string(), groups: z.array(z.string()), url: z.string() });

/** The provider's development pages: any login and password, then consent. */
async function signInAtProvider(page: Page, login: string): Promise<void> {
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
}

describe('the CLI', () => {
  const configDir = mkdtempSync(join(tmpdir(), 'stint-cli-oidc-'));
  afterAll(() => rmSync(configDir, { recursive: true, force: true }));

  it('is told at GET /auth-config, without a token, the issuer and the client to sign in with', async () => {
    const res = await fetch(`${stint.url}/auth-config`);

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      issuer: op.issuer,
      cli: { clientId: CLI_CLIENT_ID, scopes: ['openid', 'email'] },
      local: true,
    });
  });

  it('refuses a plain-http issuer that is not on this machine, before sending it anything', async () => {
    const login = await cli(configDir, [
      'login',
      ...['--url', stint.url, '--issuer', 'http://idp.example.com', '--client-id', CLI_CLIENT_ID, '--no-browser'],
    ]);

    expect(login.code).toBe(1);
    expect(login.stderr).toBe(
      "stint: the issuer http://idp.example.com must be an https URL (plain http only on this machine's loopback)\n",
    );
    expect(existsSync(join(configDir, 'session.json'))).toBe(false);
  });

  it('signs in with the code flow and PKCE on a loopback redirect, refusing a callback with another state', async () => {
    const login = runCli(configDir, ['login', '--url', stint.url, '--no-browser']);
    const [, printed = ''] = await login.stderrMatch(/Open this URL to sign in: (\S+)/);
    const authorize = new URL(printed);
    const redirectUri = authorize.searchParams.get('redirect_uri') ?? '';
    expect(authorize.origin).toBe(op.issuer);
    expect(CLI_REDIRECT_URIS).toContain(redirectUri);

    // A redirect that is not this sign-in's (another state) is refused, and the CLI goes on waiting.
    const forged = await fetch(`${redirectUri}?code=forged&state=not-the-one`);
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain('does not belong to the sign-in in progress');
    expect(login.child.exitCode).toBeNull();

    const context = await newPerson(browser);
    const page = await context.newPage();
    await page.goto(authorize.href);
    await signInAtProvider(page, 'casey');
    await page.getByRole('heading', { name: 'Signed in to Stint' }).waitFor();
    await context.close();

    expect(await login.exit, login.stderr()).toBe(0);
    expect(login.stdout()).toContain(`Signed in: ${stint.url} via ${op.issuer}`);
    expect(statSync(join(configDir, 'session.json')).mode & 0o777).toBe(0o600);
    const session = sessionIn(configDir);
    expect(session).toMatchObject({ kind: 'oidc', url: stint.url, issuer: op.issuer, clientId: CLI_CLIENT_ID });
    expect(claimsOf(session.accessToken)).toMatchObject({ iss: op.issuer, aud: API_AUDIENCE, sub: 'casey' });

    // The provider saw an S256 challenge, then one code exchange whose verifier matches it, on the same redirect.
    const [request] = op.authorizations.filter((a) => a.clientId === CLI_CLIENT_ID);
    expect(request).toMatchObject({ codeChallengeMethod: 'S256', redirectUri, scope: CLI_SCOPES });
    const exchanges = op.tokenRequests.filter(
      (t) => t.clientId === CLI_CLIENT_ID && t.grantType === 'authorization_code',
    );
    expect(exchanges).toHaveLength(1);
    const [exchange] = exchanges;
    expect(exchange).toMatchObject({ status: 200, redirectUri });
    const challenge = createHash('sha256')
      .update(exchange?.codeVerifier ?? '')
      .digest('base64url');
    expect(request?.codeChallenge).toBe(challenge);
  });

  it('calls the API with the access token and, near its expiry, renews it with the refresh token first', async () => {
    const before = sessionIn(configDir);
    // The provider gives the CLI 60-second access tokens: within the CLI's early renewal from the start.
    expect(before.expiresAt - Date.now() / 1000).toBeLessThanOrEqual(60);

    const whoami = await cli(configDir, ['whoami', '--output', 'json']);

    expect(whoami).toMatchObject({ code: 0, stderr: '' });
    expect(Me.parse(JSON.parse(whoami.stdout))).toMatchObject({
      sub: 'casey',
      email: 'casey@example.com',
      groups: ['stint-auditors'],
      url: stint.url,
    });
    const refreshes = op.tokenRequests.filter((t) => t.grantType === 'refresh_token' && t.clientId === CLI_CLIENT_ID);
    expect(refreshes.map((r) => [r.refreshToken, r.status])).toEqual([[before.refreshToken, 200]]);
    const after = sessionIn(configDir);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(claimsOf(after.accessToken)).toMatchObject({ iss: op.issuer, aud: API_AUDIENCE, sub: 'casey' });
    expect(after.refreshToken).not.toBe(before.refreshToken); // oidc-provider rotates a public client's
    expect(statSync(join(configDir, 'session.json')).mode & 0o777).toBe(0o600);
  });

  it('renews one at a time when commands run side by side, so a rotated refresh token is never used twice', async () => {
    const refreshesBefore = op.tokenRequests.filter((t) => t.grantType === 'refresh_token').length;

    const runs = await Promise.all([1, 2, 3].map(() => cli(configDir, ['whoami', '--output', 'json'])));

    expect(runs.map((r) => r.code)).toEqual([0, 0, 0]);
    // Each renewal used the refresh token the previous one was given (60-second tokens are renewed every time).
    const refreshes = op.tokenRequests.filter((t) => t.grantType === 'refresh_token').slice(refreshesBefore);
    expect(refreshes.length).toBeGreaterThanOrEqual(1);
    expect(refreshes.every((r) => r.status === 200)).toBe(true);
    expect(new Set(refreshes.map((r) => r.refreshToken)).size).toBe(refreshes.length);
    expect(existsSync(join(configDir, 'session.lock'))).toBe(false);
  });

  it('signs out, revoking the refresh token at the provider; whoami then exits 3', async () => {
    const { refreshToken } = sessionIn(configDir);

    const logout = await cli(configDir, ['logout']);

    expect(logout).toMatchObject({ code: 0, stdout: `Signed out of ${stint.url}\n` });
    expect(existsSync(join(configDir, 'session.json'))).toBe(false);
    expect(op.revocations.map((r) => [r.token, r.tokenTypeHint])).toEqual([[refreshToken, 'refresh_token']]);
    const whoami = await cli(configDir, ['whoami']);
    expect(whoami.code).toBe(3);
    expect(whoami.stderr).toMatch(/^stint: not signed in/);
  });

  it('signs in with the device flow, polling no faster than asked after a slow_down', async () => {
    op.slowDownNextPolls(1);
    const login = runCli(configDir, ['login', '--url', stint.url, '--device']);
    const [, verificationUri = '', userCode = ''] = await login.stderrMatch(/open (\S+) and enter the code (\S+)/);
    expect(new URL(verificationUri).origin).toBe(op.issuer);

    // Approved only once the provider has answered slow_down to a poll, so that poll is still pending.
    await expect.poll(() => op.devicePolls().map((p) => p.error), { timeout: 30_000 }).toContain('slow_down');
    const context = await newPerson(browser);
    const page = await context.newPage();
    await page.goto(verificationUri);
    await page.locator('input[name=user_code]').fill(userCode);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await signInAtProvider(page, 'casey');
    await page.getByText('Sign-in Success').waitFor();
    await context.close();

    expect(await login.exit, login.stderr()).toBe(0);
    const polls = op.devicePolls();
    const slowDown = polls.findIndex((p) => p.error === 'slow_down');
    const next = polls[slowDown + 1];
    // The provider announces no interval, so RFC 8628's 5 s applies, and 5 s more after slow_down.
    expect(next?.at ?? 0).toBeGreaterThanOrEqual((polls[slowDown]?.at ?? Number.POSITIVE_INFINITY) + 10_000);
    expect(polls.at(-1)).toMatchObject({ status: 200, error: undefined });
    expect(statSync(join(configDir, 'session.json')).mode & 0o777).toBe(0o600);
    const whoami = await cli(configDir, ['whoami', '--output', 'json']);
    expect(whoami.code).toBe(0);
    expect(Me.parse(JSON.parse(whoami.stdout)).sub).toBe('casey');
  });

  it('opens the sign-in URL with $BROWSER when it is set', async () => {
    const opened = join(configDir, 'opened-url');
    const browserScript = join(configDir, 'record-browser.sh');
    writeFileSync(browserScript, `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`);
    chmodSync(browserScript, 0o755);

    const login = runCli(configDir, ['login', '--url', stint.url], { BROWSER: browserScript });
    const [, printed] = await login.stderrMatch(/If it does not open, visit: (\S+)/);
    await expect.poll(() => (existsSync(opened) ? readFileSync(opened, 'utf8') : undefined)).toBe(printed);
    login.child.kill('SIGTERM');
    await login.exit;

    expect(new URL(printed ?? '').searchParams.get('code_challenge_method')).toBe('S256');
  });

  it('offers the device flow by itself where there is no browser to open and the issuer has one', async () => {
    // No $BROWSER and nothing on PATH: no opener on this "server".
    const login = runCli(configDir, ['login', '--url', stint.url], { PATH: '' });
    const [, verificationUri] = await login.stderrMatch(/open (\S+) and enter the code (\S+)/);
    login.child.kill('SIGTERM');
    await login.exit;

    expect(new URL(verificationUri ?? '').origin).toBe(op.issuer);
    expect(login.stderr()).not.toContain('Open this URL to sign in');
  });
});

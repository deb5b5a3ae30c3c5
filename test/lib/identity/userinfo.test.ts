import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UnauthenticatedError } from '#lib/domain/errors.ts';
import { resolveIdentity } from '#lib/identity/resolver.ts';
import { createUserInfoLookup, IdentityProviderUnavailableError } from '#lib/identity/userinfo.ts';

/**
 * The UserInfo lookup against a real HTTP endpoint (OpenID Connect Core §5.3): what it asks, what it refuses, what it
 * caches and for how long.
 */
type Answer = { status: number; body?: unknown };

let server: Server;
let base = '';
/** What the endpoint answers per bearer token (default: 200 with `sub` from the token name and an email). */
let answers: Record<string, Answer> = {};
let asked: string[] = [];
let discovery: Record<string, unknown> = {};

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: base, ...discovery }));
      return;
    }
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    asked.push(token);
    const [sub] = token.split('.');
    const answer = answers[token] ?? { status: 200, body: { sub, email: `${sub}@example.com` } };
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body ?? {}));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  base = `http://127.0.0.1:${address.port}`;
});
afterAll(() => {
  server.close();
  server.closeAllConnections();
});
beforeEach(() => {
  answers = {};
  asked = [];
  discovery = { jwks_uri: `${base}/jwks`, userinfo_endpoint: `${base}/userinfo` };
});

const NOW = Date.parse('2030-01-15T12:00:00.000Z');
const exp = (secondsFromNow: number) => Math.floor(NOW / 1000) + secondsFromNow;

describe('createUserInfoLookup', () => {
  it('asks the endpoint with the caller’s own bearer token and reads the email', async () => {
    const lookup = createUserInfoLookup({ issuer: base, userinfoUrl: `${base}/userinfo` }, { now: () => NOW });

    const email = await lookup('ana.token-1', { sub: 'ana', exp: exp(600) });

    expect(email).toBe('ana@example.com');
    expect(asked).toEqual(['ana.token-1']);
  });

  it('finds the endpoint in the issuer’s discovery document when none is configured', async () => {
    discovery = { jwks_uri: `${base}/jwks`, userinfo_endpoint: `${base}/discovered-userinfo` };
    const lookup = createUserInfoLookup({ issuer: base }, { now: () => NOW });

    expect(await lookup('ben.token', { sub: 'ben', exp: exp(600) })).toBe('ben@example.com');
    expect(asked).toEqual(['ben.token']);
  });

  it('answers no email when the issuer advertises no UserInfo endpoint, asking nothing', async () => {
    discovery = { jwks_uri: `${base}/jwks` };
    const lookup = createUserInfoLookup({ issuer: base }, { now: () => NOW });

    expect(await lookup('cid.token', { sub: 'cid', exp: exp(600) })).toBeUndefined();
    expect(asked).toEqual([]);
  });

  it('caches the answer per token until the token expires, then asks again', async () => {
    let now = NOW;
    const lookup = createUserInfoLookup({ issuer: base, userinfoUrl: `${base}/userinfo` }, { now: () => now });
    const claims = { sub: 'dan', exp: exp(60) };

    await lookup('dan.a', claims);
    await lookup('dan.a', claims);
    await lookup('dan.b', claims);
    now = NOW + 61_000;
    await lookup('dan.a', claims);

    expect(asked).toEqual(['dan.a', 'dan.b', 'dan.a']);
  });

  it('keeps at most maxEntries answers, dropping the oldest', async () => {
    const lookup = createUserInfoLookup(
      { issuer: base, userinfoUrl: `${base}/userinfo` },
      { now: () => NOW, maxEntries: 2 },
    );
    const claims = { sub: 'eve', exp: exp(600) };

    for (const token of ['eve.1', 'eve.2', 'eve.3', 'eve.3', 'eve.2', 'eve.1']) await lookup(token, claims);

    expect(asked).toEqual(['eve.1', 'eve.2', 'eve.3', 'eve.1']);
  });

  it('refuses an answer about another subject (§5.3.2) and never caches it', async () => {
    answers['fay.token'] = { status: 200, body: { sub: 'mallory', email: 'mallory@example.com' } };
    const lookup = createUserInfoLookup({ issuer: base, userinfoUrl: `${base}/userinfo` }, { now: () => NOW });

    const first = await lookup('fay.token', { sub: 'fay', exp: exp(600) }).catch((e: unknown) => e);
    const second = await lookup('fay.token', { sub: 'fay', exp: exp(600) }).catch((e: unknown) => e);

    expect(first).toBeInstanceOf(UnauthenticatedError);
    expect(second).toBeInstanceOf(UnauthenticatedError);
    expect(asked).toEqual(['fay.token', 'fay.token']);
  });

  it('answers 401 when the endpoint refuses the token', async () => {
    answers['gus.token'] = { status: 401 };
    const lookup = createUserInfoLookup({ issuer: base, userinfoUrl: `${base}/userinfo` }, { now: () => NOW });

    const error = await lookup('gus.token', { sub: 'gus', exp: exp(600) }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect(error).toMatchObject({ status: 401 });
  });

  it.each([
    ['answers 500', { status: 500, body: { error: 'boom' } }],
    ['answers 200 without a sub', { status: 200, body: { email: 'x@example.com' } }],
  ])('is unavailable (503, our failure) when the endpoint %s', async (_what, answer) => {
    answers['hal.token'] = answer;
    const lookup = createUserInfoLookup({ issuer: base, userinfoUrl: `${base}/userinfo` }, { now: () => NOW });

    const error = await lookup('hal.token', { sub: 'hal', exp: exp(600) }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(IdentityProviderUnavailableError);
    expect(error).toMatchObject({ status: 503 });
  });

  it('is unavailable (503) when the endpoint does not answer at all', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const address = closed.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const lookup = createUserInfoLookup({ issuer: base, userinfoUrl: `http://127.0.0.1:${address.port}/userinfo` });

    const error = await lookup('ivy.token', { sub: 'ivy', exp: exp(600) }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(IdentityProviderUnavailableError);
  });
});

describe('resolveIdentity with a UserInfo fallback', () => {
  const directory = {
    userById: async (id: string) =>
      id === 'known'
        ? {
            id,
            userName: 'known@corp.example',
            emails: ['known@corp.example'],
            active: true,
            accounts: [],
            version: 1,
            lastChange: { by: 'scim', channel: 'scim' as const, action: 'create', at: new Date(NOW).toISOString() },
          }
        : undefined,
    groupsOf: async () => [],
  };

  it('takes the token’s email first, then the directory’s, and asks UserInfo only when both are missing', async () => {
    const lookup = createUserInfoLookup({ issuer: base, userinfoUrl: `${base}/userinfo` }, { now: () => NOW });
    const fallback = (token: string, sub: string) => ({ emailFallback: () => lookup(token, { sub, exp: exp(600) }) });

    const fromToken = await resolveIdentity(
      directory,
      { sub: 'jo', email: 'jo@token.example', groups: [] },
      fallback('jo.t', 'jo'),
    );
    const fromDirectory = await resolveIdentity(directory, { sub: 'known', groups: [] }, fallback('known.t', 'known'));
    const fromUserInfo = await resolveIdentity(directory, { sub: 'kim', groups: ['g'] }, fallback('kim.t', 'kim'));

    expect(fromToken.email).toBe('jo@token.example');
    expect(fromDirectory.email).toBe('known@corp.example');
    expect(fromUserInfo).toEqual({ sub: 'kim', email: 'kim@example.com', groups: ['g'] });
    expect(asked).toEqual(['kim.t']);
  });

  it('still refuses a caller with no email anywhere, naming UserInfo', async () => {
    answers['lu.t'] = { status: 200, body: { sub: 'lu' } };
    const lookup = createUserInfoLookup({ issuer: base, userinfoUrl: `${base}/userinfo` }, { now: () => NOW });

    const error = await resolveIdentity(
      directory,
      { sub: 'lu', groups: [] },
      { emailFallback: () => lookup('lu.t', { sub: 'lu', exp: exp(600) }) },
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect(error).toMatchObject({ message: expect.stringContaining('UserInfo') });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnauthenticatedError } from '#lib/domain/errors.ts';
import { claimedIdentityOf, createTokenVerifier, type TokenVerifier } from '#lib/identity/token.ts';
import { startTestIssuer, type TestIssuer } from '../../support/token.ts';

/** Token verification and claim reading against a real issuer (JWKS and OpenID configuration over HTTP). */
let issuer: TestIssuer;
let verify: TokenVerifier;

beforeAll(async () => {
  issuer = await startTestIssuer();
  verify = createTokenVerifier({
    issuer: issuer.issuer,
    audiences: ['other-app', issuer.audience],
    jwksUrl: issuer.jwksUrl,
  });
});
afterAll(async () => {
  await issuer.stop();
});

const person = { sub: 'alice', email: 'alice@example.com' };

async function claimed(claims: Record<string, unknown>) {
  return claimedIdentityOf(await verify(await issuer.sign({ ...person, ...claims })));
}

/** Group names real identity providers have, each of which the flattened "[a b]" string cannot carry. */
const NAMES: [string, string[]][] = [
  ['a space', ['not dba']],
  ['a comma', ['DBA, EU']],
  ['a comma and no space', ['x,stint-admins']],
  ['brackets', ['[stint-admins]', 'ops]', '[']],
  ['quotes', ['"dba"', "O'Brien team", '"a","b"']],
  ['non-ASCII letters', ['Zürich Ops', 'Δ-team', '運用チーム', 'équipe-sécurité']],
  ['several, one of them plain', ['Platform Team', 'dba']],
];

describe('claimedIdentityOf', () => {
  it.each(NAMES)('reads group names with %s exactly as the token holds them', async (_shape, groups) => {
    expect((await claimed({ groups })).groups).toEqual(groups);
    expect((await claimed({ 'cognito:groups': groups })).groups).toEqual(groups);
  });

  it('takes the union of `groups` and `cognito:groups`, each name once', async () => {
    const identity = await claimed({ groups: ['Platform Team', 'dba'], 'cognito:groups': ['dba', 'DBA, EU'] });

    expect(identity).toEqual({ ...person, groups: ['Platform Team', 'dba', 'DBA, EU'] });
  });

  it('reads no groups from a token without either claim, and keeps a manager claim', async () => {
    expect(await claimed({ manager: 'boss' })).toEqual({ ...person, groups: [], manager: 'boss' });
  });

  it.each([
    ['groups', 'dba'],
    ['groups', '[dba ops]'],
    ['groups', ['dba', 7]],
    ['groups', { dba: true }],
    ['cognito:groups', 'stint-admins'],
    ['cognito:groups', [null]],
    ['email', 42],
    ['manager', ['boss']],
  ])('refuses a `%s` claim of %j instead of guessing', async (claim, value) => {
    const error = await claimed({ [claim]: value }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect(error).toMatchObject({ status: 401, field: claim });
  });

  it('refuses a token without a subject', async () => {
    const payload = await verify(await issuer.sign({ email: person.email }));

    expect(() => claimedIdentityOf(payload)).toThrow(UnauthenticatedError);
  });
});

describe('createTokenVerifier', () => {
  it('accepts the audience in `client_id`, as API Gateway does for Cognito access tokens', async () => {
    const payload = await verify(await issuer.sign(person, { clientId: issuer.audience }));

    expect(payload.sub).toBe('alice');
  });

  it.each([
    ['another issuer', { issuer: 'https://evil.example.com' }],
    ['another audience', { audience: 'someone-else' }],
    ['another client id', { clientId: 'someone-else' }],
    ['a key the issuer does not publish', { foreignKey: true }],
    ['an expiry in the past', { expiresIn: Math.floor(Date.now() / 1000) - 60 }],
  ])('refuses a token with %s as unauthenticated', async (_what, options) => {
    const token = await issuer.sign(person, options);

    await expect(verify(token)).rejects.toThrow(UnauthenticatedError);
  });

  it('refuses an unsigned token and a token that is not a JWT', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(
      JSON.stringify({ ...person, iss: issuer.issuer, aud: issuer.audience, exp: Date.now() / 1000 + 60 }),
    ).toString('base64url');

    await expect(verify(`${header}.${body}.`)).rejects.toThrow(UnauthenticatedError);
    await expect(verify('not-a-token')).rejects.toThrow(UnauthenticatedError);
  });

  it("finds the key set through the issuer's OpenID configuration and fetches it once for many tokens", async () => {
    const discovering = createTokenVerifier({ issuer: issuer.issuer, audiences: [issuer.audience] });
    const before = issuer.jwksFetches();

    const subjects = [];
    for (const sub of ['a', 'b', 'c']) subjects.push((await discovering(await issuer.sign({ sub }))).sub);

    expect(subjects).toEqual(['a', 'b', 'c']);
    expect(issuer.jwksFetches() - before).toBe(1);
  });

  it('does not trust a discovery document that names another issuer', async () => {
    const wrong = createTokenVerifier({ issuer: `${issuer.issuer}/`, audiences: [issuer.audience] });

    await expect(wrong(await issuer.sign(person))).rejects.toThrow(/another issuer/);
  });
});

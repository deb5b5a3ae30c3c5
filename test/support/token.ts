import { createServer } from 'node:http';
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { flattenClaims } from '#lib/local/api-gateway.ts';
import { apiEvent } from './api-event.ts';

/** Claims a test token carries (any JSON: tests also mint ill-typed ones). `sub` is the subject. */
export type TokenClaims = Record<string, unknown>;

export type SignOptions = {
  issuer?: string;
  audience?: string | string[];
  /** Put the audience in `client_id` instead of `aud` (as Cognito access tokens do). */
  clientId?: string;
  expiresIn?: string | number;
  /** Sign with a key the issuer's JWKS does not hold (same `kid`). */
  foreignKey?: boolean;
};

export type TestIssuer = {
  /** The issuer URL (`iss`); its OpenID configuration and JWKS are served under it. */
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUrl: string;
  /** STINT_JWT_* variables that make the API functions trust this issuer (stub them before the first call). */
  readonly env: Record<string, string>;
  /** How often the JWKS was fetched. */
  readonly jwksFetches: () => number;
  sign(claims: TokenClaims, options?: SignOptions): Promise<string>;
  /**
   * An API Gateway v2 event as the JWT authorizer delivers it: the signed token in `authorization` and its claims
   * flattened as API Gateway flattens them (arrays become "[a b]").
   */
  event(
    input: Omit<Parameters<typeof apiEvent>[0], 'claims'> & { claims?: TokenClaims; sign?: SignOptions },
  ): Promise<APIGatewayProxyEventV2WithJWTAuthorizer>;
  stop(): Promise<void>;
};

const ALG = 'ES256';
const KID = 'test-key';
const DEFAULT_CLAIMS: TokenClaims = { sub: 'alice', email: 'alice@example.com' };

/**
 * A real OIDC issuer for handler-level tests: an ES256 key whose JWKS and OpenID configuration an HTTP server on
 * 127.0.0.1 serves, so the API functions verify test tokens exactly as they verify a production issuer's.
 */
export async function startTestIssuer(options: { audience?: string } = {}): Promise<TestIssuer> {
  const audience = options.audience ?? 'stint-test';
  const [own, foreign] = await Promise.all([generateKeyPair(ALG), generateKeyPair(ALG)]);
  const jwks = { keys: [{ ...(await exportJWK(own.publicKey)), kid: KID, alg: ALG, use: 'sig' }] };
  let fetches = 0;
  let base = '';
  const server = createServer((req, res) => {
    const send = (body: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/.well-known/jwks.json') {
      fetches += 1;
      return send(jwks);
    }
    if (req.url === '/.well-known/openid-configuration') {
      return send({ issuer: base, jwks_uri: `${base}/.well-known/jwks.json` });
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the test issuer did not bind a TCP port');
  base = `http://127.0.0.1:${address.port}`;
  const jwksUrl = `${base}/.well-known/jwks.json`;

  const sign = async (claims: TokenClaims, o: SignOptions = {}) => {
    const { sub, ...rest } = claims;
    const jwt = new SignJWT({ ...rest, ...(o.clientId === undefined ? {} : { client_id: o.clientId }) })
      .setProtectedHeader({ alg: ALG, kid: KID, typ: 'JWT' })
      .setIssuer(o.issuer ?? base)
      .setIssuedAt()
      .setExpirationTime(o.expiresIn ?? '1h');
    if (typeof sub === 'string') jwt.setSubject(sub);
    if (o.clientId === undefined) jwt.setAudience(o.audience ?? audience);
    return jwt.sign(o.foreignKey === true ? foreign.privateKey : own.privateKey);
  };

  return {
    issuer: base,
    audience,
    jwksUrl,
    env: { STINT_JWT_ISSUER: base, STINT_JWT_AUDIENCE: audience, STINT_JWKS_URL: jwksUrl },
    jwksFetches: () => fetches,
    sign,
    async event(input) {
      const { claims = DEFAULT_CLAIMS, sign: signOptions, ...rest } = input;
      const token = await sign(claims, signOptions);
      return apiEvent({
        ...rest,
        claims: flattenClaims(decodeJwt(token)),
        headers: { ...rest.headers, authorization: `Bearer ${token}` },
      });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  type ApiRoute,
  corsFromTemplate,
  LocalApiGateway,
  matchRoute,
  originAllowed,
  routesFromTemplate,
} from '#lib/local/api-gateway.ts';
import { createLocalIssuer, type LocalIssuer } from '#lib/local/issuer.ts';
import { LocalLambda } from '#lib/local/lambda.ts';
import { loadTemplate } from '#lib/local/template.ts';
import { synthFixtureTemplate } from '../../fixtures/local/stack.ts';

const route = (routeKey: string, functionRef = 'F', jwt = false): ApiRoute => {
  const [method = '', path = ''] = routeKey.split(' ');
  return {
    routeKey,
    method,
    segments:
      routeKey === '$default'
        ? undefined
        : path
            .split('/')
            .filter((s) => s)
            .map((s) => {
              const m = /^\{([^}+]+)(\+?)\}$/.exec(s);
              return m === null
                ? { kind: 'literal' as const, value: s }
                : m[2] === '+'
                  ? { kind: 'greedy' as const, name: m[1] ?? '' }
                  : { kind: 'param' as const, name: m[1] ?? '' };
            }),
    functionRef,
    jwt: jwt ? { scopes: [] } : undefined,
  };
};

describe('matchRoute', () => {
  const routes = [
    route('GET /items/{id}'),
    route('GET /items/fixed'),
    route('ANY /items/{id}'),
    route('GET /files/{path+}'),
    route('GET /files/{id}/meta'),
    route('$default'),
  ];
  it.each([
    ['GET', '/items/fixed', 'GET /items/fixed', {}],
    ['GET', '/items/42', 'GET /items/{id}', { id: '42' }],
    ['DELETE', '/items/42', 'ANY /items/{id}', { id: '42' }],
    ['GET', '/items/a%20b', 'GET /items/{id}', { id: 'a b' }],
    ['GET', '/files/x/meta', 'GET /files/{id}/meta', { id: 'x' }],
    ['GET', '/files/a/b/c', 'GET /files/{path+}', { path: 'a/b/c' }],
    ['GET', '/items/42/extra', '$default', {}],
    ['POST', '/nowhere', '$default', {}],
  ])('%s %s → %s', (method, path, routeKey, params) => {
    expect(matchRoute(routes, method, path)).toMatchObject({ route: { routeKey }, params });
  });

  it('matches nothing without a $default route', () => {
    expect(matchRoute([route('GET /a')], 'GET', '/b')).toBeUndefined();
  });
});

describe('routesFromTemplate', () => {
  it('reads routes, their Lambda and their authorization from the synthesized template', () => {
    const t = loadTemplate(synthFixtureTemplate());
    const routes = routesFromTemplate(t);
    const summary = routes.map((r) => [r.routeKey, r.functionRef.replace(/[0-9A-F]{8}$/, ''), r.jwt !== undefined]);
    expect(summary).toEqual(
      expect.arrayContaining([
        ['POST /items', 'ItemsCreateFn', true],
        ['GET /echo/{id}', 'EchoFn', false],
        ['POST /echo/{id}', 'EchoFn', true],
        ['POST /runs/{id}/resume', 'ResumeFn', true],
      ]),
    );
    expect(routes).toHaveLength(7);
  });
});

describe('LocalApiGateway over HTTP', () => {
  let url = '';
  let issuer: LocalIssuer;
  let close: () => Promise<void>;
  const events: unknown[] = [];
  const Event = z.looseObject({
    requestContext: z.looseObject({
      authorizer: z.object({ jwt: z.object({ claims: z.record(z.string(), z.string()) }) }).optional(),
    }),
  });

  beforeAll(async () => {
    issuer = await createLocalIssuer({ issuer: 'http://local/_local', audience: 'stint-local' });
    const gateway = new LocalApiGateway({
      routes: [
        route('GET /echo/{id}'),
        route('POST /secure/{id}', 'F', true),
        route('GET /plain', 'Plain'),
        route('GET /boom', 'Boom'),
        route('POST /upload', 'F'),
      ],
      issuer,
      invoke: async (fn, event) => {
        events.push(event);
        if (fn === 'Boom') throw new TypeError('handler bug');
        if (fn === 'Plain') return { hello: 'world' };
        return {
          statusCode: 201,
          headers: { 'x-custom': 'yes' },
          cookies: ['a=1', 'b=2'],
          body: JSON.stringify({ ok: true }),
        };
      },
    });
    const server = createServer((req, res) => void gateway.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  });
  afterAll(() => close());

  const identity = { sub: 'alice', email: 'alice@example.com', groups: ['dba', 'dev'] };

  it('builds a payload 2.0 event and maps the structured result back', async () => {
    events.length = 0;
    const res = await fetch(`${url}/echo/a%20b?x=1&x=2&y=z`, { headers: { 'X-Trace': 'T1', Cookie: 'c1=v1; c2=v2' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-custom')).toBe('yes');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await res.json()).toEqual({ ok: true });
    expect(events[0]).toMatchObject({
      version: '2.0',
      routeKey: 'GET /echo/{id}',
      rawPath: '/echo/a%20b',
      rawQueryString: 'x=1&x=2&y=z',
      cookies: ['c1=v1', 'c2=v2'],
      headers: { 'x-trace': 'T1' },
      queryStringParameters: { x: '1,2', y: 'z' },
      pathParameters: { id: 'a b' },
      isBase64Encoded: false,
      requestContext: {
        http: { method: 'GET', path: '/echo/a%20b', sourceIp: '127.0.0.1' },
        routeKey: 'GET /echo/{id}',
        stage: '$default',
      },
    });
    expect(events[0]).not.toHaveProperty('body');
    expect(events[0]).not.toHaveProperty('headers.cookie');
  });

  it('passes verified claims, flattened like API Gateway, to the handler', async () => {
    events.length = 0;
    const token = await issuer.mint(identity);
    const res = await fetch(`${url}/secure/1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: '{"a":1}',
    });
    expect(res.status).toBe(201);
    const event = Event.parse(events[0]);
    expect(event.body).toBe('{"a":1}');
    expect(event.requestContext.authorizer?.jwt.claims).toMatchObject({
      sub: 'alice',
      email: 'alice@example.com',
      groups: '[dba dev]',
      iss: 'http://local/_local',
      aud: 'stint-local',
    });
  });

  it.each([
    ['no Authorization header', async () => undefined],
    ['a malformed token', async () => 'Bearer not.a.jwt'],
    ['a wrong audience', async () => `Bearer ${await issuer.mint(identity, { audience: 'someone-else' })}`],
    ['a wrong issuer', async () => `Bearer ${await issuer.mint(identity, { issuer: 'https://evil.example.com' })}`],
    [
      'an expired token',
      async () => `Bearer ${await issuer.mint(identity, { expiresIn: Math.floor(Date.now() / 1000) - 60 })}`,
    ],
    [
      'a token signed by another key',
      async () => {
        const other = await createLocalIssuer({ issuer: 'http://local/_local', audience: 'stint-local' });
        return `Bearer ${await other.mint(identity)}`;
      },
    ],
  ])('answers 401 without calling the Lambda for %s', async (_name, header) => {
    events.length = 0;
    const h = await header();
    const res = await fetch(`${url}/secure/1`, { method: 'POST', ...(h ? { headers: { authorization: h } } : {}) });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ message: 'Unauthorized' });
    expect(events).toEqual([]);
  });

  it('answers a result without statusCode as 200 JSON', async () => {
    const res = await fetch(`${url}/plain`);
    expect([res.status, res.headers.get('content-type'), await res.json()]).toEqual([
      200,
      'application/json',
      { hello: 'world' },
    ]);
  });

  it('answers 500 Internal Server Error when the handler throws', async () => {
    const res = await fetch(`${url}/boom`);
    expect([res.status, await res.json()]).toEqual([500, { message: 'Internal Server Error' }]);
  });

  it('answers 404 Not Found for an unknown route', async () => {
    const res = await fetch(`${url}/nope`);
    expect([res.status, await res.json()]).toEqual([404, { message: 'Not Found' }]);
  });

  it('answers 413 for a payload over 10 MB without calling the Lambda', async () => {
    events.length = 0;
    const res = await fetch(`${url}/upload`, { method: 'POST', body: Buffer.alloc(10 * 1024 * 1024 + 1, 97) });
    expect(res.status).toBe(413);
    expect(events).toEqual([]);
  });
});

describe('LocalApiGateway with functions that run too long', () => {
  let url = '';
  let close: () => Promise<void>;
  const slowFn = (timeout: number) => ({
    Type: 'AWS::Lambda::Function',
    Properties: { Timeout: timeout },
    Metadata: { 'stint:entry': 'test/fixtures/local/handlers/slow.ts' },
  });

  beforeAll(async () => {
    const lambda = new LocalLambda(
      loadTemplate({ Resources: { Slow: slowFn(1), Patient: slowFn(10) } }),
      new URL('../../../', import.meta.url).pathname,
    );
    const gateway = new LocalApiGateway({
      routes: [route('GET /slow', 'Slow'), { ...route('GET /patient', 'Patient'), timeoutMs: 300 }],
      issuer: await createLocalIssuer({ issuer: 'http://local/_local', audience: 'stint-local' }),
      invoke: (fn, event) => lambda.invoke(fn, event),
    });
    const server = createServer((req, res) => void gateway.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  });
  afterAll(() => close());

  it('answers 500 Internal Server Error when the Lambda runs past its function timeout', async () => {
    const res = await fetch(`${url}/slow?id=api-late&ms=1300`);
    expect([res.status, await res.json()]).toEqual([500, { message: 'Internal Server Error' }]);
  });

  it('answers 503 Service Unavailable when the integration has not answered within its timeout', async () => {
    const res = await fetch(`${url}/patient?id=api-patient&ms=1000`);
    expect([res.status, await res.json()]).toEqual([503, { message: 'Service Unavailable' }]);
  });

  it('answers the Lambda result when it finishes in time', async () => {
    const res = await fetch(`${url}/slow?id=api-quick&ms=10`);
    expect([res.status, await res.json()]).toEqual([200, { slept: 10 }]);
  });
});

describe('LocalApiGateway JWT authorizer checks (one per documented check)', () => {
  let url = '';
  let close: () => Promise<void>;
  const invoked: unknown[] = [];
  const ISSUER = 'http://local/_local';
  const AUDIENCE = 'stint-local';
  type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  const keys: Record<'rsa' | 'pss' | 'ec', PrivateKey | undefined> = { rsa: undefined, pss: undefined, ec: undefined };

  beforeAll(async () => {
    const rsaPair = await generateKeyPair('RS256', { extractable: true });
    const pssPair = await generateKeyPair('PS256', { extractable: true });
    const ecPair = await generateKeyPair('ES256', { extractable: true });
    keys.rsa = rsaPair.privateKey;
    keys.pss = pssPair.privateKey;
    keys.ec = ecPair.privateKey;
    // The issuer's JWKS holds an RSA key and an EC key, so an ES256 token with a known kid fails only on its algorithm.
    const jwks = {
      keys: [
        { ...(await exportJWK(rsaPair.publicKey)), kid: 'rsa-key', alg: 'RS256' },
        { ...(await exportJWK(pssPair.publicKey)), kid: 'pss-key', alg: 'PS256' },
        { ...(await exportJWK(ecPair.publicKey)), kid: 'ec-key', alg: 'ES256' },
      ],
    };
    const gateway = new LocalApiGateway({
      routes: [
        route('POST /secure/{id}', 'F', true),
        { ...route('GET /scoped', 'F', true), jwt: { scopes: ['stint/api'] } },
      ],
      issuer: { issuer: ISSUER, audience: AUDIENCE, jwks },
      invoke: async (_fn, event) => {
        invoked.push(event);
        return { statusCode: 201, body: '{}' };
      },
    });
    const server = createServer((req, res) => void gateway.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  });
  afterAll(() => close());

  const now = () => Math.floor(Date.now() / 1000);
  type Variant = {
    alg?: string;
    kid?: string | null;
    key?: 'rsa' | 'pss' | 'ec';
    claims?: Record<string, unknown>;
    drop?: string[];
  };
  /** A token that passes every check unless the variant changes one thing. */
  const sign = async ({ alg = 'RS256', kid = 'rsa-key', key = 'rsa', claims = {}, drop = [] }: Variant = {}) => {
    const payload: Record<string, unknown> = {
      sub: 'alice',
      email: 'alice@example.com',
      iss: ISSUER,
      aud: AUDIENCE,
      iat: now(),
      exp: now() + 3600,
      ...claims,
    };
    for (const name of drop) delete payload[name];
    return new SignJWT(payload)
      .setProtectedHeader({ alg, typ: 'JWT', ...(kid === null ? {} : { kid }) })
      .sign(z.custom<PrivateKey>((k) => k !== undefined).parse(keys[key]));
  };
  const call = async (token: string, path = '/secure/1') => {
    invoked.length = 0;
    const res = await fetch(`${url}${path}`, {
      method: path === '/scoped' ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.status, invoked: invoked.length };
  };

  it.each<[string, Variant, number]>([
    ['accepts a token that passes every check (RS256, no nbf)', {}, 201],
    ['accepts another RSA-based algorithm (PS256)', { alg: 'PS256', kid: 'pss-key', key: 'pss' }, 201],
    ['refuses a token whose header has no kid', { kid: null }, 401],
    ['refuses a token whose kid is not in the issuer JWKS', { kid: 'unknown-key' }, 401],
    [
      'refuses a token signed with a non-RSA algorithm (ES256) by a key in the JWKS',
      { alg: 'ES256', kid: 'ec-key', key: 'ec' },
      401,
    ],
    ['refuses a token from another issuer', { claims: { iss: 'https://evil.example.com' } }, 401],
    ['refuses a token for another audience', { claims: { aud: 'another-api' } }, 401],
    ['accepts client_id when there is no aud', { drop: ['aud'], claims: { client_id: AUDIENCE } }, 201],
    ['refuses a wrong client_id when there is no aud', { drop: ['aud'], claims: { client_id: 'another-app' } }, 401],
    [
      'evaluates aud, not client_id, when both are present',
      { claims: { aud: 'another-api', client_id: AUDIENCE } },
      401,
    ],
    ['refuses a token without exp', { drop: ['exp'] }, 401],
    ['refuses an expired token', { claims: { exp: now() - 1 } }, 401],
    ['refuses a token that is not valid yet (nbf in the future)', { claims: { nbf: now() + 60 } }, 401],
    ['accepts a token whose nbf has passed', { claims: { nbf: now() - 60 } }, 201],
    ['refuses a token issued in the future (iat)', { claims: { iat: now() + 60 } }, 401],
  ])('%s', async (_name, variant, status) => {
    const result = await call(await sign(variant));
    expect(result).toEqual({ status, invoked: status === 201 ? 1 : 0 });
  });

  it.each<[string, Record<string, unknown>, number]>([
    ['refuses a token without any of the route scopes with 403', { scope: 'openid email' }, 403],
    ['accepts a route scope in the space-separated scope claim', { scope: 'openid stint/api' }, 201],
    ['accepts a route scope in an scp list', { scp: ['stint/api'] }, 201],
  ])('%s', async (_name, claims, status) => {
    const result = await call(await sign({ claims }), '/scoped');
    expect(result).toEqual({ status, invoked: status === 201 ? 1 : 0 });
  });
});

describe('LocalApiGateway CORS, from the template as API Gateway applies it', () => {
  const PORTAL = 'https://d111111abcdef8.cloudfront.net';
  const CUSTOM = 'https://stint.example.com';
  // A made-up HTTP API whose CorsConfiguration names two portal origins, one through an intrinsic.
  const template = loadTemplate({
    Parameters: { PortalDomain: { Type: 'String', Default: 'd111111abcdef8.cloudfront.net' } },
    Resources: {
      Api: {
        Type: 'AWS::ApiGatewayV2::Api',
        Properties: {
          Name: 'cors-fixture',
          ProtocolType: 'HTTP',
          CorsConfiguration: {
            AllowOrigins: [{ 'Fn::Join': ['', ['https://', { Ref: 'PortalDomain' }]] }, CUSTOM],
            AllowHeaders: ['authorization', 'content-type', 'if-match', 'if-none-match'],
            ExposeHeaders: ['etag', 'location'],
            AllowMethods: ['GET', 'POST', 'PUT', 'DELETE'],
            MaxAge: 600,
            AllowCredentials: false,
          },
        },
      },
    },
  });
  const cors = corsFromTemplate(template);
  let url = '';
  let close: () => Promise<void>;
  const invoked: string[] = [];

  beforeAll(async () => {
    const gateway = new LocalApiGateway({
      routes: [route('GET /items/{id}', 'Items'), route('PUT /secure/{id}', 'Secure', true)],
      issuer: await createLocalIssuer({ issuer: 'http://local/_local', audience: 'stint-local' }),
      cors,
      invoke: async (fn) => {
        invoked.push(fn);
        // A backend that sets its own CORS headers: API Gateway ignores them when the API has a CORS configuration.
        return {
          statusCode: 200,
          headers: { etag: '"v3"', 'access-control-allow-origin': '*', 'access-control-allow-headers': 'x-evil' },
          body: '{}',
        };
      },
    });
    const server = createServer((req, res) => void gateway.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  });
  afterAll(() => close());

  const corsHeaders = (res: Response) =>
    Object.fromEntries([...res.headers].filter(([k]) => k.startsWith('access-control-')).sort());

  it('reads the CorsConfiguration of the template’s HTTP API, intrinsics resolved', () => {
    expect(cors).toEqual({
      allowOrigins: [PORTAL, CUSTOM],
      allowHeaders: ['authorization', 'content-type', 'if-match', 'if-none-match'],
      allowMethods: ['GET', 'POST', 'PUT', 'DELETE'],
      exposeHeaders: ['etag', 'location'],
      maxAge: 600,
      allowCredentials: false,
    });
    expect(corsFromTemplate(loadTemplate({ Resources: {} }))).toBeUndefined();
  });

  it('answers a preflight from an admitted origin itself, without the route, its authorizer or the Lambda', async () => {
    invoked.length = 0;
    const res = await fetch(`${url}/secure/1`, {
      method: 'OPTIONS',
      headers: {
        origin: PORTAL,
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'authorization,if-match',
      },
    });
    expect(res.status).toBe(204);
    expect(corsHeaders(res)).toEqual({
      'access-control-allow-headers': 'authorization,content-type,if-match,if-none-match',
      'access-control-allow-methods': 'GET,POST,PUT,DELETE',
      'access-control-allow-origin': PORTAL,
      'access-control-max-age': '600',
    });
    expect(invoked).toEqual([]);
  });

  it('answers a preflight from any other origin without CORS headers', async () => {
    invoked.length = 0;
    for (const origin of ['https://evil.example.com', 'https://stint.example.com.evil.example', 'null']) {
      const res = await fetch(`${url}/items/1`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'GET' },
      });
      expect([res.status, corsHeaders(res)], origin).toEqual([204, {}]);
    }
    expect(invoked).toEqual([]);
  });

  it("adds the origin and the exposed headers to an admitted origin's response, in place of the backend's", async () => {
    const res = await fetch(`${url}/items/1`, { headers: { origin: CUSTOM } });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe('"v3"');
    expect(corsHeaders(res)).toEqual({
      'access-control-allow-origin': CUSTOM,
      'access-control-expose-headers': 'etag,location',
    });
  });

  it('adds no CORS header for another origin or without Origin, and drops the backend’s', async () => {
    const variants: Record<string, string>[] = [{ origin: 'https://evil.example.com' }, {}];
    for (const headers of variants) {
      const res = await fetch(`${url}/items/1`, { headers });
      expect([res.status, corsHeaders(res)], JSON.stringify(headers)).toEqual([200, {}]);
    }
  });

  it("adds the CORS headers to the authorizer's 401, so the portal can read it", async () => {
    const res = await fetch(`${url}/secure/1`, { method: 'PUT', headers: { origin: PORTAL } });
    expect(res.status).toBe(401);
    expect(corsHeaders(res)).toMatchObject({ 'access-control-allow-origin': PORTAL });
  });

  it('routes an OPTIONS request that is not a preflight like any other request', async () => {
    const res = await fetch(`${url}/items/1`, { method: 'OPTIONS', headers: { origin: PORTAL } });
    expect(res.status).toBe(404);
    expect(corsHeaders(res)).toEqual({
      'access-control-allow-origin': PORTAL,
      'access-control-expose-headers': 'etag,location',
    });
  });

  it('matches origins exactly, or by a configured * wildcard', () => {
    const base = { allowHeaders: [], allowMethods: [], exposeHeaders: [], maxAge: undefined, allowCredentials: false };
    const exact = { ...base, allowOrigins: [CUSTOM] };
    expect(originAllowed(exact, CUSTOM)).toBe(true);
    expect(originAllowed(exact, 'https://STINT.example.com')).toBe(false);
    expect(originAllowed(exact, `${CUSTOM}:8443`)).toBe(false);
    expect(originAllowed(exact, 'http://stint.example.com')).toBe(false);
    const https = { ...base, allowOrigins: ['https://*'] };
    expect([originAllowed(https, CUSTOM), originAllowed(https, 'http://stint.example.com')]).toEqual([true, false]);
    expect(originAllowed({ ...base, allowOrigins: ['*'] }, 'http://anything.example')).toBe(true);
  });
});

describe('LocalApiGateway without a CORS configuration', () => {
  it('leaves preflights to the routes and the backend’s headers as they are', async () => {
    const gateway = new LocalApiGateway({
      routes: [route('GET /items/{id}', 'Items')],
      issuer: await createLocalIssuer({ issuer: 'http://local/_local', audience: 'stint-local' }),
      invoke: async () => ({ statusCode: 200, headers: { 'access-control-allow-origin': 'https://a.example' } }),
    });
    const request = { body: Buffer.alloc(0), protocol: 'HTTP/1.1', sourceIp: '127.0.0.1' };
    const preflight = await gateway.dispatch({
      ...request,
      method: 'OPTIONS',
      url: '/items/1',
      headers: { origin: 'https://a.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(404);
    const get = await gateway.dispatch({ ...request, method: 'GET', url: '/items/1', headers: {} });
    expect(get.headers['access-control-allow-origin']).toBe('https://a.example');
  });
});

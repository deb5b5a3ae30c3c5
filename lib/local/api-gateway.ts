import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  type JSONWebKeySet,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import * as z from 'zod';
import { PayloadTooLargeError, readBody } from './http.ts';
import { LOCAL_ACCOUNT, type LocalTemplate } from './template.ts';

/**
 * API Gateway HTTP API, locally: routes from the template's AWS::ApiGatewayV2::Route resources, matched and
 * prioritized as API Gateway does, turned into payload-format 2.0 events for the same handlers, with the JWT
 * authorizer enforced before the Lambda is called (401 `{"message":"Unauthorized"}` otherwise).
 *
 * Local mode: the template's authorizer issuer and audience (Cognito or the customer's IdP) are replaced by the
 * local issuer's, whose tokens `POST /_local/token` mints. Which routes need a JWT, and their scopes, come
 * from the template unchanged. So does the API's CORS configuration (`corsFromTemplate`), applied as API Gateway
 * applies it.
 */
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

type Segment = { kind: 'literal'; value: string } | { kind: 'param'; name: string } | { kind: 'greedy'; name: string };
export type ApiRoute = {
  routeKey: string;
  method: string;
  segments: Segment[] | undefined; // undefined: $default
  functionRef: string;
  jwt: { scopes: string[] } | undefined;
  /** The integration's TimeoutInMillis (API Gateway's default and maximum for HTTP APIs: 30 000). */
  timeoutMs?: number;
};

/** HTTP APIs wait at most 30 seconds for an integration (TimeoutInMillis, 50 to 30 000). */
export const MAX_INTEGRATION_TIMEOUT_MS = 30_000;

const RouteProps = z.object({
  RouteKey: z.string(),
  Target: z.string().optional(),
  AuthorizationType: z.string().optional(),
  AuthorizationScopes: z.array(z.string()).optional(),
});
const IntegrationProps = z.object({
  IntegrationUri: z.string(),
  PayloadFormatVersion: z.string().optional(),
  TimeoutInMillis: z.number().int().min(50).max(MAX_INTEGRATION_TIMEOUT_MS).optional(),
});

/** The HTTP API's CorsConfiguration (AWS::ApiGatewayV2::Api), as API Gateway reads it. */
export type CorsConfiguration = {
  allowOrigins: string[];
  allowHeaders: string[];
  allowMethods: string[];
  exposeHeaders: string[];
  maxAge: number | undefined;
  allowCredentials: boolean;
};

const ApiProps = z.object({ CorsConfiguration: z.unknown().optional() });
const CorsProps = z.object({
  AllowOrigins: z.array(z.string()).default([]),
  AllowHeaders: z.array(z.string()).default([]),
  AllowMethods: z.array(z.string()).default([]),
  ExposeHeaders: z.array(z.string()).default([]),
  MaxAge: z.number().int().min(-1).max(86_400).optional(),
  AllowCredentials: z.boolean().default(false),
});

/** The CORS configuration of the template's HTTP API, or undefined when it has none. */
export function corsFromTemplate(template: LocalTemplate): CorsConfiguration | undefined {
  const configured = template
    .ofType('AWS::ApiGatewayV2::Api')
    .map(([id, res]) => [id, ApiProps.parse(template.resolve(res.Properties)).CorsConfiguration] as const)
    .filter(([, cors]) => cors !== undefined);
  if (configured.length > 1) {
    throw new Error(`The local runtime serves one HTTP API; ${configured.map(([id]) => id).join(', ')} all set CORS`);
  }
  const [only] = configured;
  if (only === undefined) return undefined;
  const p = CorsProps.parse(only[1]);
  return {
    allowOrigins: p.AllowOrigins,
    allowHeaders: p.AllowHeaders.map((h) => h.toLowerCase()),
    allowMethods: p.AllowMethods.map((m) => m.toUpperCase()),
    exposeHeaders: p.ExposeHeaders.map((h) => h.toLowerCase()),
    maxAge: p.MaxAge,
    allowCredentials: p.AllowCredentials,
  };
}

/**
 * Whether an origin is admitted: equal to an entry of allowOrigins, or matched by one holding `*` wildcards
 * (`*` alone admits every origin; `https://*` every https origin).
 */
export function originAllowed(cors: CorsConfiguration, origin: string): boolean {
  return cors.allowOrigins.some((allowed) => {
    if (!allowed.includes('*')) return allowed === origin;
    const pattern = allowed
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    return new RegExp(`^${pattern}$`).test(origin);
  });
}

export function routesFromTemplate(template: LocalTemplate): ApiRoute[] {
  const routes: ApiRoute[] = [];
  for (const [id, res] of template.ofType('AWS::ApiGatewayV2::Route')) {
    const p = RouteProps.parse(template.resolve(res.Properties));
    const integrationId = p.Target?.replace(/^integrations\//, '');
    const integration = integrationId === undefined ? undefined : template.resources.get(integrationId);
    if (integration?.Type !== 'AWS::ApiGatewayV2::Integration') {
      throw new Error(`Route ${id} (${p.RouteKey}) has no Lambda integration the local runtime can find`);
    }
    const ip = IntegrationProps.parse(template.resolve(integration.Properties));
    if (ip.PayloadFormatVersion !== undefined && ip.PayloadFormatVersion !== '2.0') {
      throw new Error(`Route ${id}: payload format ${ip.PayloadFormatVersion} is not supported locally (2.0 only)`);
    }
    const functionRef = template.functionId(
      ip.IntegrationUri.replace(/^arn:aws:apigateway:[^:]*:lambda:path\/[^/]+\/functions\//, '').replace(
        /\/invocations$/,
        '',
      ),
    );
    if (functionRef === undefined)
      throw new Error(`Route ${id}: integration ${ip.IntegrationUri} is not a local function`);
    const [method = '', path = ''] = p.RouteKey === '$default' ? ['ANY'] : p.RouteKey.split(' ');
    routes.push({
      routeKey: p.RouteKey,
      method: method.toUpperCase(),
      segments: p.RouteKey === '$default' ? undefined : parsePath(path),
      functionRef,
      jwt: p.AuthorizationType === 'JWT' ? { scopes: p.AuthorizationScopes ?? [] } : undefined,
      timeoutMs: ip.TimeoutInMillis ?? MAX_INTEGRATION_TIMEOUT_MS,
    });
  }
  return routes;
}

function parsePath(path: string): Segment[] {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map((s): Segment => {
      const m = /^\{([^}+]+)(\+?)\}$/.exec(s);
      if (m === null) return { kind: 'literal', value: s };
      return m[2] === '+' ? { kind: 'greedy', name: m[1] ?? '' } : { kind: 'param', name: m[1] ?? '' };
    });
}

const RANK = { literal: 2, param: 1, greedy: 0 } as const;

/** The route API Gateway picks: the most specific path (literal > {param} > {greedy+}), then method over ANY. */
export function matchRoute(
  routes: readonly ApiRoute[],
  method: string,
  path: string,
): { route: ApiRoute; params: Record<string, string> } | undefined {
  const parts = path.split('/').filter((s) => s !== '');
  let best: { route: ApiRoute; params: Record<string, string>; score: number[] } | undefined;
  for (const route of routes) {
    if (route.segments === undefined) continue;
    if (route.method !== 'ANY' && route.method !== method) continue;
    const params = matchSegments(route.segments, parts);
    if (params === undefined) continue;
    const score = [...route.segments.map((s) => RANK[s.kind]), route.method === 'ANY' ? 0 : 1];
    if (best === undefined || compare(score, best.score) > 0) best = { route, params, score };
  }
  if (best !== undefined) return { route: best.route, params: best.params };
  const fallback = routes.find((r) => r.segments === undefined);
  return fallback === undefined ? undefined : { route: fallback, params: {} };
}

function matchSegments(segments: readonly Segment[], parts: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (const [i, s] of segments.entries()) {
    if (s.kind === 'greedy') {
      if (i >= parts.length) return undefined;
      params[s.name] = parts.slice(i).map(decode).join('/');
      return params;
    }
    const part = parts[i];
    if (part === undefined) return undefined;
    if (s.kind === 'literal' && s.value !== part) return undefined;
    if (s.kind === 'param') params[s.name] = decode(part);
  }
  return segments.length === parts.length ? params : undefined;
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? -1) - (b[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The RSA-based JWS algorithms ("currently, only RSA-based algorithms are supported"). */
const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];

/** The token's scopes: `scope` (space-separated, RFC 6749 section 3.3), else `scp` (a list or a space-separated string). */
function grantedScopes(payload: JWTPayload): string[] {
  const raw = typeof payload.scope === 'string' ? payload.scope : payload.scp;
  const list = typeof raw === 'string' ? raw.split(' ') : Array.isArray(raw) ? raw : [];
  return list.filter((s): s is string => typeof s === 'string' && s !== '');
}

/** API Gateway hands claims to the Lambda as strings; arrays become "[a b]". */
export function flattenClaims(payload: JWTPayload): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(payload)) {
    out[k] = Array.isArray(v)
      ? `[${v.map(String).join(' ')}]`
      : typeof v === 'object' && v !== null
        ? JSON.stringify(v)
        : String(v);
  }
  return out;
}

export type ApiGatewayOptions = {
  routes: readonly ApiRoute[];
  invoke: (functionRef: string, event: unknown) => Promise<unknown>;
  /** The local issuer that replaces the template's authorizer issuer/audience. */
  issuer: { issuer: string; audience: string; jwks: JSONWebKeySet };
  /** The API's CORS configuration (`corsFromTemplate`); undefined: no CORS, as an API without one. */
  cors?: CorsConfiguration | undefined;
  onError?: (message: string) => void;
};

const ProxyResult = z.object({
  statusCode: z.number().int().min(100).max(599),
  headers: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  cookies: z.array(z.string()).optional(),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().optional(),
});

const INTEGRATION_TIMED_OUT = Symbol('integration timed out');

export class LocalApiGateway {
  readonly #keys: ReturnType<typeof createLocalJWKSet>;

  constructor(private readonly options: ApiGatewayOptions) {
    this.#keys = createLocalJWKSet(options.issuer.jwks);
  }

  /** Serves one HTTP request: the body is read (10 MB at most) and the request dispatched. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const preflight = this.#preflight(method, req.headers);
    if (preflight !== undefined) return send(res, preflight);
    if (matchRoute(this.options.routes, method, new URL(req.url ?? '/', 'http://local').pathname) === undefined) {
      return send(res, this.#withCors(req.headers, jsonResponse(404, { message: 'Not Found' })));
    }
    let body: Buffer;
    try {
      body = await readBody(req, MAX_PAYLOAD_BYTES);
    } catch (err) {
      if (err instanceof PayloadTooLargeError)
        return send(res, this.#withCors(req.headers, jsonResponse(413, { message: 'Request Entity Too Large' })));
      throw err;
    }
    const response = await this.dispatch({
      method,
      url: req.url ?? '/',
      headers: req.headers,
      body,
      protocol: `HTTP/${req.httpVersion}`,
      sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
    });
    send(res, response);
  }

  /**
   * One request through the gateway, HTTP server or not: a CORS preflight answered by the gateway, else route
   * match, the JWT authorizer, the Lambda and the response mapping, with the CORS headers for an admitted origin.
   */
  async dispatch(request: GatewayRequest): Promise<GatewayResponse> {
    const preflight = this.#preflight(request.method.toUpperCase(), request.headers);
    if (preflight !== undefined) return preflight;
    return this.#withCors(request.headers, await this.#route(request));
  }

  /**
   * API Gateway with a CORS configuration answers a preflight itself, without a route or the authorizer: an
   * OPTIONS request carrying `Origin` and `Access-Control-Request-Method` ("Configure CORS for HTTP APIs in API
   * Gateway", https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html). An admitted origin
   * gets the allowed methods and headers and the max age; any other origin an answer without CORS headers, which
   * the browser treats as a refusal.
   */
  #preflight(method: string, headers: IncomingHttpHeaders): GatewayResponse | undefined {
    const cors = this.options.cors;
    const origin = headerValue(headers.origin);
    const requested = headerValue(headers['access-control-request-method']);
    if (cors === undefined || method !== 'OPTIONS' || origin === undefined || requested === undefined) return undefined;
    const response: GatewayResponse = { status: 204, headers: {}, body: Buffer.alloc(0) };
    if (!originAllowed(cors, origin)) return response;
    const requestedHeaders = headerValue(headers['access-control-request-headers']);
    response.headers = {
      'access-control-allow-origin': allowOriginValue(cors, origin),
      ...(cors.allowMethods.length > 0 ? { 'access-control-allow-methods': cors.allowMethods.join(',') } : {}),
      ...(cors.allowHeaders.includes('*') && requestedHeaders !== undefined
        ? { 'access-control-allow-headers': requestedHeaders.toLowerCase() }
        : cors.allowHeaders.length > 0
          ? { 'access-control-allow-headers': cors.allowHeaders.join(',') }
          : {}),
      ...(cors.maxAge === undefined ? {} : { 'access-control-max-age': String(cors.maxAge) }),
      ...(cors.allowCredentials ? { 'access-control-allow-credentials': 'true' } : {}),
    };
    return response;
  }

  /**
   * With a CORS configuration, API Gateway ignores CORS headers from the integration and adds its own to a request
   * from an admitted origin: the origin, the exposed headers, and credentials when allowed.
   */
  #withCors(headers: IncomingHttpHeaders, response: GatewayResponse): GatewayResponse {
    const cors = this.options.cors;
    if (cors === undefined) return response;
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(response.headers)) if (!k.startsWith('access-control-')) out[k] = v;
    const origin = headerValue(headers.origin);
    if (origin !== undefined && originAllowed(cors, origin)) {
      out['access-control-allow-origin'] = allowOriginValue(cors, origin);
      if (cors.exposeHeaders.length > 0) out['access-control-expose-headers'] = cors.exposeHeaders.join(',');
      if (cors.allowCredentials) out['access-control-allow-credentials'] = 'true';
    }
    return { ...response, headers: out };
  }

  async #route(request: GatewayRequest): Promise<GatewayResponse> {
    const url = new URL(request.url, 'http://local');
    const matched = matchRoute(this.options.routes, request.method.toUpperCase(), url.pathname);
    if (matched === undefined) return jsonResponse(404, { message: 'Not Found' });
    const { route, params } = matched;
    let authorizer: { jwt: { claims: Record<string, string>; scopes: string[] | null } } | undefined;
    if (route.jwt !== undefined) {
      const verified = await this.#verify(headerValue(request.headers.authorization));
      if (verified === undefined) {
        return jsonResponse(401, { message: 'Unauthorized' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
      }
      const granted = grantedScopes(verified);
      if (route.jwt.scopes.length > 0 && !route.jwt.scopes.some((s) => granted.includes(s))) {
        return jsonResponse(403, { message: 'Forbidden' });
      }
      authorizer = { jwt: { claims: flattenClaims(verified), scopes: route.jwt.scopes.length > 0 ? granted : null } };
    }
    const event = this.#event(request, url, route, params, authorizer);
    // A function error (a handler that throws, or one that runs past its Lambda timeout) is a 500; an integration
    // that has not answered within the route's integration timeout is a 503, as API Gateway answers.
    let result: unknown;
    let timer: NodeJS.Timeout | undefined;
    try {
      const invocation = this.options.invoke(route.functionRef, event);
      const integrationTimeout = new Promise<typeof INTEGRATION_TIMED_OUT>((resolve) => {
        timer = setTimeout(() => {
          invocation.catch(() => undefined); // its late outcome is discarded
          resolve(INTEGRATION_TIMED_OUT);
        }, route.timeoutMs ?? MAX_INTEGRATION_TIMEOUT_MS);
      });
      result = await Promise.race([invocation, integrationTimeout]);
    } catch (err) {
      this.options.onError?.(
        `${route.routeKey} (${route.functionRef}) failed: ${err instanceof Error ? err.name : 'error'}`,
      );
      return jsonResponse(500, { message: 'Internal Server Error' });
    } finally {
      clearTimeout(timer);
    }
    if (result === INTEGRATION_TIMED_OUT) {
      this.options.onError?.(`${route.routeKey} (${route.functionRef}): integration timed out`);
      return jsonResponse(503, { message: 'Service Unavailable' });
    }
    return this.#respond(route, result);
  }

  /**
   * API Gateway's HTTP API JWT authorizer, step by step as documented in "Control access to HTTP APIs with JWT
   * authorizers in API Gateway" (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html):
   * the token comes alone or after `Bearer `; its algorithm must be RSA-based and its signature valid under the
   * issuer's key that the `kid` header names; `iss` must equal the issuer; `aud` must match an audience, and only
   * when there is no `aud`, `client_id` must; `exp` must be after the current time, `nbf` and `iat` before it
   * (`scope`/`scp` against the route's scopes is checked by the caller). Where the page is silent: a token without
   * `exp` is refused (it has no time to be after), one without `nbf` or `iat` is accepted (Amazon Cognito access
   * tokens carry no `nbf`), and no clock skew is allowed.
   */
  async #verify(header: string | undefined): Promise<JWTPayload | undefined> {
    if (header === undefined || header.trim() === '') return undefined;
    const token = header.replace(/^Bearer\s+/i, '').trim();
    let protectedHeader: ReturnType<typeof decodeProtectedHeader>;
    try {
      protectedHeader = decodeProtectedHeader(token);
    } catch {
      return undefined; // not a JWS
    }
    const { kid, alg } = protectedHeader;
    if (typeof kid !== 'string' || kid === '' || alg === undefined || !RSA_ALGORITHMS.includes(alg)) return undefined;
    try {
      const { payload } = await jwtVerify(token, this.#keys, {
        algorithms: RSA_ALGORITHMS,
        issuer: this.options.issuer.issuer,
        requiredClaims: ['exp'],
      });
      const audience = this.options.issuer.audience;
      const audienceOk =
        payload.aud !== undefined
          ? [payload.aud].flat().includes(audience)
          : typeof payload.client_id === 'string' && payload.client_id === audience;
      if (!audienceOk) return undefined;
      if (typeof payload.iat === 'number' && payload.iat > Math.floor(Date.now() / 1000)) return undefined;
      return payload;
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) return undefined;
      throw err;
    }
  }

  #event(
    request: GatewayRequest,
    url: URL,
    route: ApiRoute,
    params: Record<string, string>,
    authorizer: { jwt: { claims: Record<string, string>; scopes: string[] | null } } | undefined,
  ) {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(request.headers)) {
      if (v === undefined || k === 'cookie') continue;
      headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
    }
    const cookies = (headerValue(request.headers.cookie) ?? '')
      .split(';')
      .map((c) => c.trim())
      .filter((c) => c !== '');
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
    const rawQueryString = url.search.replace(/^\?/, '');
    const now = new Date();
    const requestId = randomUUID();
    const host = headers.host ?? 'localhost';
    return {
      version: '2.0',
      routeKey: route.routeKey,
      rawPath: url.pathname,
      rawQueryString,
      ...(cookies.length > 0 ? { cookies } : {}),
      headers,
      ...(rawQueryString !== '' ? { queryStringParameters: query } : {}),
      requestContext: {
        accountId: LOCAL_ACCOUNT,
        apiId: 'local',
        ...(authorizer ? { authorizer } : {}),
        domainName: host,
        domainPrefix: host.split('.')[0] ?? host,
        http: {
          method: request.method.toUpperCase(),
          path: url.pathname,
          protocol: request.protocol,
          sourceIp: request.sourceIp,
          userAgent: headers['user-agent'] ?? '',
        },
        requestId,
        routeKey: route.routeKey,
        stage: '$default',
        time: now.toUTCString(),
        timeEpoch: now.getTime(),
      },
      ...(request.body.length > 0 ? { body: request.body.toString('utf8') } : {}),
      ...(Object.keys(params).length > 0 ? { pathParameters: params } : {}),
      isBase64Encoded: false,
    };
  }

  /** Payload format 2.0 response mapping; a result without statusCode is a 200 JSON body. */
  #respond(route: ApiRoute, result: unknown): GatewayResponse {
    const structured = typeof result === 'object' && result !== null && 'statusCode' in result;
    if (!structured) return jsonResponse(200, result ?? null);
    const parsed = ProxyResult.safeParse(result);
    if (!parsed.success) {
      this.options.onError?.(`${route.routeKey}: malformed Lambda proxy response`);
      return jsonResponse(500, { message: 'Internal Server Error' });
    }
    const r = parsed.data;
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = String(v);
    if (r.cookies?.length) headers['set-cookie'] = r.cookies;
    const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body, r.isBase64Encoded ? 'base64' : 'utf8');
    return { status: r.statusCode, headers, body };
  }
}

/** A request as the gateway sees it (from its HTTP server, or in-process). */
export type GatewayRequest = {
  method: string;
  /** Path and query string. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  protocol: string;
  sourceIp: string;
};
export type GatewayResponse = { status: number; headers: Record<string, string | string[]>; body: Buffer };

/** `*` when every origin is admitted (and credentials are not), else the request's own origin. */
function allowOriginValue(cors: CorsConfiguration, origin: string): string {
  return cors.allowOrigins.includes('*') && !cors.allowCredentials ? '*' : origin;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): GatewayResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(JSON.stringify(body)),
  };
}

function send(res: ServerResponse, response: GatewayResponse): void {
  for (const [k, v] of Object.entries(response.headers)) res.setHeader(k, v);
  res.setHeader('content-length', response.body.length);
  res.writeHead(response.status);
  res.end(response.body);
}

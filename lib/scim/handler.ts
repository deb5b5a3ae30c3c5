import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type * as z from 'zod';
import { config } from '#lib/config.ts';
import { DomainError } from '#lib/domain/errors.ts';
import { Line } from '#lib/domain/text.ts';
import { assertWellFormed } from '#lib/domain/well-formed.ts';
import { MAX_BODY_BYTES } from '#lib/http/chain.ts';
import { logger } from '#lib/observability/logger.ts';
import { resolveSecret } from '#lib/secrets/resolve.ts';
import { verifyBearer } from './auth.ts';
import { SCIM_CONTENT_TYPE, ScimError, scimErrorFrom, scimErrorResponse } from './errors.ts';
import type { ScimType } from './schemas.ts';
import type { ScimResult } from './service.ts';

export type ScimRequest = {
  /** `GET /scim/v2/Users/{id}` …: which route of this function was called. */
  routeKey: string;
  params: Record<string, string>;
  query: Record<string, string>;
  /** Base URL of the SCIM API (`https://<host>/scim/v2`), for `meta.location`. */
  base: string;
  correlationId: string;
  /** Parses the JSON body with `schema`; a body that is not JSON is `invalidSyntax`, a schema failure `scimType`. */
  body<T extends z.ZodType>(schema: T, scimType?: ScimType): z.output<T>;
  /** Parses the query string with `schema`; a failure is a SCIM 400 `invalidValue` naming the parameter. */
  queryAs<T extends z.ZodType>(schema: T): z.output<T>;
};

/** `schema.parse` whose failure is a SCIM 400 naming the first offending path (under `prefix`). */
function parseOrRefuse<T extends z.ZodType>(schema: T, value: unknown, scimType: ScimType, prefix = ''): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = [prefix, ...(issue?.path.map(String) ?? [])].filter((p) => p !== '').join('.') || '(body)';
  throw new ScimError(400, `${path}: ${issue?.message ?? 'invalid'}`, scimType);
}

export type ScimHandlerOptions = {
  /** Where the expected bearer token comes from; default: the secret named by STINT_SCIM_TOKEN_REF. */
  token?: () => Promise<string>;
};

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const headers = event.headers ?? {};
  return headers[name] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
}

function bodyOf(event: APIGatewayProxyEventV2): unknown {
  if (event.body === undefined || event.body === null || event.body.trim() === '')
    throw new ScimError(400, 'a request body is required', 'invalidSyntax');
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES)
    throw new ScimError(413, `the request body exceeds ${MAX_BODY_BYTES} bytes`);
  const contentType = header(event, 'content-type') ?? SCIM_CONTENT_TYPE;
  if (!/^application\/(scim\+)?json\b/i.test(contentType))
    throw new ScimError(415, `Content-Type must be ${SCIM_CONTENT_TYPE}, got ${contentType}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new ScimError(400, 'the request body is not valid JSON', 'invalidSyntax');
  }
}

/** A resource id in the path: what the directory's ids can be (a subject, up to 256 characters, single-line). */
const PathId = Line.min(1).max(256);

function pathParams(event: APIGatewayProxyEventV2): Record<string, string> {
  assertWellFormed(event.pathParameters ?? {}, 'path');
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.pathParameters ?? {})) {
    if (value === undefined) continue;
    const parsed = PathId.safeParse(value);
    if (!parsed.success)
      throw new ScimError(400, `path.${name}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 'invalidValue');
    params[name] = parsed.data;
  }
  return params;
}

function baseUrl(event: APIGatewayProxyEventV2): string {
  const host = header(event, 'host') ?? event.requestContext.domainName;
  const proto = header(event, 'x-forwarded-proto') ?? (config().local ? 'http' : 'https');
  return `${proto}://${host}/scim/v2`;
}

/**
 * The SCIM twin of lib/http/handler.ts: the route has no JWT authorizer, so the bearer token is verified here first;
 * then body/query parsing (any string that is not well-formed Unicode refused, naming its path) and errors as
 * RFC 7644 §3.12 SCIM error messages, every response `application/scim+json`.
 */
export function scimHandler(fn: (request: ScimRequest) => Promise<ScimResult>, options: ScimHandlerOptions = {}) {
  const token = options.token ?? (() => resolveSecret(config().scimTokenRef));
  const base = async (event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> => {
    const correlationId = event.requestContext?.requestId ?? context.awsRequestId;
    try {
      verifyBearer(header(event, 'authorization'), await token());
      // Every string of the request must be well-formed Unicode (lib/domain/text.ts): a 400 naming its path.
      const params = pathParams(event);
      assertWellFormed(event.queryStringParameters ?? {}, 'query');
      let parsed: unknown;
      const request: ScimRequest = {
        routeKey: event.routeKey,
        params,
        query: Object.fromEntries(
          Object.entries(event.queryStringParameters ?? {}).flatMap(([k, v]) => (v === undefined ? [] : [[k, v]])),
        ),
        base: baseUrl(event),
        correlationId,
        body(schema, scimType = 'invalidValue') {
          parsed ??= bodyOf(event);
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
            throw new ScimError(400, 'the request body must be a JSON object', 'invalidSyntax');
          assertWellFormed(parsed, '');
          return parseOrRefuse(schema, parsed, scimType);
        },
        queryAs(schema) {
          return parseOrRefuse(schema, request.query, 'invalidValue', 'query');
        },
      };
      const out = await fn(request);
      return {
        statusCode: out.status,
        headers: { 'content-type': SCIM_CONTENT_TYPE, 'cache-control': 'no-store', ...out.headers },
        body: out.body === undefined ? '' : JSON.stringify(out.body),
      };
    } catch (error) {
      const scim = error instanceof ScimError ? error : error instanceof DomainError ? scimErrorFrom(error) : undefined;
      if (scim !== undefined) {
        logger.info('SCIM request refused', { status: scim.status, scimType: scim.scimType, correlationId });
        return scimErrorResponse(scim);
      }
      logger.error('unhandled error', { correlationId, error: error instanceof Error ? error : String(error) });
      return scimErrorResponse(
        new ScimError(500, `An unexpected error occurred. Quote correlation id ${correlationId} when reporting it.`),
      );
    }
  };
  return middy(base, { timeoutEarlyInMillis: 0 }).use(injectLambdaContext(logger, { resetKeys: true }));
}

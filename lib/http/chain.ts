import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type * as z from 'zod';
import { DomainError, PayloadTooLargeError, ValidationError } from '#lib/domain/errors.ts';
import type { Identity } from '#lib/domain/identity.ts';
import { assertWellFormed } from '#lib/domain/well-formed.ts';
import { logger } from '#lib/observability/logger.ts';
import type { Key } from '#lib/store/keys.ts';
import { withReadAhead } from '#lib/store/read-ahead.ts';
import { type ApiChannel, apiChannelOf } from './channel.ts';
import {
  internalProblem,
  problemFromDomainError,
  problemResponse,
  requestFieldOf,
  validationErrorFrom,
} from './problem.ts';

/** Bodies above this are refused before parsing (API contract: 64 KiB). */
export const MAX_BODY_BYTES = 64 * 1024;

export class UnsupportedMediaTypeError extends DomainError {
  readonly status = 415;
  readonly type = 'unsupported-media-type';
}

export type Schemas = {
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
  /** Default true; false only for public routes (health, openapi). */
  auth?: boolean;
};

type Infer<S, K extends keyof S> = S[K] extends z.ZodType ? z.output<S[K]> : undefined;

export type HttpInput<S extends Schemas> = {
  body: Infer<S, 'body'>;
  query: Infer<S, 'query'>;
  params: Infer<S, 'params'>;
  identity: S['auth'] extends false ? undefined : Identity;
  /** The channel a write is recorded under (lib/http/schemas.ts apiChannelOf: `X-Stint-Channel`, default `api`). */
  channel: ApiChannel;
  correlationId: string;
  event: APIGatewayProxyEventV2WithJWTAuthorizer;
};

export type HttpOutput = { status: number; body?: unknown; headers?: Record<string, string> };

function rawBody(event: APIGatewayProxyEventV2WithJWTAuthorizer): string | undefined {
  if (event.body === undefined || event.body === null) return undefined;
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(`The request body exceeds ${MAX_BODY_BYTES} bytes`, 'body');
  }
  return text;
}

function parseJsonBody(event: APIGatewayProxyEventV2WithJWTAuthorizer): unknown {
  const text = rawBody(event);
  if (text === undefined || text.trim() === '') return {};
  const contentType = event.headers?.['content-type'] ?? event.headers?.['Content-Type'] ?? 'application/json';
  if (!/^application\/([a-z.+-]+\+)?json\b/i.test(contentType)) {
    throw new UnsupportedMediaTypeError(`Content-Type must be application/json, got ${contentType}`, 'content-type');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError('The request body is not valid JSON', 'body');
  }
}

function validate<T extends z.ZodType>(schema: T, value: unknown, prefix: string): z.output<T> {
  assertWellFormed(value, prefix);
  const result = schema.safeParse(value);
  if (!result.success) throw validationErrorFrom(result.error, prefix);
  return result.data;
}

/**
 * Who the caller of a route is (lib/http/identity.ts for authenticated routes). `readAhead`: the items the route reads
 * first, read together with the caller's directory entry (lib/store/read-ahead.ts).
 */
export type CallerOf = (event: APIGatewayProxyEventV2WithJWTAuthorizer, readAhead: readonly Key[]) => Promise<Identity>;

/** What a route's input is before the caller is known: what `readAhead` names the route's first items from. */
export type ParsedInput<S extends Schemas> = Pick<HttpInput<S>, 'body' | 'query' | 'params'>;

export type ChainOptions<S extends Schemas> = {
  /**
   * The items the handler reads first, by key (the request it acts on, the flow it creates under), from the validated
   * input: read in one BatchGetItem with the caller's directory entry, so resolving the caller costs no call of its own.
   * Only items the handler reads before it writes them (lib/store/read-ahead.ts).
   */
  readAhead?: (input: ParsedInput<S>) => readonly Key[];
};

/**
 * The one middy chain every API function shares: logger context, body size limit, JSON parsing, a refusal of
 * any string that is not well-formed Unicode (naming its path), zod validation of body/query/path, the caller's
 * identity (`caller`, absent on public routes), and errors mapped to RFC 9457 problem+json in one place. A handler
 * only parses, calls lib/ and maps the result. Functions use it through httpHandler (lib/http/handler.ts) or, on a
 * public route, publicHttpHandler (lib/http/public.ts), which leaves token verification and the directory out of
 * the function's bundle.
 */
export function httpChain<S extends Schemas>(
  schemas: S,
  fn: (input: HttpInput<S>) => Promise<HttpOutput>,
  caller: CallerOf | undefined,
  options: ChainOptions<S> = {},
) {
  // The body's top-level fields, read structurally (a z.object has a `shape`): no runtime zod on public routes.
  const shape: unknown = schemas.body !== undefined && 'shape' in schemas.body ? schemas.body.shape : undefined;
  const fieldOf = requestFieldOf(new Set(typeof shape === 'object' && shape !== null ? Object.keys(shape) : []));
  const base = async (
    event: APIGatewayProxyEventV2WithJWTAuthorizer,
    context: Context,
  ): Promise<APIGatewayProxyStructuredResultV2> => {
    const correlationId = event.requestContext?.requestId ?? context.awsRequestId;
    const instance = event.rawPath;
    try {
      if (schemas.body === undefined) rawBody(event);
      // Every string of the request, read by the route or not, must be well-formed Unicode (lib/domain/text.ts).
      assertWellFormed(event.pathParameters ?? {}, 'path');
      assertWellFormed(event.queryStringParameters ?? {}, 'query');
      const parsed = {
        body: schemas.body === undefined ? undefined : validate(schemas.body, parseJsonBody(event), 'body'),
        query:
          schemas.query === undefined ? undefined : validate(schemas.query, event.queryStringParameters ?? {}, 'query'),
        params: schemas.params === undefined ? undefined : validate(schemas.params, event.pathParameters ?? {}, 'path'),
      } as ParsedInput<S>;
      const ahead = options.readAhead?.(parsed) ?? [];
      const input = {
        ...parsed,
        identity: caller === undefined ? undefined : await caller(event, ahead),
        channel: apiChannelOf(event.headers),
        correlationId,
        event,
      } as HttpInput<S>;
      const out = await fn(input);
      return {
        statusCode: out.status,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...out.headers },
        body: out.body === undefined ? '' : JSON.stringify(out.body),
      };
    } catch (error) {
      if (error instanceof DomainError) {
        logger.info('request refused', { status: error.status, type: error.type, field: error.field, correlationId });
        return problemResponse(problemFromDomainError(error, correlationId, instance, fieldOf));
      }
      logger.error('unhandled error', { correlationId, error: error instanceof Error ? error : String(error) });
      return problemResponse(internalProblem(correlationId));
    }
  };
  // Each invocation reads ahead into a scope of its own (lib/store/read-ahead.ts), dropped when it returns.
  const scoped =
    options.readAhead === undefined
      ? base
      : (event: APIGatewayProxyEventV2WithJWTAuthorizer, context: Context) => withReadAhead(() => base(event, context));
  const chain = middy(scoped, { timeoutEarlyInMillis: 0 }).use(injectLambdaContext(logger, { resetKeys: true }));
  // The schemas it validates with, so GET /openapi.json can be checked against what each function really accepts.
  return Object.assign(chain, { schemas });
}

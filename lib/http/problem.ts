import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type * as z from 'zod';
import { type CurrentVersion, type DomainError, PreconditionFailedError, ValidationError } from '#lib/domain/errors.ts';

/** RFC 9457 problem details. `field` and `errors` are extension members naming what was wrong. */
export type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  field?: string;
  errors?: { field: string; message: string }[];
  /** 412 only: where the item stands now (its version and who last changed it, when and through which channel). */
  current?: CurrentVersion;
  correlationId: string;
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export const PROBLEM_BASE = 'https://stint.dev/problems/';

export function problemResponse(problem: Problem): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: problem.status,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store' },
    body: JSON.stringify(problem),
  };
}

/**
 * A domain error as the caller sees it; the message is written for them, so it is safe to show. `fieldOf` turns the
 * error's field names into the request's own paths (lib/http/chain.ts: `durationMinutes` → `body.durationMinutes`).
 */
export function problemFromDomainError(
  error: DomainError,
  correlationId: string,
  instance?: string,
  fieldOf: (field: string) => string = (field) => field,
): Problem {
  const errors =
    error instanceof ValidationError && error.issues.length > 0
      ? { errors: error.issues.map((i) => ({ field: fieldOf(i.path), message: i.message })) }
      : {};
  return {
    type: `${PROBLEM_BASE}${error.type}`,
    title: TITLES[error.status] ?? 'Error',
    status: error.status,
    detail: error.message,
    ...(instance === undefined ? {} : { instance }),
    ...(error.field === undefined ? {} : { field: fieldOf(error.field) }),
    ...errors,
    ...(error instanceof PreconditionFailedError && error.current !== undefined ? { current: error.current } : {}),
    correlationId,
  };
}

/** Anything unexpected: no detail leaks; the correlation id finds the log line. */
export function internalProblem(correlationId: string): Problem {
  return {
    type: `${PROBLEM_BASE}internal-error`,
    title: TITLES[500] ?? 'Internal Server Error',
    status: 500,
    detail: `An unexpected error occurred. Quote correlation id ${correlationId} when reporting it.`,
    correlationId,
  };
}

function pathOf(path: readonly PropertyKey[], prefix: string): string {
  return [prefix, ...path.map(String)].filter((p) => p !== '').join('.');
}

/** zod issues → one ValidationError naming the first offending field and listing all of them. */
export function validationErrorFrom(error: z.ZodError, prefix: string): ValidationError {
  const issues = error.issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const path = pathOf(keys.length === 1 ? [...issue.path, keys[0] ?? ''] : issue.path, prefix);
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown field${keys.length > 1 ? 's' : ''}: ${keys.join(', ')}`
        : issue.message;
    return { path: path === '' ? prefix : path, message };
  });
  const first = issues[0] ?? { path: prefix, message: 'invalid' };
  return new ValidationError(`${first.path}: ${first.message}`, first.path, issues);
}

/**
 * A field as a path into the request: `body.<path>`, `query.<name>`, `path.<name>` or a header name, with array
 * indices as dot segments (`body.targets.0.resource`), so a form can put the message next to its input. A field a
 * domain rule names by the body's own keys (`durationMinutes`, `targets.0.resource`) gets the `body.` prefix when
 * its first segment is a key of the route's body; anything else (`id`, `if-match`, `authorization`) is kept.
 */
export function requestFieldOf(bodyKeys: ReadonlySet<string>): (field: string) => string {
  return (field) => {
    const dotted = field.replace(/\[(\d+)\]/g, '.$1');
    if (/^(body|query|path)(\.|$)/.test(dotted)) return dotted;
    const first = dotted.split('.')[0] ?? '';
    return bodyKeys.has(first) ? `body.${dotted}` : field;
  };
}

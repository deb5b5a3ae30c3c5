import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { UniquenessError } from '#lib/directory/store.ts';
import { ConflictError, type DomainError, ValidationError } from '#lib/domain/errors.ts';
import { VersionConflictError } from '#lib/store/store.ts';
import { type ScimType, URN } from './schemas.ts';

/** A SCIM protocol error (RFC 7644 §3.12): an HTTP status and, for 400/409, a `scimType`. */
export class ScimError extends Error {
  override readonly name = 'ScimError';
  constructor(
    readonly status: number,
    message: string,
    readonly scimType?: ScimType,
  ) {
    super(message);
  }
}

export const SCIM_CONTENT_TYPE = 'application/scim+json';

export function scimErrorResponse(error: ScimError): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: error.status,
    headers: {
      'content-type': SCIM_CONTENT_TYPE,
      'cache-control': 'no-store',
      ...(error.status === 401 ? { 'www-authenticate': 'Bearer realm="stint-scim"' } : {}),
    },
    body: JSON.stringify({
      schemas: [URN.error],
      status: String(error.status),
      ...(error.scimType === undefined ? {} : { scimType: error.scimType }),
      detail: error.message,
    }),
  };
}

/** Domain errors from the directory as SCIM errors: messages are written for callers, so they are safe to show. */
export function scimErrorFrom(error: DomainError): ScimError {
  if (error instanceof UniquenessError) return new ScimError(409, error.message, 'uniqueness');
  if (error instanceof VersionConflictError) return new ScimError(412, error.message);
  if (error instanceof ConflictError) return new ScimError(409, error.message);
  if (error instanceof ValidationError) return new ScimError(400, error.message, 'invalidValue');
  return new ScimError(error.status, error.message);
}

import { createHash, timingSafeEqual } from 'node:crypto';
import { ScimError } from './errors.ts';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Checks `Authorization: Bearer <token>` against the configured SCIM token. Both sides are hashed first, so the
 * comparison is constant-time whatever the lengths (crypto.timingSafeEqual needs equal-length inputs).
 * Missing, malformed or wrong → 401 (RFC 7644 §3.12); the token itself is never logged or echoed.
 */
export function verifyBearer(header: string | undefined, expected: string): void {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const given = match?.[1];
  if (given === undefined) throw new ScimError(401, 'a bearer token is required');
  if (expected === '' || !timingSafeEqual(digest(given), digest(expected)))
    throw new ScimError(401, 'the bearer token is not valid');
}

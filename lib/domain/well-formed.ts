import { ValidationError } from './errors.ts';

/**
 * Strings at Stint's edges (API bodies, path ids, query strings, token claims, SCIM, chat webhooks) must be
 * well-formed Unicode: a lone UTF-16 surrogate (`"\ud800"`, valid as a JSON escape) cannot be encoded as UTF-8, so
 * it breaks `encodeURIComponent`, DynamoDB keys, log lines and every target it would reach. This module (free of zod, so
 * the public HTTP chain carries none) is the one predicate for that, a walk over a parsed JSON value that
 * names the first offending field, so no field of a body can be forgotten.
 */

/** True when `s` holds no lone surrogate (String.prototype.isWellFormed). */
export function isWellFormed(s: string): boolean {
  return s.isWellFormed();
}

/** Whether `s` holds a C0 control (U+0000–U+001F), DEL or a C1 control (U+0080–U+009F); tab, LF, CR optionally allowed. */
export function hasControlCharacters(s: string, options: { allowWhitespace: boolean }): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20) {
      if (!(options.allowWhitespace && (c === 0x09 || c === 0x0a || c === 0x0d))) return true;
    } else if (c >= 0x7f && c <= 0x9f) return true;
  }
  return false;
}

export const NOT_WELL_FORMED = 'must be well-formed Unicode (a lone UTF-16 surrogate is not)';

/**
 * The path (`<prefix>.emails.0`) of the first string in a parsed JSON value, object keys included, that is not
 * well-formed; undefined when there is none. Key-wise the path names the key itself.
 */
export function malformedPath(value: unknown, prefix: string): string | undefined {
  const at = (step: string | number) => (prefix === '' ? String(step) : `${prefix}.${step}`);
  if (typeof value === 'string') return isWellFormed(value) ? undefined : prefix;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = malformedPath(value[i], at(i));
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      // A malformed key is named with its lone surrogates replaced (U+FFFD), so the answer itself stays well-formed.
      if (!isWellFormed(key)) return at(key.toWellFormed());
      const found = malformedPath(inner, at(key));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** Refuses a parsed value holding a string that is not well-formed: a 400 ValidationError naming its path. */
export function assertWellFormed(value: unknown, prefix: string): void {
  const path = malformedPath(value, prefix);
  if (path === undefined) return;
  const field = path === '' ? prefix : path;
  throw new ValidationError(`${field}: ${NOT_WELL_FORMED}`, field, [{ path: field, message: NOT_WELL_FORMED }]);
}

import { isWellFormed } from '#lib/domain/well-formed.ts';
import { ScimError } from './errors.ts';
import type { ScimType } from './schemas.ts';

/**
 * The filters provisioning clients send (RFC 7644 §3.4.2.2): `<attribute> eq "<value>"`, one comparison. Okta
 * checks `userName eq "…"` before creating a user; Entra ID matches on `userName`/`externalId` and, for groups,
 * `displayName`. Each supported attribute is a key lookup in the directory; anything else is `invalidFilter`.
 */
export type EqFilter = { attribute: string; value: string };

const EQ = /^\s*([A-Za-z][\w.:-]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i;

export function parseEqFilter(filter: string, supported: readonly string[]): EqFilter {
  const match = EQ.exec(filter);
  if (match === null)
    throw new ScimError(400, 'only filters of the form `attribute eq "value"` are supported', 'invalidFilter');
  const [, rawAttribute = '', rawValue = ''] = match;
  const attribute = supported.find((a) => a.toLowerCase() === rawAttribute.toLowerCase());
  if (attribute === undefined)
    throw new ScimError(
      400,
      `filtering on ${rawAttribute} is not supported (use ${supported.join(', ')})`,
      'invalidFilter',
    );
  return { attribute, value: scimStringValue(rawValue, 'invalidFilter') };
}

/**
 * The value of a quoted SCIM string literal (`"…"`, JSON escapes): refused with `scimType` when it is not a valid
 * string or decodes to one that is not well-formed Unicode (`\ud800` is a valid escape of a lone surrogate).
 */
export function scimStringValue(quotedContent: string, scimType: ScimType): string {
  let value: unknown;
  try {
    value = JSON.parse(`"${quotedContent}"`);
  } catch {
    throw new ScimError(400, 'the filter value is not a valid string', scimType);
  }
  if (typeof value !== 'string' || !isWellFormed(value))
    throw new ScimError(400, 'the filter value must be well-formed Unicode (a lone UTF-16 surrogate is not)', scimType);
  return value;
}

import { ScimError } from './errors.ts';

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
  let value: string;
  try {
    value = JSON.parse(`"${rawValue}"`);
  } catch {
    throw new ScimError(400, 'the filter value is not a valid string', 'invalidFilter');
  }
  return { attribute, value };
}

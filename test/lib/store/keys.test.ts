import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pointerKey } from '#lib/directory/keys.ts';
import { keyPart, leaseKey } from '#lib/store/keys.ts';

/** Any UTF-16 code unit, lone surrogates included: strings that no validation has seen yet. */
const codeUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });

describe('key builders', () => {
  it('keep the keys of well-formed input byte-identical to the URI encoding already in tables', () => {
    // Pinned values: items written before keyPart existed carry exactly these keys.
    expect(
      leaseKey('alice@example.com', { integrationId: 'pg', resource: 'app db#1', permission: 'readonly' }),
    ).toEqual({ pk: 'LEASE#alice%40example.com#pg#app%20db%231#readonly', sk: 'LEASE' });
    expect(pointerKey('username', 'Zoë#Ünïcode@Example.com')).toEqual({
      pk: 'DPTR#username#zo%C3%AB%23%C3%BCn%C3%AFcode%40example.com',
      sk: 'PTR',
    });
    expect(pointerKey('groupname', 'DBAs 🛠 / ops')).toEqual({
      pk: 'DPTR#groupname#DBAs%20%F0%9F%9B%A0%20%2F%20ops',
      sk: 'PTR',
    });
    fc.assert(
      fc.property(codeUnits, (s) => {
        fc.pre(s.isWellFormed());
        expect(keyPart(s)).toBe(encodeURIComponent(s));
      }),
      { numRuns: 500 },
    );
  });

  it('never throw, whatever the string (encodeURIComponent throws URIError on a lone surrogate)', () => {
    expect(() => encodeURIComponent('\ud800')).toThrow(URIError);
    expect(pointerKey('username', 'a\ud800b').pk).toBe('DPTR#username#a%EF%BF%BDb');
    expect(leaseKey('\udc00', { integrationId: 'pg', resource: 'app', permission: 'readonly' }).pk).toBe(
      'LEASE#%EF%BF%BD#pg#app#readonly',
    );
    fc.assert(
      fc.property(codeUnits, codeUnits, (grantee, resource) => {
        const key = leaseKey(grantee, { integrationId: 'pg', resource, permission: 'readonly' });
        expect(key.pk.isWellFormed()).toBe(true);
        expect(pointerKey('email', grantee).pk.startsWith('DPTR#email#')).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

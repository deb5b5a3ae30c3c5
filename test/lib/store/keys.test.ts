import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pointerKey } from '#lib/directory/keys.ts';
import { keyPart, leaseKey } from '#lib/store/keys.ts';

/** Any UTF-16 code unit, lone surrogates included: strings that no validation has seen yet. */
const codeUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });

describe('key builders', () => {
  it('keep the keys of well-formed input byte-identical to the URI encoding already in tables', () => {
    // Pinned values: items written before keyPart existed carry exactly these keys.
    // A lease is named by its driver's lease key, one URI-encoded component (`/` and `#` inside are escaped).
    expect(leaseKey('ssoins-1/123456789012/ps-abc/alice@example.com')).toEqual({
      pk: 'LEASE#ssoins-1%2F123456789012%2Fps-abc%2Falice%40example.com',
      sk: 'LEASE',
    });
    expect(leaseKey('app db#1')).toEqual({ pk: 'LEASE#app%20db%231', sk: 'LEASE' });
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
        expect(leaseKey(s)).toEqual({ pk: `LEASE#${encodeURIComponent(s)}`, sk: 'LEASE' });
      }),
      { numRuns: 500 },
    );
  });

  it('give distinct well-formed lease keys distinct items (no `#` collision)', () => {
    expect(leaseKey('a#b').pk).not.toBe(leaseKey('a%23b').pk);
    expect(leaseKey('a#b').pk).not.toBe(leaseKey('a').pk);
    fc.assert(
      fc.property(codeUnits, codeUnits, (a, b) => {
        fc.pre(a.isWellFormed() && b.isWellFormed() && a !== b);
        expect(leaseKey(a).pk).not.toBe(leaseKey(b).pk);
      }),
      { numRuns: 500 },
    );
  });

  it('never throw, whatever the string (encodeURIComponent throws URIError on a lone surrogate)', () => {
    expect(() => encodeURIComponent('\ud800')).toThrow(URIError);
    expect(pointerKey('username', 'a\ud800b').pk).toBe('DPTR#username#a%EF%BF%BDb');
    expect(leaseKey('\udc00').pk).toBe('LEASE#%EF%BF%BD');
    expect(leaseKey('ps-1/\ud800/user').pk).toBe('LEASE#ps-1%2F%EF%BF%BD%2Fuser');
    fc.assert(
      fc.property(codeUnits, codeUnits, (grantee, resource) => {
        const key = leaseKey(`${grantee}/${resource}`);
        expect(key.pk.isWellFormed()).toBe(true);
        expect(key.pk.startsWith('LEASE#')).toBe(true);
        expect(key.sk).toBe('LEASE');
        expect(pointerKey('email', grantee).pk.startsWith('DPTR#email#')).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

import { describe, expect, it } from 'vitest';
import { generatePassword, parseAdminSecret, principalNameFor } from '#lib/integrations/principals.ts';
import { GrantPermanentError } from '#lib/integrations/types.ts';

const unit = { integrationId: 'db', resource: 'shop', permission: 'read' };
const ID = '01M8YKXEZZAC1NHDHAN78TZ374';

describe('per-request principals', () => {
  it('names a unit stint_<request id>_<digest> where that fits, the same every time', () => {
    const name = principalNameFor(ID, unit, 63);
    expect(name).toMatch(/^stint_01m8ykxezzac1nhdhan78tz374_[0-9a-f]{8}$/);
    expect(principalNameFor(ID, unit, 63)).toBe(name);
    expect(principalNameFor(ID, { ...unit, permission: 'write' }, 63)).not.toBe(name);
  });

  it('fits MySQL’s 32 characters with a digest of the request and the unit', () => {
    const name = principalNameFor(ID, unit, 32);
    expect(name).toMatch(/^stint_[a-z2-7]{26}$/);
    expect(principalNameFor(ID, { ...unit, resource: 'other' }, 32)).not.toBe(name);
    expect(principalNameFor(`${ID}X`, unit, 32)).not.toBe(name);
  });

  it('generates 256-bit URL-safe passwords', () => {
    const passwords = new Set(Array.from({ length: 50 }, generatePassword));
    expect(passwords.size).toBe(50);
    for (const p of passwords) expect(p).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('reads the admin secret, and refuses one that is not {"username","password"} without quoting it', () => {
    expect(parseAdminSecret('db', '{"username":"admin","password":"s3cret"}')).toEqual({
      username: 'admin',
      password: 's3cret',
    });
    for (const bad of [undefined, 'not json s3cret', '{"username":"admin"}']) {
      const error = (() => {
        try {
          parseAdminSecret('db', bad);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(GrantPermanentError);
      expect(String((error as Error).message)).not.toContain('s3cret');
      expect((error as Error).message).toContain('integration db: the admin secret is not JSON');
    }
  });
});

import { describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/domain/errors.ts';
import type { IntegrationInput } from '#lib/domain/integration.ts';
import { validateIntegrationConfig } from '#lib/integrations/checks/registry.ts';
import { postgresqlDriver, roleNameFor } from '#lib/integrations/postgresql.ts';
import { driverFor } from '#lib/integrations/registry.ts';
import { driverContext, testIntegration } from '../../support/driver-context.ts';

function input(config: IntegrationInput['config'], type: IntegrationInput['type'] = 'postgresql'): IntegrationInput {
  return {
    name: 'Main PostgreSQL',
    type,
    config,
    secretRef: 'env:STINT_PG_ADMIN',
    resources: [{ id: 'appdb', owners: [], permissions: [{ id: 'readonly', grants: ['app_readonly'] }] }],
  };
}

function validationErrorOf(run: () => void): ValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('driverFor', () => {
  it('returns the PostgreSQL driver, which gives each request its own principal (no shared lease)', () => {
    const driver = driverFor('postgresql');
    expect(driver).toBe(postgresqlDriver);
    expect(driver.type).toBe('postgresql');
    const integration = testIntegration('postgresql', { host: 'db', database: 'postgres' }, [
      { id: 'appdb', owners: [], permissions: [{ id: 'readonly', grants: ['app_readonly'] }] },
    ]);
    const { admin: _admin, ...ctx } = driverContext(integration, { secret: '{}' });
    expect(driver.leaseKeys(ctx)).toEqual([]);
    expect(driver.leaseKeys({ ...ctx, requestId: 'another-request' })).toEqual([]);
    expect(driver.needsSecret).toBe(true);
  });

  it('refuses a type without a driver, naming the field', () => {
    // Every type in the enum has a driver now: a type from a newer API version stands in.
    const error = validationErrorOf(() => driverFor('mongodb' as IntegrationInput['type']));
    expect(error.field).toBe('type');
    expect(error.message).toMatch(/"mongodb" is not supported/);
  });
});

describe('validateIntegrationConfig', () => {
  it('accepts a complete PostgreSQL config', () => {
    expect(() =>
      validateIntegrationConfig(
        input({
          host: 'db.internal',
          port: 5432,
          database: 'postgres',
          sslmode: 'require',
          publicHost: 'db.example.com',
        }),
      ),
    ).not.toThrow();
  });

  it('refuses a PostgreSQL integration that names no admin secret, naming secretRef', () => {
    const { secretRef: _secretRef, ...noSecret } = input({ host: 'db.internal', database: 'postgres' });
    const error = validationErrorOf(() => validateIntegrationConfig(noSecret));
    expect(error.field).toBe('secretRef');
    expect(error.message).toMatch(/postgresql integration needs secretRef/);
  });

  it('defaults the port to 5432', () => {
    expect(postgresqlDriver.configSchema.parse({ host: 'db', database: 'postgres' })).toEqual({
      host: 'db',
      port: 5432,
      database: 'postgres',
    });
  });

  it('names a missing host', () => {
    expect(validationErrorOf(() => validateIntegrationConfig(input({ database: 'postgres' }))).field).toBe(
      'config.host',
    );
  });

  it('names a port of the wrong type', () => {
    const error = validationErrorOf(() =>
      validateIntegrationConfig(input({ host: 'db', database: 'd', port: '5432' })),
    );
    expect(error.field).toBe('config.port');
    expect(error.issues).toEqual([expect.objectContaining({ path: 'config.port' })]);
  });

  it('names an unknown key', () => {
    const error = validationErrorOf(() =>
      validateIntegrationConfig(input({ host: 'db', database: 'd', password: 'do-not-put-it-here' })),
    );
    expect(error.field).toBe('config.password');
  });

  it('refuses an unknown sslmode', () => {
    expect(
      validationErrorOf(() => validateIntegrationConfig(input({ host: 'db', database: 'd', sslmode: 'prefer' }))).field,
    ).toBe('config.sslmode');
  });
});

describe('roleNameFor', () => {
  const unit = { integrationId: 'pg-main', resource: 'appdb', permission: 'readonly' };

  it('is stable, lowercase, prefixed and short enough for PostgreSQL', () => {
    const role = roleNameFor('01JABCDEFGHJKMNPQRSTVWXYZ0', unit);
    expect(role).toBe(roleNameFor('01JABCDEFGHJKMNPQRSTVWXYZ0', unit));
    expect(role).toMatch(/^stint_01jabcdefghjkmnpqrstvwxyz0_[0-9a-f]{8}$/);
  });

  it('differs between units of one request and between long ids sharing a prefix', () => {
    const long = 'x'.repeat(100);
    expect(roleNameFor('req1', unit)).not.toBe(roleNameFor('req1', { ...unit, permission: 'readwrite' }));
    expect(roleNameFor(`${long}a`, unit)).not.toBe(roleNameFor(`${long}b`, unit));
    expect(roleNameFor(`${long}a`, unit).length).toBe(63);
  });
});

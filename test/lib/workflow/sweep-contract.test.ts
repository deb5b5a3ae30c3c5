import { describe, expect, it } from 'vitest';
import { driverFor } from '#lib/integrations/registry.ts';
import { DRIVER_TYPES, DriverCall, SWEPT_TYPES } from '#lib/workflow/contract.ts';

describe('the orphan sweep contract', () => {
  it('sweeps exactly the driver types whose driver implements principalOf, listManaged and revokeManaged', () => {
    const implementing = DRIVER_TYPES.filter((type) => {
      const driver = driverFor(type);
      return driver.principalOf !== undefined && driver.listManaged !== undefined && driver.revokeManaged !== undefined;
    });

    expect([...SWEPT_TYPES].sort()).toEqual([...implementing].sort());
  });

  it('refuses a revoke-managed call naming no principal, and extra fields', () => {
    expect(DriverCall.safeParse({ call: 'revoke-managed', integrationId: 'pg' }).success).toBe(false);
    expect(
      DriverCall.safeParse({ call: 'revoke-managed', integrationId: 'pg', principal: { name: 'stint_x', extra: 1 } })
        .success,
    ).toBe(false);
    expect(
      DriverCall.safeParse({ call: 'revoke-managed', integrationId: 'pg', principal: { name: 'stint_x' } }).success,
    ).toBe(true);
  });
});

import type { IntegrationDriver } from '#lib/integrations/types.ts';
import { DriverStepInput } from '#lib/workflow/contract.ts';
import { workflow } from './wiring.ts';

/**
 * The handler of one driver type's function (functions/workflow/driver-<type>.ts): the state machine calls it for
 * that type's units with the action Load chose. Its bundle holds this one driver and its clients only.
 */
export function driverStep(driver: IntegrationDriver): (event: unknown) => Promise<void> {
  return async (event) => {
    const { requestId, action } = DriverStepInput.parse(event);
    const steps = workflow();
    switch (action) {
      case 'grant':
        return steps.grant(requestId, driver);
      case 'apply-extension':
        return steps.applyExtension(requestId, driver);
      case 'revoke':
        return steps.revoke(requestId, driver);
      case 'cleanup':
        return steps.cleanup(requestId, driver);
    }
  };
}

import type { IntegrationDriver } from '#lib/integrations/types.ts';
import {
  type DiscoverAnswer,
  DriverCall,
  DriverStepInput,
  type IssueCredentialsAnswer,
} from '#lib/workflow/contract.ts';
import { workflow } from './wiring.ts';

/**
 * The handler of one driver type's function (functions/workflow/driver-<type>.ts): the state machine calls it for
 * that type's units with the action Load chose, and API functions call it directly for credentials and discovery
 * (DriverCall). Its bundle holds this one driver and its clients only.
 */
export function driverStep(
  driver: IntegrationDriver,
): (event: unknown) => Promise<void | IssueCredentialsAnswer | DiscoverAnswer> {
  return async (event) => {
    const steps = workflow();
    if (typeof event === 'object' && event !== null && 'call' in event) {
      const call = DriverCall.parse(event);
      if (call.call === 'issue-credentials') return steps.issueCredentials(call.requestId, call.caller, driver);
      return steps.discover(call.integrationId, driver);
    }
    const { requestId, action } = DriverStepInput.parse(event);
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

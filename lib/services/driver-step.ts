import type { IntegrationDriver } from '#lib/integrations/types.ts';
import {
  type DiscoverAnswer,
  DriverCall,
  DriverStepInput,
  type IssueCredentialsAnswer,
  type ListManagedAnswer,
  type LoadOutput,
  type RevokeManagedAnswer,
} from '#lib/workflow/contract.ts';
import { workflow } from './wiring/workflow.ts';

/**
 * The handler of one driver type's function (functions/workflow/driver-<type>.ts): the state machine calls it for
 * that type's units with the action Route chose, and API functions call it directly for credentials and discovery,
 * the reconciler for the orphan sweep (DriverCall). Its bundle holds this one driver and its clients only.
 */
export function driverStep(
  driver: IntegrationDriver,
): (
  event: unknown,
) => Promise<LoadOutput | IssueCredentialsAnswer | DiscoverAnswer | ListManagedAnswer | RevokeManagedAnswer> {
  return async (event) => {
    const steps = workflow();
    if (typeof event === 'object' && event !== null && 'call' in event) {
      const call = DriverCall.parse(event);
      switch (call.call) {
        case 'issue-credentials':
          return steps.issueCredentials(call.requestId, call.caller, driver);
        case 'discover':
          return steps.discover(call.integrationId, driver);
        case 'list-managed':
          return steps.listManaged(call.integrationId, call.holders, driver);
        case 'revoke-managed':
          return steps.revokeManaged(call.integrationId, call.principal, driver);
      }
    }
    const { requestId, action, route } = DriverStepInput.parse(event);
    // The route's hint: the integrations to read with the request in one BatchGetItem.
    const step = {
      grant: () => steps.grant(requestId, driver, route),
      'apply-extension': () => steps.applyExtension(requestId, driver, route),
      revoke: () => steps.revoke(requestId, driver, route),
      cleanup: () => steps.cleanup(requestId, driver, route),
    }[action];
    // What follows, from the request as the step left it: the state machine routes on it without a Load.
    return step();
  };
}

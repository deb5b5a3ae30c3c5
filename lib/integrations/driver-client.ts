import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import * as z from 'zod';
import { config } from '#lib/config.ts';
import { ForbiddenError, NotFoundError, TargetError, ValidationError } from '#lib/domain/errors.ts';
import type { IntegrationType } from '#lib/domain/integration.ts';
import { lazy } from '#lib/lazy.ts';
import {
  type DiscoverAnswer,
  DiscoverAnswer as DiscoverAnswerSchema,
  type DriverCall,
  type DriverType,
  type Holder,
  IssueCredentialsAnswer,
  ListManagedAnswer,
  RevokeManagedAnswer,
  type SweptType,
} from '#lib/workflow/contract.ts';
import type { ManagedPrincipal } from './types.ts';

/** Errors a driver function throws that mean the same thing to the API caller (lib/services/workflow.ts). */
const PASSED_ON: Record<string, new (message: string, field?: string) => Error> = {
  ForbiddenError,
  NotFoundError,
  ValidationError,
};

/** The payload of a function that threw (Lambda's error shape). */
const FunctionFailure = z.object({ errorType: z.string().optional(), errorMessage: z.string().optional() });

/**
 * Calls a driver function from an API function (Lambda Invoke, RequestResponse): the API function never holds a
 * driver, its SDK clients or its permissions. Function names come from STINT_DRIVER_FUNCTIONS (set by the stack on
 * the routes that call drivers).
 */
export class DriverClient {
  constructor(
    private readonly lambda: LambdaClient,
    private readonly functionOf: (type: IntegrationType) => string,
  ) {}

  async call<T>(type: IntegrationType, call: DriverCall, answer: z.ZodType<T>): Promise<T> {
    const result = await this.lambda.send(
      new InvokeCommand({
        FunctionName: this.functionOf(type),
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(JSON.stringify(call)),
      }),
    );
    const text = result.Payload === undefined ? 'null' : new TextDecoder().decode(result.Payload);
    const payload: unknown = JSON.parse(text);
    if (result.FunctionError !== undefined) {
      const failure = FunctionFailure.safeParse(payload);
      const message = failure.data?.errorMessage?.slice(0, 500) ?? 'failed';
      const Known = failure.data?.errorType === undefined ? undefined : PASSED_ON[failure.data.errorType];
      if (Known !== undefined) throw new Known(message, 'id');
      throw new TargetError(`the ${type} driver could not ${call.call}: ${message}`);
    }
    return answer.parse(payload);
  }
}

/** The module-scope client of the functions that call drivers (get-access, discover-integration, reconciler). */
export const driverClient: () => DriverClient = /* @__PURE__ */ lazy(
  () => new DriverClient(new LambdaClient({}), (type) => config().driverFunction(type)),
);

/** RequestService.access's credential issuer, through the driver functions. */
export const issueCredentials = (
  type: DriverType,
  requestId: string,
  caller: string,
): Promise<IssueCredentialsAnswer> =>
  driverClient().call(type, { call: 'issue-credentials', requestId, caller }, IssueCredentialsAnswer);

/** AdminService.discover's asker, through the driver functions. */
export const discoverTarget = (type: DriverType, integrationId: string): Promise<DiscoverAnswer> =>
  driverClient().call(type, { call: 'discover', integrationId }, DiscoverAnswerSchema);

/** The orphan sweep's target (lib/services/sweep.ts SweepTarget), through the driver functions. */
export const sweepTarget = {
  listManaged: (type: SweptType, integrationId: string, holders: Holder[]): Promise<ListManagedAnswer> =>
    driverClient().call(type, { call: 'list-managed', integrationId, holders }, ListManagedAnswer),
  revokeManaged: async (type: SweptType, integrationId: string, principal: ManagedPrincipal): Promise<void> => {
    await driverClient().call(type, { call: 'revoke-managed', integrationId, principal }, RevokeManagedAnswer);
  },
};

import { SFNClient } from '@aws-sdk/client-sfn';
import { config } from '#lib/config.ts';
import { lazy } from '#lib/lazy.ts';
import { type Executions, StepFunctionsExecutions } from '#lib/workflow/executions.ts';

/**
 * Step Functions, for the functions that start executions or end waits. The state machine ARN is read on the first
 * start or isRunning: functions that only end waits need none.
 */
export const executions = /* @__PURE__ */ lazy(
  (): Executions => new StepFunctionsExecutions(new SFNClient({}), () => config().stateMachineArn),
);

import { SendTaskSuccessCommand, SFNClient, StartExecutionCommand, TaskDoesNotExist } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { StepFunctionsExecutions } from '#lib/workflow/executions.ts';

/** Error mapping and what each call needs; the calls themselves run against the local runtime in the e2e tests. */
const sfn = mockClient(SFNClient);
const ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:stint-requests';

beforeEach(() => sfn.reset());

describe('StepFunctionsExecutions', () => {
  it('ends a wait without reading the state machine ARN (register-token has none)', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    const executions = new StepFunctionsExecutions(new SFNClient({}), () => {
      throw new Error('Configuration error: environment variable STINT_STATE_MACHINE_ARN is not set');
    });

    expect(await executions.resume('token-1')).toBe(true);
  });

  it('answers false for a token that is gone, and starts executions named after the request and attempt', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(new TaskDoesNotExist({ message: 'gone', $metadata: {} }));
    sfn.on(StartExecutionCommand).resolves({});
    const executions = new StepFunctionsExecutions(new SFNClient({}), () => ARN);

    expect(await executions.resume('token-2')).toBe(false);
    await executions.start('01REQ', 2);
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input).toMatchObject({ stateMachineArn: ARN });
  });
});

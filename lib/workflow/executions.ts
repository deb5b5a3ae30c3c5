import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { logger } from '#lib/observability/logger.ts';
import { executionName, type LoadOutput } from './contract.ts';

/**
 * The workflow as the rest of Stint sees it. Sends are idempotent by design: a token that is already used,
 * timed out or unknown means the execution has moved on (it re-loads the request and routes on its status),
 * so `false` is returned instead of an error.
 */
export interface Executions {
  /**
   * `load`: the route of the request as the caller just wrote it (lib/workflow/route.ts), so the execution starts at
   * that step instead of loading the request first; without it the execution loads first (the reconciler, restarts).
   */
  start(requestId: string, attempt: number, load?: LoadOutput): Promise<void>;
  /** Resume a wait (with the route of what the caller wrote, as for start); false when the token is no longer live. */
  resume(taskToken: string, load?: LoadOutput): Promise<boolean>;
  /** Fail a wait (reject, cancel); false when the token is no longer live. */
  fail(taskToken: string, error: string, cause: string): Promise<boolean>;
  isRunning(requestId: string, attempt: number): Promise<boolean>;
}

function isGone(error: unknown): boolean {
  return error instanceof TaskDoesNotExist || error instanceof TaskTimedOut || error instanceof InvalidToken;
}

/**
 * Step Functions through the SDK. The state machine ARN is read only by start and isRunning (a function, so a
 * Lambda that only ends waits, such as register-token, needs neither STINT_STATE_MACHINE_ARN nor more than
 * SendTaskSuccess/Failure: a task token names its execution).
 */
export class StepFunctionsExecutions implements Executions {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: () => string,
  ) {}

  private executionArn(requestId: string, attempt: number): string {
    const [prefix] = this.stateMachineArn().split(':stateMachine:');
    const machine = this.stateMachineArn().split(':stateMachine:')[1] ?? '';
    return `${prefix}:execution:${machine}:${executionName(requestId, attempt)}`;
  }

  async start(requestId: string, attempt: number, load?: LoadOutput): Promise<void> {
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn(),
          name: executionName(requestId, attempt),
          input: JSON.stringify(load === undefined ? { requestId, attempt } : { requestId, attempt, load }),
        }),
      );
    } catch (error) {
      // Same name: the execution exists already (started by another caller, perhaps with another route); it runs.
      if (error instanceof ExecutionAlreadyExists) {
        logger.warn('execution already exists', { requestId, attempt });
        return;
      }
      throw error;
    }
  }

  async resume(taskToken: string, load?: LoadOutput): Promise<boolean> {
    try {
      // The wait's result becomes $.load: `{}` (no route) makes Route load the request first.
      await this.client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(load ?? {}) }));
      return true;
    } catch (error) {
      if (isGone(error)) return false;
      throw error;
    }
  }

  async fail(taskToken: string, error: string, cause: string): Promise<boolean> {
    try {
      await this.client.send(new SendTaskFailureCommand({ taskToken, error, cause }));
      return true;
    } catch (e) {
      if (isGone(e)) return false;
      throw e;
    }
  }

  async isRunning(requestId: string, attempt: number): Promise<boolean> {
    try {
      const out = await this.client.send(
        new DescribeExecutionCommand({ executionArn: this.executionArn(requestId, attempt) }),
      );
      return out.status === 'RUNNING';
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return false;
      throw error;
    }
  }
}

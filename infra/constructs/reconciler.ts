import { Duration } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { StintConfig } from '#infra/config.ts';
import { StintFunction } from '#infra/constructs/stint-function.ts';
import { REQUEST_UPDATE, STATUS_LIST, tableActions } from '#lib/store/access.ts';

export type ReconcilerProps = {
  readonly config: StintConfig;
  readonly table: ITableV2;
  readonly stateMachine: IStateMachine;
  readonly stateMachineName: string;
};

/**
 * The reconciler, every `reconcilerRateMinutes`: revokes ACTIVE grants past their expiry, restarts stuck
 * non-terminal requests, retries REVOKE_FAILED ones.
 */
export class Reconciler extends Construct {
  readonly function: StintFunction;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: ReconcilerProps) {
    super(scope, id);
    const rate = props.config.reconcilerRateMinutes;
    this.function = new StintFunction(this, 'Reconciler', {
      entry: 'functions/workflow/reconciler.ts',
      description: 'Stint: revokes overdue grants and resumes stuck requests',
      memorySize: 512,
      // Runs finish well within one period, so two runs never overlap.
      timeout: Duration.seconds(Math.min(rate * 60 - 10, 300)),
      config: props.config,
    })
      // Lists due requests by status (gsi2) and moves each on with one conditional write.
      .grantTable(props.table, tableActions(STATUS_LIST, REQUEST_UPDATE))
      .grantStartExecution(props.stateMachine)
      .grantDescribeExecutions(props.stateMachine, props.stateMachineName)
      // It resumes a stuck wait (SendTaskSuccess); it never ends one with a failure.
      .grantTaskTokens(props.stateMachine, ['success']);

    this.rule = new events.Rule(this, 'Schedule', {
      description: `Stint reconciler, every ${rate} minute(s)`,
      schedule: events.Schedule.rate(Duration.minutes(rate)),
      targets: [
        new targets.LambdaFunction(this.function.fn, { retryAttempts: 0, maxEventAge: Duration.minutes(rate) }),
      ],
    });
  }
}

import { Duration, Stack } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { StintConfig } from '#infra/config.ts';
import { StintFunction } from '#infra/constructs/stint-function.ts';
import { CONFIG_LIST, REQUEST_UPDATE, STATUS_LIST, tableActions } from '#lib/store/access.ts';
import { DRIVER_TYPES, type DriverType, SWEPT_TYPES } from '#lib/workflow/contract.ts';

export type ReconcilerProps = {
  readonly config: StintConfig;
  readonly table: ITableV2;
  readonly stateMachine: IStateMachine;
  readonly stateMachineName: string;
  /** The driver functions: the orphan sweep asks those of SWEPT_TYPES (Lambda Invoke). */
  readonly drivers: Readonly<Record<DriverType, StintFunction>>;
  /** The audit bus: the sweep publishes its findings there. */
  readonly bus: events.IEventBus;
};

/**
 * The reconciler, every `reconcilerRateMinutes`: revokes ACTIVE grants past their expiry, restarts stuck
 * non-terminal requests, retries REVOKE_FAILED ones. Every `sweepRateMinutes` the same function runs the orphan
 * sweep and drift check (`{ "sweep": true }`, lib/services/sweep.ts).
 */
export class Reconciler extends Construct {
  readonly function: StintFunction;
  readonly rule: events.Rule;
  readonly sweepRule: events.Rule;

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
      // Lists due requests by status (gsi2) and moves each on with one conditional write; the sweep lists the
      // integrations (gsi1) too.
      .grantTable(props.table, tableActions(STATUS_LIST, REQUEST_UPDATE, CONFIG_LIST))
      .grantStartExecution(props.stateMachine)
      .grantDescribeExecutions(props.stateMachine, props.stateMachineName)
      // It resumes a stuck wait (SendTaskSuccess); it never ends one with a failure.
      .grantTaskTokens(props.stateMachine, ['success'])
      // The sweep publishes its findings (not item changes, so not from the stream) itself.
      .grantPutEvents(props.bus)
      // A shift change before a decision: it asks who is on call for pending requests of on-call approver sets.
      .grantOnCall(props.config);
    // The sweep asks the driver functions that take part in it, and only those (unqualified: no versions or aliases).
    const names = Object.fromEntries(DRIVER_TYPES.map((type) => [type, props.drivers[type].fn.functionName]));
    this.function.fn.addEnvironment('STINT_DRIVER_FUNCTIONS', Stack.of(this).toJsonString(names));
    this.function.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: SWEPT_TYPES.map((type) => props.drivers[type].fn.functionArn),
      }),
    );

    this.rule = new events.Rule(this, 'Schedule', {
      description: `Stint reconciler, every ${rate} minute(s)`,
      schedule: events.Schedule.rate(Duration.minutes(rate)),
      targets: [
        new targets.LambdaFunction(this.function.fn, { retryAttempts: 0, maxEventAge: Duration.minutes(rate) }),
      ],
    });

    const sweepRate = props.config.sweepRateMinutes;
    this.sweepRule = new events.Rule(this, 'SweepSchedule', {
      description: `Stint orphan sweep and drift check, every ${sweepRate} minute(s)`,
      schedule: events.Schedule.rate(Duration.minutes(sweepRate)),
      targets: [
        new targets.LambdaFunction(this.function.fn, {
          event: events.RuleTargetInput.fromObject({ sweep: true }),
          // A missed sweep is made up by the next one.
          retryAttempts: 0,
          maxEventAge: Duration.minutes(Math.min(sweepRate, 60)),
        }),
      ],
    });
  }
}

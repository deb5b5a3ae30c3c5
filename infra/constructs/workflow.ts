import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { StintConfig } from '#infra/config.ts';
import type { Alerts } from '#infra/constructs/alerts.ts';
import { logicalIdOf, METRICS_NAMESPACE, SERVICE_NAME, StintFunction } from '#infra/constructs/stint-function.ts';
import { DRIVER_SPECS } from '#infra/drivers/index.ts';
import { METRIC } from '#lib/observability/metrics.ts';
import {
  ITEM_READ,
  LEASE_UPDATE,
  REQUEST_TOKEN,
  REQUEST_UPDATE,
  REQUEST_WITH_INTEGRATIONS,
  type TableAction,
  tableActions,
} from '#lib/store/access.ts';
import {
  branchOf,
  DRIVER_TYPES,
  type DriverAction,
  type DriverType,
  GRANT_PERMANENT_ERROR,
  type Next,
  STEP_FUNCTIONS,
  type StepFunction,
} from '#lib/workflow/contract.ts';

/**
 * State names of the state machine. Stable: the local runtime keys its task handlers by them, and execution
 * histories in AWS refer to them.
 */
export const STATE = {
  load: 'Load',
  route: 'Route',
  awaitApproval: 'AwaitApproval',
  awaitExpiry: 'AwaitExpiry',
  poll: 'Poll',
  timeOut: 'TimeOut',
  grantFailed: 'GrantFailed',
  revokeFailed: 'RevokeFailed',
  done: 'Done',
  /** Route's default: a branch no state matches. From a caller's route: Load; from Load itself: Unroutable. */
  reload: 'Reload',
  unroutable: 'Unroutable',
} as const;
export type StateName = (typeof STATE)[keyof typeof STATE];

/** The Task state of one driver type's action, e.g. `GrantPostgresql`, `RevokeAwsIdentityCenter`. */
export function driverState(action: DriverAction, type: DriverType): string {
  const verb = { grant: 'Grant', 'apply-extension': 'ApplyExtension', revoke: 'Revoke', cleanup: 'Cleanup' }[action];
  return `${verb}${pascal(type)}`;
}

/** The step Lambda each generic Task state invokes (functions/workflow/<step>.ts). */
export const STATE_STEP = {
  [STATE.load]: 'load',
  [STATE.awaitApproval]: 'register-token',
  [STATE.awaitExpiry]: 'register-token',
  [STATE.grantFailed]: 'grant-failed',
  [STATE.timeOut]: 'time-out',
  [STATE.revokeFailed]: 'revoke-failed',
} as const satisfies Partial<Record<StateName, StepFunction>>;

/**
 * The metric the revoke-failed Lambda emits (Powertools Metrics, EMF) and the stack alarms on. Powertools adds
 * the `service` dimension from POWERTOOLS_SERVICE_NAME, which the house construct sets to SERVICE_NAME.
 */
export const REVOKE_FAILED_METRIC = {
  namespace: METRICS_NAMESPACE,
  name: METRIC.revokeFailed,
  dimensions: { service: SERVICE_NAME },
} as const;

/**
 * Revoke's retry: 30 s, doubling, each wait capped at 30 min, 12 retries. Nominal waits:
 * 30 + 60 + 120 + 240 + 480 + 960 = 1,890 s, then 6 × 1,800 s = 10,800 s: 12,690 s ≈ 3 h 31 min of waiting
 * (plus up to 13 × the Lambda timeout) before RevokeFailed raises the alarm; the reconciler keeps trying after.
 */
export const REVOKE_RETRY = {
  interval: Duration.seconds(30),
  backoffRate: 2,
  maxDelay: Duration.minutes(30),
  maxAttempts: 12,
} as const;

/** Partition keys of the items the steps touch (lib/store/keys.ts). */
const REQUEST_ITEMS = 'REQUEST#*';
const INTEGRATION_ITEMS = 'INTEGRATION#*';
const LEASE_ITEMS = 'LEASE#*';

type StepSpec = {
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  /** Exactly the DynamoDB actions the step calls (lib/store/access.ts). */
  readonly table: readonly TableAction[];
  /**
   * The kinds of item it touches (partition-key patterns, `dynamodb:LeadingKeys`): every call of a step is keyed
   * (GetItem, BatchGetItem, PutItem, UpdateItem; never a Query), so its role can name the items as well as the actions.
   */
  readonly items: readonly string[];
};

/**
 * Every driver function: the request and its integrations (one BatchGetItem), the request (update), an integration
 * the route's hint did not name (read), leases, and the key sealing issued
 * credentials; network, secrets and AWS permissions come from the driver's spec (infra/drivers/).
 */
const DRIVER_TABLE = tableActions(REQUEST_WITH_INTEGRATIONS, REQUEST_UPDATE, ITEM_READ, LEASE_UPDATE);
const DRIVER_ITEMS = [REQUEST_ITEMS, INTEGRATION_ITEMS, LEASE_ITEMS];
/** The directory user and its unique-value pointers (lib/directory/keys.ts): userById, linkAccount. */
const DIRECTORY_USER_ITEMS = ['DUSER#*', 'DPTR#*'];

const STEPS: Record<StepFunction, StepSpec> = {
  load: {
    description: 'Loads a request and decides the next step',
    memorySize: 256,
    timeout: Duration.seconds(10),
    table: ITEM_READ,
    // The integration only for requests made before their units' types were recorded on them.
    items: [REQUEST_ITEMS, INTEGRATION_ITEMS],
  },
  'register-token': {
    description: 'Stores the task token of an approval or expiry wait',
    memorySize: 256,
    timeout: Duration.seconds(10),
    // The token by UpdateItem when the route gave the version; updateRequest when it did not.
    table: tableActions(REQUEST_TOKEN, REQUEST_UPDATE),
    items: [REQUEST_ITEMS],
  },
  'grant-failed': {
    description: 'Records a failed grant and hands it to the revoke path, which undoes it',
    memorySize: 256,
    timeout: Duration.seconds(10),
    table: REQUEST_UPDATE,
    items: [REQUEST_ITEMS],
  },
  'time-out': {
    description: 'Records an approval time-out',
    memorySize: 256,
    timeout: Duration.seconds(10),
    table: REQUEST_UPDATE,
    items: [REQUEST_ITEMS],
  },
  'revoke-failed': {
    description: 'Records a revoke that kept failing and emits the RevokeFailed metric',
    memorySize: 256,
    timeout: Duration.seconds(10),
    table: REQUEST_UPDATE,
    items: [REQUEST_ITEMS],
  },
};

export type WorkflowProps = {
  readonly config: StintConfig;
  readonly table: ITableV2;
  readonly credentialsKey: ISecret;
  readonly alerts: Alerts;
};

/** The Standard state machine that carries each request (contract: lib/workflow/contract.ts) and its Lambdas. */
export class Workflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  /** `<stackName>-requests`: fixed so IAM grants on its executions name it. */
  readonly stateMachineName: string;
  readonly steps: Readonly<Record<StepFunction, StintFunction>>;
  readonly drivers: Readonly<Record<DriverType, StintFunction>>;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const { config } = props;

    const functions = new Construct(this, 'Steps');
    const makeStep = (step: StepFunction): StintFunction => {
      const spec = STEPS[step];
      const fn = new StintFunction(functions, pascal(step), {
        entry: `functions/workflow/${step}.ts`,
        description: `Stint workflow: ${spec.description}`,
        memorySize: spec.memorySize,
        timeout: spec.timeout,
        config,
      });
      fn.grantTable(props.table, spec.table, { leadingKeys: spec.items });
      return fn;
    };
    const steps: Record<StepFunction, StintFunction> = {
      load: makeStep('load'),
      'register-token': makeStep('register-token'),
      'grant-failed': makeStep('grant-failed'),
      'time-out': makeStep('time-out'),
      'revoke-failed': makeStep('revoke-failed'),
    };
    this.steps = steps;

    // One function per driver type: its own role, network placement, timeout and bundle.
    const driverScope = new Construct(this, 'Drivers');
    const makeDriver = (type: DriverType): StintFunction => {
      const spec = DRIVER_SPECS[type];
      const fn = new StintFunction(driverScope, pascal(type), {
        entry: `functions/workflow/driver-${type}.ts`,
        description: `Stint driver: ${spec.description}`,
        memorySize: spec.memorySize,
        timeout: spec.timeout,
        config,
        inVpc: spec.inVpc,
      });
      fn.grantTable(props.table, DRIVER_TABLE, {
        leadingKeys: spec.linksAccounts === true ? [...DRIVER_ITEMS, ...DIRECTORY_USER_ITEMS] : DRIVER_ITEMS,
      });
      fn.grantCredentialsKey(props.credentialsKey);
      if (spec.readsSecrets) fn.grantSecretsUnderPrefix(config.secretsPrefix);
      for (const statement of spec.statements(config)) fn.role.addToPrincipalPolicy(statement);
      const acknowledgements = spec.acknowledgements?.(config) ?? [];
      if (acknowledgements.length > 0) Validations.of(fn.role).acknowledge(...acknowledgements);
      return fn;
    };
    const drivers: Record<DriverType, StintFunction> = {
      postgresql: makeDriver('postgresql'),
      mysql: makeDriver('mysql'),
      'aws-identity-center': makeDriver('aws-identity-center'),
      'aws-iam-role': makeDriver('aws-iam-role'),
      lambda: makeDriver('lambda'),
      redis: makeDriver('redis'),
    };
    this.drivers = drivers;

    const ids = { requestId: sfn.JsonPath.stringAt('$.requestId'), attempt: sfn.JsonPath.numberAt('$.attempt') };
    /** A synchronous step: input {requestId, attempt[, error]}, result discarded (the state passes its input on). */
    const invoke = (state: StateName, step: StepFunction, withError = false): tasks.LambdaInvoke =>
      new tasks.LambdaInvoke(this, state, {
        lambdaFunction: steps[step].fn,
        payload: sfn.TaskInput.fromObject(withError ? { ...ids, error: sfn.JsonPath.objectAt('$.error') } : ids),
        resultPath: sfn.JsonPath.DISCARD,
        taskTimeout: sfn.Timeout.duration(STEPS[step].timeout.plus(Duration.seconds(10))),
      });
    /**
     * A wait: register-token stores the token; SendTaskSuccess/Failure or the timeout ends it. SendTaskSuccess's output
     * (the route of what the waking caller wrote, or `{}`) becomes $.load, and Route goes on from it.
     */
    const wait = (state: StateName, kind: 'approval' | 'active'): tasks.LambdaInvoke =>
      new tasks.LambdaInvoke(this, state, {
        lambdaFunction: steps['register-token'].fn,
        integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        // version: the request as Load saw it; register-token resumes at once when it has changed since.
        payload: sfn.TaskInput.fromObject({
          ...ids,
          kind,
          taskToken: sfn.JsonPath.taskToken,
          version: sfn.JsonPath.numberAt('$.load.version'),
        }),
        // Resolved against the state input, where the route put it (≤ MAX_WAIT_SECONDS: longer waits are chunked).
        taskTimeout: sfn.Timeout.at('$.load.waitSeconds'),
        resultPath: '$.load',
      });
    const errorPath = '$.error';

    /** A step's LoadOutput (lib/workflow/contract.ts), as $.load. */
    const routeSelector = {
      next: sfn.JsonPath.stringAt('$.Payload.next'),
      waitSeconds: sfn.JsonPath.numberAt('$.Payload.waitSeconds'),
      version: sfn.JsonPath.numberAt('$.Payload.version'),
      driver: sfn.JsonPath.stringAt('$.Payload.driver'),
      branch: sfn.JsonPath.stringAt('$.Payload.branch'),
      integrationIds: sfn.JsonPath.listAt('$.Payload.integrationIds'),
    };
    const load = new tasks.LambdaInvoke(this, STATE.load, {
      lambdaFunction: steps.load.fn,
      payload: sfn.TaskInput.fromObject(ids),
      // `loaded`: this route was read from the table (Reload tells an unknown branch of Load's from a caller's).
      resultSelector: { ...routeSelector, loaded: true },
      resultPath: '$.load',
      taskTimeout: sfn.Timeout.duration(STEPS.load.timeout.plus(Duration.seconds(10))),
    }).addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 4 });

    const timeOut = invoke(STATE.timeOut, 'time-out').addRetry({
      errors: [sfn.Errors.ALL],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 4,
    });
    const grantFailed = invoke(STATE.grantFailed, 'grant-failed', true).addRetry({
      errors: [sfn.Errors.ALL],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 6,
    });
    const revokeFailed = invoke(STATE.revokeFailed, 'revoke-failed', true).addRetry({
      errors: [sfn.Errors.ALL],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 6,
    });

    const awaitApproval = wait(STATE.awaitApproval, 'approval')
      .addCatch(timeOut, { errors: [sfn.Errors.TIMEOUT], resultPath: errorPath })
      // SendTaskFailure (reject, cancel) or a failed registration: Load routes on what the table says.
      .addCatch(load, { errors: [sfn.Errors.ALL], resultPath: errorPath });

    /** A target-side step: the driver function of one type, told the action; it answers the route of what follows. */
    const driverTask = (action: DriverAction, type: DriverType): tasks.LambdaInvoke =>
      new tasks.LambdaInvoke(this, driverState(action, type), {
        lambdaFunction: drivers[type].fn,
        // The route that chose this step ($.load): its integrationIds are read with the request in one BatchGetItem.
        payload: sfn.TaskInput.fromObject({ ...ids, action, route: sfn.JsonPath.objectAt('$.load') }),
        resultSelector: routeSelector,
        resultPath: '$.load',
        taskTimeout: sfn.Timeout.duration(DRIVER_SPECS[type].timeout.plus(Duration.seconds(10))),
      });
    /** One action's task per driver type, each reached from Route by its branch `<action>:<type>`. */
    const byDriver = (action: DriverAction, configure: (task: tasks.LambdaInvoke) => void) =>
      DRIVER_TYPES.map((type) => {
        const task = driverTask(action, type);
        configure(task);
        return { branch: branchOf(action, type), task };
      });

    const grant = byDriver('grant', (task) =>
      task
        // Retriers apply in order, the first match wins: a permanent error is never retried.
        .addRetry({ errors: [GRANT_PERMANENT_ERROR], maxAttempts: 0 })
        .addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 4 })
        .addCatch(grantFailed, { errors: [sfn.Errors.ALL], resultPath: errorPath }),
    );

    const applyExtension = byDriver('apply-extension', (task) =>
      task
        .addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 4 })
        .addCatch(load, { errors: [sfn.Errors.ALL], resultPath: errorPath }),
    );

    const done = new sfn.Succeed(this, STATE.done);
    // A cleanup whose function keeps failing ends the execution (the request has ended already): the reconciler
    // starts a new one for cleanups still due, instead of this one looping back into the same failure.
    const cleanup = byDriver('cleanup', (task) =>
      task
        .addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 4 })
        .addCatch(done, { errors: [sfn.Errors.ALL], resultPath: errorPath }),
    );

    // A driver answered "pending": wait here (not in a Lambda), then Load routes to the same step again.
    const poll = new sfn.Wait(this, STATE.poll, { time: sfn.WaitTime.secondsPath('$.load.waitSeconds') });

    const awaitExpiry = wait(STATE.awaitExpiry, 'active')
      // Time up (or a chunk of a long wait over): Load decides between revoke and waiting on.
      .addCatch(load, { errors: [sfn.Errors.TIMEOUT], resultPath: errorPath })
      // SendTaskFailure (early revoke, extend) or a failed registration.
      .addCatch(load, { errors: [sfn.Errors.ALL], resultPath: errorPath });

    const revoke = byDriver('revoke', (task) =>
      task
        .addRetry({ errors: [sfn.Errors.ALL], ...REVOKE_RETRY })
        .addCatch(revokeFailed, { errors: [sfn.Errors.ALL], resultPath: errorPath }),
    );

    const unroutable = new sfn.Fail(this, STATE.unroutable, {
      error: 'UnknownNext',
      cause: 'Load returned a next step this state machine does not know',
    });
    const reload = new sfn.Choice(this, STATE.reload)
      .when(sfn.Condition.isPresent('$.load.loaded'), unroutable)
      .otherwise(load);

    // Route on $.load.branch: a step's name, or `<action>:<type>` straight to that driver's task (one Choice). The
    // execution starts here: with no route in its input (a resumed execution: {requestId, attempt}) it loads first.
    const targets: Record<Exclude<Next, DriverAction>, sfn.IChainable> = {
      'await-approval': awaitApproval,
      'await-expiry': awaitExpiry,
      poll,
      done,
    };
    // Not(IsPresent) rather than IsPresent: false, which the local engine (aws-local-stepfunctions 3.0) never matches.
    const route = new sfn.Choice(this, STATE.route).when(
      sfn.Condition.not(sfn.Condition.isPresent('$.load.branch')),
      load,
    );
    for (const [branch, target] of [
      ...Object.entries(targets),
      ...[...grant, ...applyExtension, ...revoke, ...cleanup].map((d) => [d.branch, d.task] as const),
    ]) {
      route.when(sfn.Condition.stringEquals('$.load.branch', branch), target);
    }
    route.otherwise(reload);

    // A step that answers the route (a driver step; a wait, from SendTaskSuccess) goes straight to Route.
    for (const state of [
      awaitApproval,
      ...grant.map((d) => d.task),
      ...applyExtension.map((d) => d.task),
      awaitExpiry,
      ...revoke.map((d) => d.task),
      ...cleanup.map((d) => d.task),
    ]) {
      state.next(route);
    }
    load.next(route);
    // After a Poll wait or a failure step, the request is read again.
    for (const state of [poll, timeOut, grantFailed, revokeFailed]) state.next(load);

    const removalPolicy = config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: config.logRetentionDays, removalPolicy });
    this.stateMachineName = `${config.stackName}-requests`;
    // register-token resumes its own wait at once when the request moved on since Load.
    steps['register-token'].grantTaskTokensByName(this.stateMachineName, ['success']);
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      comment: 'Stint: one execution per access request (lib/workflow/contract.ts)',
      definitionBody: sfn.DefinitionBody.fromChainable(route),
      tracingEnabled: true,
      logs: {
        destination: logGroup,
        level: sfn.LogLevel.ALL,
        // Execution data holds task tokens and identities: log the events, not the data.
        includeExecutionData: false,
      },
    });

    Validations.of(this.stateMachine).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Step Functions log delivery (logs:CreateLogDelivery, ...) and X-Ray (xray:PutTraceSegments, ...) support ' +
          'no resource-level permissions.',
      },
      ...STEP_FUNCTIONS.map((step) => ({
        id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(steps[step].fn)}.Arn>:*]`,
        reason: `Invoking the ${step} function's versions and aliases (CDK's LambdaInvoke grant); one function only.`,
      })),
      ...DRIVER_TYPES.map((type) => ({
        id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(drivers[type].fn)}.Arn>:*]`,
        reason: `Invoking the ${type} driver function's versions and aliases (CDK's LambdaInvoke grant); one function only.`,
      })),
    );

    const failed = new cloudwatch.Alarm(this, 'ExecutionsFailedAlarm', {
      alarmDescription:
        'Stint: a request execution failed (Load or a failure step kept failing). The reconciler restarts it, and ' +
        'after 3 restarts in one status gives the request up (StuckRequests alarm); check the logs.',
      metric: this.stateMachine.metricFailed({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    props.alerts.notify(failed);

    props.alerts.alarmOnMetric(
      this,
      'RevokeFailedAlarm',
      REVOKE_FAILED_METRIC.name,
      'Stint: revoking a grant kept failing for hours (REVOKE_FAILED). Access may still be live on the target.',
    );
  }
}

/** `grant-failed` → `GrantFailed`: construct ids of the step functions. */
export function pascal(kebab: string): string {
  return kebab
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { routes } from '#functions/api/routes.ts';
import { scimEntries, scimRoutes } from '#functions/scim/routes.ts';
import { ENTRY_METADATA_KEY, REPO_ROOT } from '#infra/constructs/stint-function.ts';
import { driverState, REVOKE_FAILED_METRIC, REVOKE_RETRY, STATE, STATE_STEP } from '#infra/constructs/workflow.ts';
import { PUBLISHER_FILTERS } from '#lib/events/stream-filter.ts';
import { TABLE } from '#lib/store/table.ts';
import {
  branchOf,
  DRIVER_TYPES,
  DriverAction,
  GRANT_PERMANENT_ERROR,
  Next,
  STEP_FUNCTIONS,
} from '#lib/workflow/contract.ts';
import {
  allowedActions,
  allowedResources,
  type CfnTemplate,
  type Definition,
  functionByEntry,
  lambdaFunctions,
  onlyResourceOfType,
  resourcesOfType,
  type State,
  stateMachineDefinition,
  statementsOf,
  synth,
  tableGrants,
} from './synth.ts';

let template: Template;
let cfn: CfnTemplate;
let definition: Definition;

beforeAll(() => {
  ({ template, cfn } = synth({ stackName: 'StintTest' }));
  definition = stateMachineDefinition(cfn);
});

const api = (entry: string) => `functions/api/${entry}.ts`;
const step = (name: string) => `functions/workflow/${name}.ts`;
const driverEntry = (type: string) => `functions/workflow/driver-${type}.ts`;
const DRIVER_STATES = DriverAction.options.flatMap((action) => DRIVER_TYPES.map((type) => driverState(action, type)));

function state(name: string): State {
  const found = definition.States[name];
  if (found === undefined) throw new Error(`no state ${name}`);
  return found;
}

function logicalIdOfType(type: string): string {
  return onlyResourceOfType(cfn, type)[0];
}

describe('HTTP API', () => {
  it('has exactly the routes of routes.ts, none under /_local', () => {
    const keys = resourcesOfType(cfn, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey);
    expect(keys.sort()).toEqual([...routes, ...scimRoutes].map((r) => `${r.method} ${r.path}`).sort());
    expect(keys.some((k) => typeof k === 'string' && k.split(' ')[1]?.startsWith('/_local'))).toBe(false);
  });

  it('puts the JWT authorizer on every route except /health and /auth-config', () => {
    const authorizerId = logicalIdOfType('AWS::ApiGatewayV2::Authorizer');
    const byKey = new Map(resourcesOfType(cfn, 'AWS::ApiGatewayV2::Route').map(([, r]) => [r.Properties.RouteKey, r]));
    const open: string[] = [];
    for (const route of routes) {
      const props = byKey.get(`${route.method} ${route.path}`)?.Properties;
      if (props?.AuthorizationType === 'JWT') {
        expect(props.AuthorizerId).toEqual({ Ref: authorizerId });
      } else {
        expect(props?.AuthorizationType ?? 'NONE').toBe('NONE');
        open.push(`${route.method} ${route.path}`);
      }
    }
    expect(open.sort()).toEqual(['GET /auth-config', 'GET /health']);
  });

  it('creates nothing Slack without a slack configuration', () => {
    const keys = resourcesOfType(cfn, 'AWS::ApiGatewayV2::Route').map(([, r]) => String(r.Properties.RouteKey));
    expect(keys.filter((k) => k.includes('/webhooks/'))).toEqual([]);
    expect(lambdaFunctions(cfn).filter((fn) => String(fn.entry).includes('slack'))).toEqual([]);
  });

  it('serves the SCIM routes without the JWT authorizer (the handler verifies the bearer token)', () => {
    const byKey = new Map(resourcesOfType(cfn, 'AWS::ApiGatewayV2::Route').map(([, r]) => [r.Properties.RouteKey, r]));
    const scimKeys = scimRoutes.map((r) => `${r.method} ${r.path}`);
    expect(scimKeys).toEqual(
      expect.arrayContaining(['GET /scim/v2/Users', 'PATCH /scim/v2/Users/{id}', 'PATCH /scim/v2/Groups/{id}']),
    );
    for (const key of scimKeys) {
      const props = byKey.get(key)?.Properties;
      expect(props, key).toBeDefined();
      expect(props?.AuthorizationType ?? 'NONE').toBe('NONE');
      expect(props?.AuthorizerId).toBeUndefined();
    }
    // Every route outside /scim/v2 except /health and /auth-config still has the authorizer.
    const unauthenticated = resourcesOfType(cfn, 'AWS::ApiGatewayV2::Route')
      .filter(([, r]) => (r.Properties.AuthorizationType ?? 'NONE') === 'NONE')
      .map(([, r]) => String(r.Properties.RouteKey));
    expect(unauthenticated.filter((k) => !k.split(' ')[1]?.startsWith('/scim/v2/')).sort()).toEqual([
      'GET /auth-config',
      'GET /health',
    ]);
  });

  it('grants each SCIM function the generated SCIM token secret, named by STINT_SCIM_TOKEN_REF, and the table but to discovery', () => {
    const [secretId] =
      resourcesOfType(cfn, 'AWS::SecretsManager::Secret').find(([id]) => id.includes('ScimToken')) ?? [];
    expect(secretId).toBeDefined();
    for (const entry of ['scim-users', 'scim-groups', 'scim-meta']) {
      const fn = functionByEntry(cfn, `functions/scim/${entry}.ts`);
      expect(fn.Environment.Variables.STINT_SCIM_TOKEN_REF).toEqual({ Ref: secretId });
      const discovery = entry === 'scim-meta';
      expect('STINT_TABLE_NAME' in fn.Environment.Variables, entry).toBe(!discovery);
      const actions = allowedActions(cfn, `functions/scim/${entry}.ts`);
      expect(actions.has('secretsmanager:GetSecretValue')).toBe(true);
      expect(actions.has('dynamodb:PutItem'), entry).toBe(!discovery);
      expect(actions.has('states:StartExecution')).toBe(false);
    }
  });

  it('validates JWTs from the Cognito pool it creates when no issuer is configured', () => {
    const poolId = logicalIdOfType('AWS::Cognito::UserPool');
    const clients = Object.fromEntries(
      resourcesOfType(cfn, 'AWS::Cognito::UserPoolClient').map(([id, r]) => [String(r.Properties.ClientName), id]),
    );
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: {
        Audience: [{ Ref: clients['StintTest-portal'] }, { Ref: clients['StintTest-cli'] }],
        Issuer: { 'Fn::GetAtt': [poolId, 'ProviderURL'] },
      },
    });
    template.hasResourceProperties('AWS::Cognito::UserPool', { MfaConfiguration: 'ON' });
    template.hasResourceProperties('AWS::Cognito::UserPoolGroup', { GroupName: 'stint-admins' });
    template.hasResourceProperties('AWS::Cognito::UserPoolGroup', { GroupName: 'stint-auditors' });
  });

  it('logs access on the stage and throttles it', () => {
    const stage = onlyResourceOfType(cfn, 'AWS::ApiGatewayV2::Stage')[1].Properties;
    expect(stage.StageName).toBe('$default');
    expect(stage.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
    const logs = z
      .object({
        DestinationArn: z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.literal('Arn')]) }),
        Format: z.string(),
      })
      .parse(stage.AccessLogSettings);
    expect(cfn.Resources[logs.DestinationArn['Fn::GetAtt'][0]]?.Type).toBe('AWS::Logs::LogGroup');
    expect(JSON.parse(logs.Format)).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
  });

  it('routes each path to the function of its entry', () => {
    const integrations = new Map(resourcesOfType(cfn, 'AWS::ApiGatewayV2::Integration'));
    for (const route of routes) {
      const [, r] = resourcesOfType(cfn, 'AWS::ApiGatewayV2::Route').find(
        ([, x]) => x.Properties.RouteKey === `${route.method} ${route.path}`,
      ) ?? [undefined, undefined];
      const target = z
        .object({ 'Fn::Join': z.tuple([z.string(), z.tuple([z.string(), z.object({ Ref: z.string() })])]) })
        .parse(r?.Properties.Target);
      const integration = integrations.get(target['Fn::Join'][1][1].Ref);
      expect(integration?.Properties.IntegrationUri).toEqual({
        'Fn::GetAtt': [functionByEntry(cfn, api(route.entry)).logicalId, 'Arn'],
      });
    }
  });
});

/** The LoadOutput a step answers, as $.load (lib/workflow/contract.ts). */
const ROUTE_SELECTOR = {
  'next.$': '$.Payload.next',
  'waitSeconds.$': '$.Payload.waitSeconds',
  'version.$': '$.Payload.version',
  'driver.$': '$.Payload.driver',
  'branch.$': '$.Payload.branch',
  'integrationIds.$': '$.Payload.integrationIds',
};

describe('state machine', () => {
  it('is a Standard state machine with full logging and X-Ray tracing', () => {
    const sm = onlyResourceOfType(cfn, 'AWS::StepFunctions::StateMachine')[1].Properties;
    expect(sm.StateMachineType).toBe('STANDARD');
    expect(sm.TracingConfiguration).toEqual({ Enabled: true });
    expect(sm.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: false });
    // Route first: a caller's route in the input skips Load; an input without one ({requestId, attempt}) loads.
    expect(definition.StartAt).toBe(STATE.route);
    expect(state(STATE.route).Choices?.[0]).toEqual({
      Not: { Variable: '$.load.branch', IsPresent: true },
      Next: STATE.load,
    });
  });

  it('names its states with the exported constants', () => {
    expect(Object.keys(definition.States).sort()).toEqual([...Object.values(STATE), ...DRIVER_STATES].sort());
  });

  it('has exactly two .waitForTaskToken tasks, on register-token, timed out by $.load.waitSeconds', () => {
    const waits = Object.entries(definition.States).filter(([, s]) =>
      s.Resource?.endsWith(':states:::lambda:invoke.waitForTaskToken'),
    );
    expect(waits.map(([name]) => name).sort()).toEqual([STATE.awaitApproval, STATE.awaitExpiry].sort());
    const registerToken = functionByEntry(cfn, step('register-token')).logicalId;
    for (const [name, s] of waits) {
      expect(s.TimeoutSecondsPath).toBe('$.load.waitSeconds');
      expect(s.TimeoutSeconds).toBeUndefined();
      expect(s.Parameters).toEqual({
        FunctionName: `<Fn::GetAtt:${registerToken}.Arn>`,
        Payload: {
          'requestId.$': '$.requestId',
          'attempt.$': '$.attempt',
          kind: name === STATE.awaitApproval ? 'approval' : 'active',
          'taskToken.$': '$$.Task.Token',
          'version.$': '$.load.version',
        },
      });
      // SendTaskSuccess's output (the waking caller's route, or {} to load) is the next $.load.
      expect(s.ResultPath).toBe('$.load');
      expect(s.ResultSelector).toBeUndefined();
      expect(s.Next).toBe(STATE.route);
    }
  });

  it('loads into $.load = { next, waitSeconds, version, driver, branch, integrationIds, loaded } and routes every branch', () => {
    const load = state(STATE.load);
    expect(load.ResultPath).toBe('$.load');
    expect(load.ResultSelector).toEqual({ ...ROUTE_SELECTOR, loaded: true });
    expect(load.Next).toBe(STATE.route);
    const route = state(STATE.route);
    expect(route.Choices?.slice(1).every((c) => c.Variable === '$.load.branch')).toBe(true);
    const targets = Object.fromEntries(
      route.Choices?.flatMap((c) => (c.StringEquals === undefined ? [] : [[c.StringEquals, c.Next]])) ?? [],
    );
    // Every Next value: the steps by name, each driver action once per driver type (`<action>:<type>`).
    expect(targets).toEqual({
      'await-approval': STATE.awaitApproval,
      'await-expiry': STATE.awaitExpiry,
      poll: STATE.poll,
      done: STATE.done,
      ...Object.fromEntries(
        DriverAction.options.flatMap((action) =>
          DRIVER_TYPES.map((type) => [branchOf(action, type), driverState(action, type)]),
        ),
      ),
    });
    expect(Next.options.every((next) => DRIVER_TYPES.some((type) => branchOf(next, type) in targets))).toBe(true);
    expect(state(STATE.done).Type).toBe('Succeed');
    // An unknown branch: a caller's route goes to Load; one Load itself returned fails the execution (no loop).
    expect(route.Default).toBe(STATE.reload);
    const reload = state(STATE.reload);
    expect(reload.Choices).toEqual([{ Variable: '$.load.loaded', IsPresent: true, Next: STATE.unroutable }]);
    expect(reload.Default).toBe(STATE.load);
    expect(state(STATE.unroutable).Type).toBe('Fail');
  });

  it('invokes the driver function of each type for its actions, then routes on the route it answers', () => {
    for (const action of DriverAction.options) {
      for (const type of DRIVER_TYPES) {
        const task = state(driverState(action, type));
        const fn = functionByEntry(cfn, driverEntry(type)).logicalId;
        expect(task.Parameters).toEqual({
          FunctionName: `<Fn::GetAtt:${fn}.Arn>`,
          // The route that chose the step: its integrationIds are read with the request (one BatchGetItem).
          Payload: { 'requestId.$': '$.requestId', 'attempt.$': '$.attempt', action, 'route.$': '$.load' },
        });
        expect(task.ResultPath).toBe('$.load');
        // Load's selector without `loaded`: a branch it does not know goes to Load (Reload), not to Unroutable.
        expect(task.ResultSelector).toEqual(ROUTE_SELECTOR);
        expect(task.Next).toBe(STATE.route);
      }
    }
  });

  it('waits in Poll for $.load.waitSeconds when a driver answered pending, then loads again', () => {
    const poll = state(STATE.poll);
    expect(poll.Type).toBe('Wait');
    expect(poll.SecondsPath).toBe('$.load.waitSeconds');
    expect(poll.Next).toBe(STATE.load);
  });

  it('invokes from each Task state the step function of the contract', () => {
    for (const [name, stepName] of Object.entries(STATE_STEP)) {
      const fn = functionByEntry(cfn, step(stepName)).logicalId;
      expect(state(name).Parameters?.FunctionName, name).toBe(`<Fn::GetAtt:${fn}.Arn>`);
      expect(state(name).Type).toBe('Task');
    }
  });

  it.each(DRIVER_TYPES)('retries the %s grant, but never a GrantPermanentError', (type) => {
    const retry = state(driverState('grant', type)).Retry ?? [];
    const permanent = retry.findIndex((r) => r.ErrorEquals.includes(GRANT_PERMANENT_ERROR));
    const all = retry.findIndex((r) => r.ErrorEquals.includes('States.ALL'));
    expect(permanent).toBeGreaterThanOrEqual(0);
    expect(retry[permanent]).toEqual({ ErrorEquals: [GRANT_PERMANENT_ERROR], MaxAttempts: 0 });
    // Retriers apply in order: the permanent error must be matched before States.ALL.
    expect(all).toBeGreaterThan(permanent);
    expect(retry[all]?.MaxAttempts).toBeGreaterThan(0);
  });

  it.each(DRIVER_TYPES)('retries the %s revoke for hours before giving up', (type) => {
    const retrier = (state(driverState('revoke', type)).Retry ?? []).find((r) => r.ErrorEquals.includes('States.ALL'));
    expect(retrier).toEqual({
      ErrorEquals: ['States.ALL'],
      IntervalSeconds: REVOKE_RETRY.interval.toSeconds(),
      BackoffRate: REVOKE_RETRY.backoffRate,
      MaxDelaySeconds: REVOKE_RETRY.maxDelay.toSeconds(),
      MaxAttempts: REVOKE_RETRY.maxAttempts,
    });
    let total = 0;
    for (let attempt = 0; attempt < (retrier?.MaxAttempts ?? 0); attempt++) {
      total += Math.min(
        (retrier?.IntervalSeconds ?? 0) * (retrier?.BackoffRate ?? 1) ** attempt,
        retrier?.MaxDelaySeconds ?? 0,
      );
    }
    expect(total).toBe(12_690);
    expect(total).toBeGreaterThan(3 * 3600);
  });

  it('catches into GrantFailed, RevokeFailed and TimeOut with the error at $.error', () => {
    const catchOf = (name: string) =>
      Object.fromEntries((state(name).Catch ?? []).map((c) => [c.ErrorEquals.join(','), [c.Next, c.ResultPath]]));
    for (const type of DRIVER_TYPES) {
      expect(catchOf(driverState('grant', type))).toEqual({ 'States.ALL': [STATE.grantFailed, '$.error'] });
      expect(catchOf(driverState('revoke', type))).toEqual({ 'States.ALL': [STATE.revokeFailed, '$.error'] });
      expect(catchOf(driverState('apply-extension', type))).toEqual({ 'States.ALL': [STATE.load, '$.error'] });
      // The request has ended: a failing cleanup ends the execution; the reconciler restarts cleanups still due.
      expect(catchOf(driverState('cleanup', type))).toEqual({ 'States.ALL': [STATE.done, '$.error'] });
    }
    expect(catchOf(STATE.awaitApproval)).toEqual({
      'States.Timeout': [STATE.timeOut, '$.error'],
      'States.ALL': [STATE.load, '$.error'],
    });
    expect(catchOf(STATE.awaitExpiry)).toEqual({
      'States.Timeout': [STATE.load, '$.error'],
      'States.ALL': [STATE.load, '$.error'],
    });
    for (const failed of [STATE.grantFailed, STATE.revokeFailed]) {
      expect(state(failed).Parameters?.Payload).toEqual({
        'requestId.$': '$.requestId',
        'attempt.$': '$.attempt',
        'error.$': '$.error',
      });
      expect(state(failed).Next).toBe(STATE.load);
    }
    expect(state(STATE.timeOut).Next).toBe(STATE.load);
  });

  it('sets an explicit timeout on every synchronous task', () => {
    for (const [name, s] of Object.entries(definition.States)) {
      if (s.Type !== 'Task' || s.TimeoutSecondsPath !== undefined) continue;
      expect(s.TimeoutSeconds, name).toBeGreaterThan(0);
    }
  });

  it('alarms on failed executions and on the RevokeFailed metric, to the alarm topic', () => {
    const topic = logicalIdOfType('AWS::SNS::Topic');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsFailed',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: logicalIdOfType('AWS::StepFunctions::StateMachine') } }],
      Threshold: 1,
      AlarmActions: [{ Ref: topic }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Stint',
      MetricName: 'RevokeFailed',
      Dimensions: [{ Name: 'service', Value: REVOKE_FAILED_METRIC.dimensions.service }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: topic }],
    });
    // Powertools puts POWERTOOLS_SERVICE_NAME in the `service` dimension: the alarm and the function must agree.
    expect(functionByEntry(cfn, step('revoke-failed')).Environment.Variables).toMatchObject({
      POWERTOOLS_SERVICE_NAME: REVOKE_FAILED_METRIC.dimensions.service,
      POWERTOOLS_METRICS_NAMESPACE: REVOKE_FAILED_METRIC.namespace,
    });
  });
});

describe('table and keys', () => {
  it('creates the table of lib/store/table.ts with stream, PITR, TTL and deletion protection, on demand', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      GlobalSecondaryIndexes: TABLE.indexes.map((i) => ({
        IndexName: i.name,
        KeySchema: [
          { AttributeName: i.partitionKey, KeyType: 'HASH' },
          { AttributeName: i.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
      Replicas: [
        Match.objectLike({
          DeletionProtectionEnabled: true,
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        }),
      ],
    });
  });

  it('generates a 64-character credentials sealing key', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ PasswordLength: 64, ExcludePunctuation: true }),
    });
  });
});

describe('audit events', () => {
  it('creates the stint bus with an archive of it', () => {
    const bus = logicalIdOfType('AWS::Events::EventBus');
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'stint' });
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [bus, 'Arn'] },
      RetentionDays: 365,
    });
  });

  it('feeds the publisher from the table stream with bisect, partial failures and an on-failure DLQ', () => {
    const publisher = functionByEntry(cfn, 'functions/events/publisher.ts');
    const queue = logicalIdOfType('AWS::SQS::Queue');
    const [, mapping] = onlyResourceOfType(cfn, 'AWS::Lambda::EventSourceMapping');
    expect(mapping.Properties).toMatchObject({
      FunctionName: { Ref: publisher.logicalId },
      EventSourceArn: { 'Fn::GetAtt': [expect.any(String), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 86_400,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queue, 'Arn'] } } },
      // Records that are no audit event are not delivered (test/lib/events/stream-filter.test.ts); no batching window.
      FilterCriteria: { Filters: PUBLISHER_FILTERS.map((pattern) => ({ Pattern: JSON.stringify(pattern) })) },
    });
    expect(mapping.Properties.MaximumBatchingWindowInSeconds).toBeUndefined();
  });

  it('lets the publisher put events on the stint bus only', () => {
    const publisher = 'functions/events/publisher.ts';
    expect(allowedResources(cfn, publisher, 'events:PutEvents')).toEqual([
      { 'Fn::GetAtt': [logicalIdOfType('AWS::Events::EventBus'), 'Arn'] },
    ]);
    expect(allowedResources(cfn, api('create-request'), 'events:PutEvents')).toEqual([]);
  });

  it('refuses plain HTTP on the dead-letter queue and alarms when it holds a message', () => {
    const queue = logicalIdOfType('AWS::SQS::Queue');
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queue }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });
});

describe('reconciler', () => {
  it('runs every 5 minutes', () => {
    const reconciler = functionByEntry(cfn, step('reconciler'));
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [reconciler.logicalId, 'Arn'] } })],
    });
  });

  it('may start, describe and resume executions, list requests by status and update them', () => {
    const actions = allowedActions(cfn, step('reconciler'));
    for (const action of ['states:StartExecution', 'states:DescribeExecution', 'states:SendTaskSuccess']) {
      expect(actions.has(action), action).toBe(true);
    }
    expect(actions.has('states:SendTaskFailure')).toBe(false);
    expect(tableGrants(cfn, step('reconciler')).actions).toEqual(['GetItem', 'PutItem', 'Query:gsi1', 'Query:gsi2']);
    expect(actions.has('secretsmanager:GetSecretValue')).toBe(false);
  });

  it('runs the orphan sweep every hour, on the same function with { sweep: true }', () => {
    const reconciler = functionByEntry(cfn, step('reconciler'));
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [reconciler.logicalId, 'Arn'] },
          Input: JSON.stringify({ sweep: true }),
        }),
      ],
    });
  });

  it('may invoke the driver functions of the swept types only, and publish to the bus', () => {
    const reconciler = functionByEntry(cfn, step('reconciler'));
    const invoke = statementsOf(cfn, step('reconciler')).filter((st) =>
      st.actions.some((a) => a.startsWith('lambda:')),
    );
    expect(invoke).toHaveLength(1);
    expect(invoke[0]?.actions).toEqual(['lambda:InvokeFunction']);
    const swept = ['postgresql', 'mysql', 'redis'].map((type) => ({
      'Fn::GetAtt': [functionByEntry(cfn, `functions/workflow/driver-${type}.ts`).logicalId, 'Arn'],
    }));
    expect(invoke[0]?.resources).toEqual(swept);
    expect(allowedActions(cfn, step('reconciler')).has('events:PutEvents')).toBe(true);
    expect(reconciler.Environment.Variables).toHaveProperty('STINT_DRIVER_FUNCTIONS');
    expect(reconciler.Environment.Variables).toHaveProperty('STINT_EVENT_BUS_NAME');
  });
});

describe('least privilege', () => {
  const stateMachineRef = () => ({ Ref: logicalIdOfType('AWS::StepFunctions::StateMachine') });
  /** The credentials key (the other secret is the SCIM token, tested under HTTP API). */
  const keyRef = () => {
    const found = resourcesOfType(cfn, 'AWS::SecretsManager::Secret').find(([id]) => id.includes('CredentialsKey'));
    if (found === undefined) throw new Error('no CredentialsKey secret');
    return { Ref: found[0] };
  };

  it('lets create-request start executions but not send task results', () => {
    expect(allowedResources(cfn, api('create-request'), 'states:StartExecution')).toEqual([stateMachineRef()]);
    expect(allowedActions(cfn, api('create-request')).has('states:SendTaskSuccess')).toBe(false);
  });

  it('lets approve-request send task success but not read the credentials key', () => {
    expect(allowedResources(cfn, api('approve-request'), 'states:SendTaskSuccess')).toEqual([stateMachineRef()]);
    expect(allowedActions(cfn, api('approve-request')).has('secretsmanager:GetSecretValue')).toBe(false);
    expect(
      functionByEntry(cfn, api('approve-request')).Environment.Variables.STINT_CREDENTIALS_KEY_REF,
    ).toBeUndefined();
  });

  it('lets only get-access and the driver functions read the credentials key', () => {
    const readers = lambdaFunctions(cfn)
      .filter(
        (f) =>
          typeof f.entry === 'string' &&
          allowedResources(cfn, f.entry, 'secretsmanager:GetSecretValue').some(
            (r) => JSON.stringify(r) === JSON.stringify(keyRef()),
          ),
      )
      .map((f) => f.entry);
    expect(readers.sort()).toEqual([api('get-access'), ...DRIVER_TYPES.map(driverEntry)].sort());
    expect(functionByEntry(cfn, api('get-access')).Environment.Variables.STINT_CREDENTIALS_KEY_REF).toEqual(keyRef());
  });

  it('lets the PostgreSQL driver function read secrets only under the configured prefix', () => {
    const resources = allowedResources(cfn, driverEntry('postgresql'), 'secretsmanager:GetSecretValue');
    const prefixArn = {
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':secretsmanager:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':secret:stint/*',
        ],
      ],
    };
    expect(resources).toHaveLength(2);
    expect(resources).toEqual(expect.arrayContaining([keyRef(), prefixArn]));
    expect(resources).not.toContain('*');
    expect(allowedResources(cfn, step('load'), 'secretsmanager:GetSecretValue')).toEqual([]);
  });

  it('tells put-integration and the driver functions the prefix integration secrets must live under', () => {
    for (const entry of [api('put-integration'), ...DRIVER_TYPES.map(driverEntry)]) {
      expect(functionByEntry(cfn, entry).Environment.Variables.STINT_SECRETS_PREFIX, entry).toBe('stint/');
    }
  });

  it('gives read-only routes no write access to the table', () => {
    const actions = allowedActions(cfn, api('list-requests'));
    expect(actions.has('dynamodb:Query')).toBe(true);
    expect(actions.has('dynamodb:PutItem')).toBe(false);
    expect(allowedActions(cfn, api('put-flow')).has('dynamodb:PutItem')).toBe(true);
    expect(allowedActions(cfn, api('health')).has('dynamodb:GetItem')).toBe(false);
    expect(allowedActions(cfn, api('auth-config')).has('dynamodb:GetItem')).toBe(false);
  });

  it('gives the directory admin routes the table only: reads read, writes write (pointers, memberships)', () => {
    const reads = ['list-directory-users', 'get-directory-user', 'list-directory-groups', 'get-directory-group'];
    const writes = [
      'put-directory-user',
      'delete-directory-user',
      'put-directory-user-accounts',
      'put-directory-group',
      'delete-directory-group',
    ];
    for (const entry of [...reads, ...writes]) {
      const actions = [...allowedActions(cfn, api(entry))];
      const writesTable = writes.includes(entry);
      expect(actions.includes('dynamodb:GetItem'), entry).toBe(true);
      // Every write route claims or replaces items (PutItem); only deletes and group writes remove memberships.
      expect(actions.includes('dynamodb:PutItem'), entry).toBe(writesTable);
      expect(actions.includes('dynamodb:DeleteItem'), entry).toBe(writesTable);
      const batchWrites = ['delete-directory-user', 'put-directory-group', 'delete-directory-group'].includes(entry);
      expect(actions.includes('dynamodb:BatchWriteItem'), entry).toBe(batchWrites);
      expect(
        actions.filter((a) => /^(states|secretsmanager|kms|lambda|events|sqs):/.test(a)),
        entry,
      ).toEqual([]);
    }
  });

  it('gives each API function exactly the access its route lists', () => {
    for (const route of routes) {
      const actions = allowedActions(cfn, api(route.entry));
      const env = functionByEntry(cfn, api(route.entry)).Environment.Variables;
      const access = new Set(route.access);
      expect(tableGrants(cfn, api(route.entry)).actions, route.entry).toEqual([...route.dynamo].sort());
      expect(actions.has('states:StartExecution'), route.entry).toBe(access.has('startExecution'));
      expect(actions.has('states:SendTaskSuccess'), route.entry).toBe(access.has('taskSuccess'));
      expect(actions.has('states:SendTaskFailure'), route.entry).toBe(access.has('taskFailure'));
      expect(actions.has('secretsmanager:GetSecretValue'), route.entry).toBe(access.has('credentialsKey'));
      expect('STINT_TABLE_NAME' in env, route.entry).toBe(route.dynamo.length > 0);
    }
  });
});

describe('functions', () => {
  it('builds every function with the house construct: Node 22 on arm64, tracing, own log group, entry metadata', () => {
    const functions = lambdaFunctions(cfn);
    for (const fn of functions) {
      expect(fn.Runtime, fn.logicalId).toBe('nodejs22.x');
      expect(fn.Architectures).toEqual(['arm64']);
      expect(fn.TracingConfig.Mode).toBe('Active');
      expect(fn.Environment.Variables).toMatchObject({
        STINT_ADMIN_GROUP: 'stint-admins',
        STINT_AUDITOR_GROUP: 'stint-auditors',
        NODE_OPTIONS: '--enable-source-maps',
      });
      expect(cfn.Resources[fn.LoggingConfig.LogGroup.Ref]?.Properties.RetentionInDays).toBe(365);
      expect(typeof fn.entry, `${fn.logicalId} has no ${ENTRY_METADATA_KEY}`).toBe('string');
      expect(existsSync(join(REPO_ROOT, String(fn.entry))), String(fn.entry)).toBe(true);
    }
    expect(functions.map((f) => f.entry).sort()).toEqual(
      [
        ...routes.map((r) => api(r.entry)),
        ...scimEntries.map((e) => `functions/scim/${e}.ts`),
        ...STEP_FUNCTIONS.map(step),
        ...DRIVER_TYPES.map(driverEntry),
        step('reconciler'),
        'functions/events/publisher.ts',
      ].sort(),
    );
  });

  it('outputs the API URL, issuer, bus name and table name', () => {
    const outputs = Object.keys(template.toJSON().Outputs ?? {});
    expect(outputs).toEqual(expect.arrayContaining(['ApiUrl', 'Issuer', 'EventBusName', 'TableName']));
  });
});

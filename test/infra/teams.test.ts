import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseStintConfig } from '#infra/config.ts';
import type { StintStack } from '#infra/stint-stack.ts';
import { TEAMS_EVENT_TYPES } from '#lib/channels/teams/notify.ts';
import { STALE_CLAIM_SECONDS } from '#lib/channels/teams/state.ts';
import {
  allowedActions,
  allowedResources,
  type CfnTemplate,
  functionByEntry,
  lambdaFunctions,
  resourcesOfType,
  synth,
} from './synth.ts';

const APP_ID = '6f1c2a4e-1b2c-4d3e-8f90-a1b2c3d4e5f6';
const ENTRY = 'functions/callbacks/teams-messages.ts';
const NOTIFY = 'functions/notify/teams.ts';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const PASSWORD = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/teams-bot-AbCdEf';

function openRoutes(cfn: CfnTemplate): string[] {
  return resourcesOfType(cfn, 'AWS::ApiGatewayV2::Route')
    .filter(([, r]) => r.Properties.AuthorizationType !== 'JWT')
    .map(([, r]) => String(r.Properties.RouteKey))
    .sort();
}

describe('Teams (not configured)', () => {
  it('creates nothing Teams without a teams section', () => {
    const { cfn } = synth({ stackName: 'StintTest' });
    const keys = resourcesOfType(cfn, 'AWS::ApiGatewayV2::Route').map(([, r]) => String(r.Properties.RouteKey));
    expect(keys.filter((k) => k.includes('/webhooks/teams'))).toEqual([]);
    expect(JSON.stringify(cfn)).not.toContain('teams-messages');
    expect(JSON.stringify(cfn)).not.toContain('STINT_TEAMS_APP_ID');
  });
});

describe('Teams (configured)', () => {
  let stack: StintStack;
  let cfn: CfnTemplate;
  beforeAll(() => {
    ({ stack, cfn } = synth({ stackName: 'StintTest', teams: { appId: APP_ID } }));
  });

  it('adds only POST /webhooks/teams to the routes without the JWT authorizer (the handler checks the token)', () => {
    const without = openRoutes(synth({ stackName: 'StintTest' }).cfn);
    expect(without).not.toContain('POST /webhooks/teams');
    expect(openRoutes(cfn)).toEqual([...without, 'POST /webhooks/teams'].sort());
    const [, route] =
      resourcesOfType(cfn, 'AWS::ApiGatewayV2::Route').find(
        ([, r]) => r.Properties.RouteKey === 'POST /webhooks/teams',
      ) ?? [];
    expect(route).toBeDefined();
    expect(route?.Properties.AuthorizationType ?? 'NONE').toBe('NONE');
  });

  it('gives the function the app id and lets it vote (table, task tokens) but not start executions', () => {
    const env = functionByEntry(cfn, ENTRY).Environment?.Variables ?? {};
    expect(env.STINT_TEAMS_APP_ID).toBe(APP_ID);
    expect(env.STINT_TEAMS_OPENID_METADATA_URL).toBeUndefined();
    expect(env.STINT_TEAMS_TENANT_ID).toBeUndefined();
    const actions = allowedActions(cfn, ENTRY);
    expect(actions.has('states:SendTaskSuccess')).toBe(true);
    expect(actions.has('dynamodb:PutItem')).toBe(true);
    expect(actions.has('states:StartExecution')).toBe(false);
    expect(actions.has('secretsmanager:GetSecretValue')).toBe(false);
  });

  it('sends nothing without appPasswordRef: no notify function, no rule', () => {
    expect(lambdaFunctions(cfn).map((f) => f.entry)).not.toContain(NOTIFY);
    expect(JSON.stringify(cfn)).not.toContain('STINT_TEAMS_APP_PASSWORD_REF');
  });

  it('reports no unacknowledged cdk-nag finding', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(
      report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
    ).toEqual([]);
  });

  it('refuses an app id that is not a GUID and a plain-HTTP metadata URL in a deployed stack', () => {
    expect(() => synth({ stackName: 'StintTest', teams: { appId: 'my-bot' } })).toThrow('teams.appId');
    expect(() =>
      synth({ stackName: 'StintTest', teams: { appId: APP_ID, openIdMetadataUrl: 'http://127.0.0.1:9/x' } }),
    ).toThrow('teams.openIdMetadataUrl');
  });
});

describe('Teams proactive cards (appPasswordRef and tenantId set)', () => {
  let stack: StintStack;
  let cfn: CfnTemplate;
  beforeAll(() => {
    ({ stack, cfn } = synth({
      stackName: 'StintTest',
      teams: { appId: APP_ID, tenantId: TENANT, appPasswordRef: PASSWORD },
    }));
  });

  it('routes every request and grant event Teams shows to the notify function, with retries and a dead-letter queue', () => {
    const rules = resourcesOfType(cfn, 'AWS::Events::Rule').filter(([, r]) =>
      JSON.stringify(r.Properties.Targets ?? []).includes(functionByEntry(cfn, NOTIFY).logicalId),
    );
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0] ?? [];
    expect(rule?.Properties.EventPattern).toEqual({ source: ['stint'], 'detail-type': [...TEAMS_EVENT_TYPES] });
    const targets = rule?.Properties.Targets as { RetryPolicy?: unknown; DeadLetterConfig?: { Arn: unknown } }[];
    expect(targets).toHaveLength(1);
    expect(targets[0]?.RetryPolicy).toEqual({ MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 });
    const dlq = JSON.stringify(targets[0]?.DeadLetterConfig?.Arn);
    const queues = resourcesOfType(cfn, 'AWS::SQS::Queue').filter(([id]) => dlq.includes(id));
    expect(queues).toHaveLength(1);
    expect(queues[0]?.[1].Properties.SqsManagedSseEnabled).toBe(true);

    // A run that throws is retried by Lambda's asynchronous invocation, then sent to the same queue.
    const configs = resourcesOfType(cfn, 'AWS::Lambda::EventInvokeConfig').filter(([, r]) =>
      JSON.stringify(r.Properties.FunctionName).includes(functionByEntry(cfn, NOTIFY).logicalId),
    );
    expect(configs).toHaveLength(1);
    const [, config] = configs[0] ?? [];
    expect(config?.Properties.MaximumRetryAttempts).toBe(2);
    expect(JSON.stringify(config?.Properties.DestinationConfig)).toContain(queues[0]?.[0]);
    expect(allowedResources(cfn, NOTIFY, 'sqs:SendMessage')).toEqual([{ 'Fn::GetAtt': [queues[0]?.[0], 'Arn'] }]);
  });

  it('stops a notify run before its send claims may be taken over, so a live run never races a takeover', () => {
    // A claim older than STALE_CLAIM_SECONDS is taken over by the next delivery: only a dead run may leave one.
    expect(functionByEntry(cfn, NOTIFY).Timeout).toBeLessThan(STALE_CLAIM_SECONDS);
  });

  it('gives the notify function the secret reference and endpoints, never the secret, and may read only that secret', () => {
    const env = functionByEntry(cfn, NOTIFY).Environment?.Variables ?? {};
    expect(env).toMatchObject({
      STINT_TEAMS_APP_ID: APP_ID,
      STINT_TEAMS_TENANT_ID: TENANT,
      STINT_TEAMS_APP_PASSWORD_REF: PASSWORD,
      STINT_TEAMS_SERVICE_URL: 'https://smba.trafficmanager.net/teams/',
      STINT_TEAMS_GRAPH_LOOKUP: 'true',
    });
    expect(env.STINT_TEAMS_LOGIN_URL).toBeUndefined();
    expect(allowedResources(cfn, NOTIFY, 'secretsmanager:GetSecretValue')).toEqual([PASSWORD]);
    const actions = allowedActions(cfn, NOTIFY);
    expect(actions.has('dynamodb:PutItem')).toBe(true);
    expect(actions.has('dynamodb:Query')).toBe(true);
    expect(actions.has('states:SendTaskSuccess')).toBe(false);
    expect(actions.has('states:StartExecution')).toBe(false);
  });

  it('lets the webhook function read exactly the bot’s secret (Graph lookup of an unlinked clicker), and pins the tenant', () => {
    const env = functionByEntry(cfn, ENTRY).Environment?.Variables ?? {};
    expect(env).toMatchObject({
      STINT_TEAMS_APP_ID: APP_ID,
      STINT_TEAMS_TENANT_ID: TENANT,
      STINT_TEAMS_APP_PASSWORD_REF: PASSWORD,
      STINT_TEAMS_GRAPH_LOOKUP: 'true',
    });
    expect(allowedResources(cfn, ENTRY, 'secretsmanager:GetSecretValue')).toEqual([PASSWORD]);
    expect(allowedActions(cfn, ENTRY).has('secretsmanager:ListSecrets')).toBe(false);
  });

  it('reports no unacknowledged cdk-nag finding', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(
      report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
    ).toEqual([]);
  });

  it('refuses appPasswordRef without tenantId, env: secrets and plain-HTTP endpoints in a deployed stack', () => {
    expect(() => synth({ stackName: 'StintTest', teams: { appId: APP_ID, appPasswordRef: PASSWORD } })).toThrow(
      'teams.tenantId: is required with appPasswordRef',
    );
    expect(() =>
      synth({ stackName: 'StintTest', teams: { appId: APP_ID, tenantId: TENANT, appPasswordRef: 'env:TEAMS_BOT' } }),
    ).toThrow('teams.appPasswordRef');
    for (const field of ['serviceUrl', 'loginUrl', 'graphUrl']) {
      expect(() =>
        synth({
          stackName: 'StintTest',
          teams: { appId: APP_ID, tenantId: TENANT, appPasswordRef: PASSWORD, [field]: 'http://127.0.0.1:9/' },
        }),
      ).toThrow(`teams.${field}`);
    }
    expect(() =>
      synth({ stackName: 'StintTest', teams: { appId: APP_ID, tenantId: 'contoso', appPasswordRef: PASSWORD } }),
    ).toThrow('teams.tenantId: must be the Entra ID tenant id');
  });

  it('keeps the bot’s secret from the webhook function when graphLookup is off (linked accounts only)', () => {
    const { stack: off, cfn: offCfn } = synth({
      stackName: 'StintTest',
      teams: { appId: APP_ID, tenantId: TENANT, appPasswordRef: PASSWORD, graphLookup: false },
    });
    const env = functionByEntry(offCfn, ENTRY).Environment?.Variables ?? {};
    expect(env.STINT_TEAMS_TENANT_ID).toBe(TENANT);
    expect(env.STINT_TEAMS_APP_PASSWORD_REF).toBeUndefined();
    expect(allowedActions(offCfn, ENTRY).has('secretsmanager:GetSecretValue')).toBe(false);
    // The notify function still sends cards with it.
    expect(allowedResources(offCfn, NOTIFY, 'secretsmanager:GetSecretValue')).toEqual([PASSWORD]);
    const report = new AwsSolutionsChecks().validateScope(off);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });

  it('pins the tenant without a client secret, and gives the webhook function no secret to read', () => {
    const { cfn: pinned } = synth({ stackName: 'StintTest', teams: { appId: APP_ID, tenantId: TENANT } });
    const env = functionByEntry(pinned, ENTRY).Environment?.Variables ?? {};
    expect(env.STINT_TEAMS_TENANT_ID).toBe(TENANT);
    expect(env.STINT_TEAMS_APP_PASSWORD_REF).toBeUndefined();
    expect(allowedActions(pinned, ENTRY).has('secretsmanager:GetSecretValue')).toBe(false);
  });

  it('accepts env: secrets and plain-HTTP stand-ins locally', () => {
    const config = parseStintConfig(
      {
        stackName: 'StintTest',
        teams: {
          appId: APP_ID,
          tenantId: TENANT,
          appPasswordRef: 'env:TEAMS_BOT',
          serviceUrl: 'http://127.0.0.1:9/',
          loginUrl: 'http://127.0.0.1:9/t/oauth2/v2.0/token',
          graphUrl: 'http://127.0.0.1:9',
          graphLookup: false,
        },
      },
      'stint.config.ts',
      { mode: 'local' },
    );
    expect(config.teams).toMatchObject({ serviceUrl: 'http://127.0.0.1:9/', graphLookup: false });
  });
});

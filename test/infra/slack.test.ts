import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { routes } from '#functions/api/routes.ts';
import { slackWebhookRoutes } from '#functions/callbacks/routes.ts';
import { scimRoutes } from '#functions/scim/routes.ts';
import { NOTIFY_ASYNC } from '#infra/constructs/notify-rule.ts';
import type { StintStack } from '#infra/stint-stack.ts';
import { STALE_CLAIM_SECONDS } from '#lib/channels/slack/state.ts';
import {
  allowedActions,
  allowedResources,
  type CfnTemplate,
  functionByEntry,
  resourcesOfType,
  synth,
} from './synth.ts';

const SIGNING = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/slack-signing-AbCdEf';
const TOKEN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/slack-bot-GhIjKl';

let stack: StintStack;
let cfn: CfnTemplate;

beforeAll(() => {
  ({ stack, cfn } = synth({ stackName: 'StintTest', slack: { signingSecretRef: SIGNING, botTokenRef: TOKEN } }));
});

describe('Slack (configured)', () => {
  it('puts the JWT authorizer on every route except /health, /auth-config, SCIM (its own bearer token) and the Slack webhooks', () => {
    const open = resourcesOfType(cfn, 'AWS::ApiGatewayV2::Route')
      .filter(([, r]) => r.Properties.AuthorizationType !== 'JWT')
      .map(([, r]) => String(r.Properties.RouteKey))
      .filter((key) => !key.split(' ')[1]?.startsWith('/scim/v2/'));
    expect(open.sort()).toEqual([
      'GET /auth-config',
      'GET /health',
      'POST /webhooks/slack/commands',
      'POST /webhooks/slack/interactions',
    ]);
    const all = resourcesOfType(cfn, 'AWS::ApiGatewayV2::Route').length;
    expect(all).toBe(routes.length + scimRoutes.length + slackWebhookRoutes.length);
  });

  it('lets the interactions function vote (table, task tokens) and read only the two Slack secrets', () => {
    const entry = 'functions/callbacks/slack-interactions.ts';
    const actions = allowedActions(cfn, entry);
    expect(actions.has('states:SendTaskSuccess')).toBe(true);
    expect(actions.has('dynamodb:PutItem')).toBe(true);
    expect(actions.has('states:StartExecution')).toBe(false);
    expect(allowedResources(cfn, entry, 'secretsmanager:GetSecretValue')).toEqual([SIGNING, TOKEN]);
    const env = functionByEntry(cfn, entry).Environment?.Variables ?? {};
    expect(env.STINT_SLACK_SIGNING_SECRET_REF).toBe(SIGNING);
  });

  it('lets the /stint command function create requests (table, StartExecution) but not resume waits', () => {
    const entry = 'functions/callbacks/slack-commands.ts';
    const actions = allowedActions(cfn, entry);
    expect(actions.has('states:StartExecution')).toBe(true);
    expect(actions.has('dynamodb:PutItem')).toBe(true);
    expect(actions.has('dynamodb:Query')).toBe(true);
    expect(actions.has('states:SendTaskSuccess')).toBe(false);
    expect(actions.has('states:SendTaskFailure')).toBe(false);
    expect(allowedResources(cfn, entry, 'secretsmanager:GetSecretValue')).toEqual([SIGNING, TOKEN]);
    const env = functionByEntry(cfn, entry).Environment?.Variables ?? {};
    expect(env.STINT_SLACK_SIGNING_SECRET_REF).toBe(SIGNING);
    expect(env.STINT_STATE_MACHINE_ARN).toBeDefined();
  });

  it('routes request and grant events to the notify function with a dead-letter queue', () => {
    const rules = resourcesOfType(cfn, 'AWS::Events::Rule').filter(([, r]) =>
      JSON.stringify(r.Properties.EventPattern ?? {}).includes('request.approval_recorded'),
    );
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0] ?? [];
    expect(JSON.stringify(rule?.Properties.Targets)).toContain('DeadLetterConfig');
    expect(allowedActions(cfn, 'functions/notify/slack.ts').has('states:SendTaskSuccess')).toBe(false);
  });

  it('retries a failed notify invocation (Slack down) and then keeps the event on the same dead-letter queue', () => {
    const [, rule] =
      resourcesOfType(cfn, 'AWS::Events::Rule').find(([, r]) =>
        JSON.stringify(r.Properties.EventPattern ?? {}).includes('request.approval_recorded'),
      ) ?? [];
    const ruleDlq = JSON.stringify(rule?.Properties.Targets).match(
      /"DeadLetterConfig":\{"Arn":\{"Fn::GetAtt":\["([^"]+)"/,
    )?.[1];
    expect(ruleDlq).toBeDefined();
    const configs = resourcesOfType(cfn, 'AWS::Lambda::EventInvokeConfig');
    const notify = configs.find(([, c]) => JSON.stringify(c.Properties.FunctionName).includes('NotifySlack'));
    expect(notify?.[1].Properties).toMatchObject({
      MaximumRetryAttempts: NOTIFY_ASYNC.retryAttempts,
      MaximumEventAgeInSeconds: NOTIFY_ASYNC.maxEventAgeHours * 3600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [ruleDlq, 'Arn'] } } },
    });
    expect(allowedActions(cfn, 'functions/notify/slack.ts').has('sqs:SendMessage')).toBe(true);
  });

  it('stops a notify run before its send claims may be taken over, so a live run never races a takeover', () => {
    // A claim older than STALE_CLAIM_SECONDS is taken over by the next delivery: only a dead run may leave one.
    expect(functionByEntry(cfn, 'functions/notify/slack.ts').Timeout).toBeLessThan(STALE_CLAIM_SECONDS);
  });

  it('reports no unacknowledged cdk-nag finding', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(
      report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
    ).toEqual([]);
  });

  it('refuses env: secrets in a deployed stack', () => {
    expect(() => synth({ stackName: 'StintTest', slack: { signingSecretRef: 'env:X', botTokenRef: TOKEN } })).toThrow(
      'slack.signingSecretRef: must be a complete Secrets Manager secret ARN',
    );
  });
});

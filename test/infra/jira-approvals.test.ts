import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { routes } from '#functions/api/routes.ts';
import { jiraWebhookRoutes } from '#functions/callbacks/routes.ts';
import type { StintConfigInput } from '#infra/config.ts';
import type { StintStack } from '#infra/stint-stack.ts';
import {
  allowedActions,
  allowedResources,
  type CfnTemplate,
  functionByEntry,
  lambdaFunctions,
  resourcesOfType,
  synth,
} from './synth.ts';

const secret = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/${name}-AbC123`;
const WEBHOOK = secret('jira-webhook');
const ENTRY = 'functions/callbacks/jira-webhook.ts';

const TARGETS: StintConfigInput['targets'] = [
  {
    name: 'tickets',
    kind: 'jira',
    endpoint: 'https://acme.atlassian.net',
    secretRef: secret('jira'),
    options: { projectKey: 'SEC' },
  },
  {
    name: 'splunk',
    kind: 'splunk-hec',
    endpoint: 'https://splunk.example.com:8088/services/collector/event',
    secretRef: secret('splunk'),
  },
];

const routeKeysWithoutJwt = (cfn: CfnTemplate) =>
  resourcesOfType(cfn, 'AWS::ApiGatewayV2::Route')
    .filter(([, r]) => r.Properties.AuthorizationType !== 'JWT')
    .map(([, r]) => String(r.Properties.RouteKey))
    .filter((key) => !key.includes(' /scim/v2/')) // SCIM checks its own bearer token (dir-scim)
    .sort();

describe('Jira approvals (not configured)', () => {
  it('creates no Jira webhook route or function without jiraApprovals, even with a jira target', () => {
    const { cfn } = synth({ stackName: 'StintTest', targets: TARGETS });
    const keys = resourcesOfType(cfn, 'AWS::ApiGatewayV2::Route').map(([, r]) => String(r.Properties.RouteKey));
    expect(keys.filter((k) => k.includes('/webhooks/jira'))).toEqual([]);
    expect(lambdaFunctions(cfn).filter((fn) => String(fn.entry).includes('jira-webhook'))).toEqual([]);
  });
});

describe('Jira approvals (configured)', () => {
  let stack: StintStack;
  let cfn: CfnTemplate;

  beforeAll(() => {
    ({ stack, cfn } = synth({
      stackName: 'StintTest',
      targets: TARGETS,
      jiraApprovals: { webhookSecretRef: WEBHOOK },
    }));
  });

  it('serves POST /webhooks/jira without the JWT authorizer, and every other API route with it', () => {
    expect(routeKeysWithoutJwt(cfn)).toEqual(['GET /auth-config', 'GET /health', 'POST /webhooks/jira']);
    const keys = resourcesOfType(cfn, 'AWS::ApiGatewayV2::Route').map(([, r]) => String(r.Properties.RouteKey));
    for (const route of [...routes, ...jiraWebhookRoutes]) {
      expect(keys.filter((k) => k === `${route.method} ${route.path}`)).toHaveLength(1);
    }
  });

  it('lets the webhook function vote and read only the webhook secret and the jira targets’ secrets', () => {
    const actions = allowedActions(cfn, ENTRY);
    expect(actions.has('states:SendTaskSuccess')).toBe(true);
    expect(actions.has('dynamodb:PutItem')).toBe(true);
    expect(actions.has('states:StartExecution')).toBe(false);
    expect(allowedResources(cfn, ENTRY, 'secretsmanager:GetSecretValue')).toEqual([WEBHOOK, secret('jira')]);
    const env = functionByEntry(cfn, ENTRY).Environment?.Variables ?? {};
    expect(env.STINT_JIRA_WEBHOOK_SECRET_REF).toBe(WEBHOOK);
    expect(JSON.parse(String(env.STINT_TARGETS)).map((t: { name: string }) => t.name)).toEqual(['tickets']);
  });

  it('reports no unacknowledged cdk-nag finding', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(
      report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
    ).toEqual([]);
  });

  it('refuses jiraApprovals without a jira target', () => {
    expect(() => synth({ stackName: 'StintTest', jiraApprovals: { webhookSecretRef: WEBHOOK } })).toThrow(
      'jiraApprovals: needs a target of kind jira',
    );
  });

  it('refuses an env: webhook secret in a deployed stack', () => {
    expect(() =>
      synth({ stackName: 'StintTest', targets: TARGETS, jiraApprovals: { webhookSecretRef: 'env:JIRA_SECRET' } }),
    ).toThrow('jiraApprovals.webhookSecretRef: must be a complete Secrets Manager secret ARN');
  });
});

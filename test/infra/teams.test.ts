import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StintStack } from '#infra/stint-stack.ts';
import { allowedActions, type CfnTemplate, functionByEntry, resourcesOfType, synth } from './synth.ts';

const APP_ID = '6f1c2a4e-1b2c-4d3e-8f90-a1b2c3d4e5f6';
const ENTRY = 'functions/callbacks/teams-messages.ts';

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
    const actions = allowedActions(cfn, ENTRY);
    expect(actions.has('states:SendTaskSuccess')).toBe(true);
    expect(actions.has('dynamodb:PutItem')).toBe(true);
    expect(actions.has('states:StartExecution')).toBe(false);
    expect(actions.has('secretsmanager:GetSecretValue')).toBe(false);
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

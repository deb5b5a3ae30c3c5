import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StintStack } from '#infra/stint-stack.ts';
import { oncallProvidersOf } from '#lib/oncall/config.ts';
import { allowedResources, type CfnTemplate, functionByEntry, lambdaFunctions, synth } from './synth.ts';

/**
 * On-call providers reach exactly the functions that ask who is on call (votes, request creation, the approval view,
 * the approvals listing, Slack and Teams notifications), with secretsmanager:GetSecretValue on exactly the providers'
 * key ARNs; flow writes get the names only.
 */
const secret = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/${name}-AbC123`;
const PD = secret('pagerduty');
const OG = secret('opsgenie');
const SIGNING = secret('slack-signing');
const TOKEN = secret('slack-bot');

const ASKING = [
  'functions/api/create-request.ts',
  'functions/api/get-request.ts',
  'functions/api/list-requests.ts',
  'functions/api/approve-request.ts',
  'functions/api/reject-request.ts',
  'functions/callbacks/slack-interactions.ts',
  'functions/callbacks/slack-commands.ts',
  'functions/notify/slack.ts',
  'functions/workflow/reconciler.ts',
];

let stack: StintStack;
let cfn: CfnTemplate;

beforeAll(() => {
  ({ stack, cfn } = synth({
    stackName: 'StintTest',
    slack: { signingSecretRef: SIGNING, botTokenRef: TOKEN },
    oncall: [
      { name: 'pagerduty', kind: 'pagerduty', secretRef: PD },
      { name: 'opsgenie', kind: 'opsgenie', region: 'eu', secretRef: OG, cacheSeconds: 30 },
    ],
  }));
});

describe('on-call providers in the stack', () => {
  it('gives each asking function STINT_ONCALL as the runtime parses it, and the providers’ keys only', () => {
    for (const entry of ASKING) {
      const env = functionByEntry(cfn, entry).Environment?.Variables ?? {};
      const providers = oncallProvidersOf({ oncallJson: String(env.STINT_ONCALL) });
      expect(
        providers.map((p) => [p.name, p.kind, p.region, p.cacheSeconds]),
        entry,
      ).toEqual([
        ['pagerduty', 'pagerduty', 'us', 60],
        ['opsgenie', 'opsgenie', 'eu', 30],
      ]);
      const secrets = allowedResources(cfn, entry, 'secretsmanager:GetSecretValue');
      expect(secrets, entry).toEqual(expect.arrayContaining([PD, OG]));
      expect(
        secrets.filter((s) => s !== SIGNING && s !== TOKEN),
        entry,
      ).toEqual([PD, OG]);
    }
  });

  it('gives the flow writer the providers’ names but no key', () => {
    const entry = 'functions/api/put-flow.ts';
    expect(functionByEntry(cfn, entry).Environment?.Variables?.STINT_ONCALL).toBeDefined();
    expect(allowedResources(cfn, entry, 'secretsmanager:GetSecretValue')).toEqual([]);
  });

  it('gives no other function STINT_ONCALL or an on-call key', () => {
    const others = lambdaFunctions(cfn).filter(
      (fn) => ![...ASKING, 'functions/api/put-flow.ts'].includes(String(fn.entry)),
    );
    expect(others.length).toBeGreaterThan(10);
    for (const fn of others) {
      expect(fn.Environment?.Variables?.STINT_ONCALL, String(fn.entry)).toBeUndefined();
      const secrets = allowedResources(cfn, String(fn.entry), 'secretsmanager:GetSecretValue');
      expect(secrets, String(fn.entry)).not.toContain(PD);
      expect(secrets, String(fn.entry)).not.toContain(OG);
    }
  });

  it('reports no unacknowledged cdk-nag finding', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(
      report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
    ).toEqual([]);
  });
});

describe('without on-call providers', () => {
  it('sets STINT_ONCALL on no function', () => {
    const { cfn: plain } = synth({ stackName: 'StintTest' });
    for (const fn of lambdaFunctions(plain)) expect(fn.Environment?.Variables?.STINT_ONCALL).toBeUndefined();
  });
});

import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { parseStintConfig, type StintConfig } from '#infra/config.ts';
import { adminApiStatements, lambdaDeployment, lambdaSpec } from '#infra/drivers/lambda.ts';

const LISTED = 'arn:aws:lambda:eu-west-1:123456789012:function:grant-ledger';
const ALIAS = 'arn:aws:lambda:eu-west-1:123456789012:function:grant-vpn:live';

function configWith(lambda: unknown): StintConfig {
  return Object.assign(parseStintConfig({ stackName: 'StintTest' }), { drivers: { lambda } });
}

/** The driver role's policy as synthesized, with the spec's acknowledgements, and what cdk-nag reports. */
function synth(config: StintConfig) {
  const app = new App();
  const stack = new Stack(app, 'DriverLambda', { env: { account: '123456789012', region: 'eu-west-1' } });
  const role = new iam.Role(stack, 'DriverRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  for (const statement of lambdaSpec.statements(config)) role.addToPolicy(statement);
  for (const ack of lambdaSpec.acknowledgements?.(config) ?? []) Validations.of(role).acknowledge(ack);
  const report = new AwsSolutionsChecks().validateScope(stack);
  const policies = Template.fromStack(stack).findResources('AWS::IAM::Policy');
  const statements = Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
  return { report, statements };
}

describe('lambda DriverSpec', () => {
  it('allows InvokeFunction on the listed functions only (an unqualified ARN with its versions and aliases)', () => {
    const { statements, report } = synth(configWith({ functions: [LISTED, ALIAS] }));

    expect(statements).toEqual([
      {
        Sid: 'InvokeListedIntegrationFunctions',
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: [LISTED, `${LISTED}:*`, ALIAS],
      },
    ]);
    expect(report.violations).toEqual([]);
  });

  it('in tag mode, allows InvokeFunction on this account’s functions tagged stint-integration=true', () => {
    const { statements, report } = synth(configWith({ allowTagged: true }));

    expect(statements).toEqual([
      {
        Sid: 'InvokeTaggedIntegrationFunctions',
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':lambda:*:', { Ref: 'AWS::AccountId' }, ':function:*']],
        },
        Condition: { StringEquals: { 'aws:ResourceTag/stint-integration': 'true' } },
      },
    ]);
    expect(report.violations).toEqual([]);
  });

  it('reports the wildcard to cdk-nag when it is not acknowledged', () => {
    const app = new App();
    const stack = new Stack(app, 'Unacknowledged', { env: { account: '123456789012', region: 'eu-west-1' } });
    const role = new iam.Role(stack, 'DriverRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    for (const statement of lambdaSpec.statements(configWith({ allowTagged: true }))) role.addToPolicy(statement);

    const report = new AwsSolutionsChecks().validateScope(stack);

    expect(report.violations.map((v) => v.ruleName)).toEqual([
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:lambda:*:<AWS::AccountId>:function:*]',
    ]);
  });

  it('gives every acknowledgement a written reason', () => {
    const acks = lambdaSpec.acknowledgements?.(configWith({ functions: [LISTED], allowTagged: true })) ?? [];

    expect(acks.map((a) => a.id)).toEqual([
      `AwsSolutions-IAM5[Resource::${LISTED}:*]`,
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:lambda:*:<AWS::AccountId>:function:*]',
    ]);
    for (const ack of acks) expect(ack.reason.length).toBeGreaterThan(40);
  });

  it('allows nothing without drivers.lambda', () => {
    const config = parseStintConfig({ stackName: 'StintTest' });

    expect(lambdaSpec.statements(config)).toEqual([]);
    expect(lambdaDeployment(config)).toEqual({ functions: [], allowTagged: false });
  });

  it('refuses a drivers.lambda entry that is not a function ARN', () => {
    expect(() => lambdaDeployment(configWith({ functions: ['arn:aws:s3:::bucket'] }))).toThrow(
      'must be a Lambda function ARN',
    );
  });

  it('runs outside the VPC, reads no secrets and outlasts the 60 s invoke timeout', () => {
    expect(lambdaSpec.inVpc).toBe(false);
    expect(lambdaSpec.readsSecrets).toBe(false);
    expect(lambdaSpec.timeout.toSeconds()).toBe(75);
  });

  it('lets the admin API read tags only in tag mode', () => {
    const stack = new Stack();
    const tagMode = adminApiStatements(configWith({ allowTagged: true })).map((s) => stack.resolve(s.toJSON()));

    expect(adminApiStatements(configWith({ functions: [LISTED] }))).toEqual([]);
    expect(tagMode).toEqual([
      {
        Sid: 'ReadIntegrationFunctionTags',
        Effect: 'Allow',
        Action: 'lambda:ListTags',
        Resource: {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':lambda:*:', { Ref: 'AWS::AccountId' }, ':function:*']],
        },
      },
    ]);
  });
});

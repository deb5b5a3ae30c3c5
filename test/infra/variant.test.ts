import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StintConfigInput } from '#infra/config.ts';
import type { StintStack } from '#infra/stint-stack.ts';
import {
  allowedResources,
  type CfnTemplate,
  functionByEntry,
  lambdaFunctions,
  resourcesOfType,
  synth,
} from './synth.ts';

/** A deployment bringing its own issuer and VPC, with alarm email and a different bus and schedule. */
const auth = { issuer: 'https://login.example.com/oauth2/default', audience: ['api://stint', 'stint-cli'] };
const vpc = {
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
  securityGroupIds: ['sg-0123456789abcdef0'],
};
const config: StintConfigInput = {
  stackName: 'StintProd',
  auth,
  secretsPrefix: 'prod/stint/',
  vpc,
  alarmEmail: 'oncall@example.com',
  reconcilerRateMinutes: 1,
  logRetentionDays: 30,
  removalPolicy: 'destroy',
  events: { busName: 'stint-prod', archiveRetentionDays: 30 },
  portal: {
    clientId: 'stint-portal',
    domainName: 'stint.example.com',
    certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d',
  },
};

let stack: StintStack;
let template: Template;
let cfn: CfnTemplate;

beforeAll(() => {
  ({ stack, template, cfn } = synth(config));
});

/** Only database drivers run in the VPC. */
const inVpc = [
  'functions/workflow/driver-postgresql.ts',
  'functions/workflow/driver-mysql.ts',
  'functions/workflow/driver-redis.ts',
];

describe('a configured deployment (own issuer, VPC, alarm email)', () => {
  it('validates JWTs from the configured issuer and audiences, with no Cognito pool', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      JwtConfiguration: { Issuer: auth.issuer, Audience: auth.audience },
    });
    expect(resourcesOfType(cfn, 'AWS::Cognito::UserPool')).toEqual([]);
  });

  it('runs the functions that reach databases, and only those, in the configured subnets', () => {
    for (const fn of lambdaFunctions(cfn)) {
      const expected = typeof fn.entry === 'string' && inVpc.includes(fn.entry);
      expect(fn.VpcConfig !== undefined, String(fn.entry)).toBe(expected);
      if (expected) {
        expect(fn.VpcConfig).toEqual({
          SubnetIds: vpc.subnetIds,
          SecurityGroupIds: vpc.securityGroupIds,
        });
      }
    }
  });

  it('lets the database functions read secrets only under the configured prefix', () => {
    for (const entry of inVpc) {
      const resources = allowedResources(cfn, entry, 'secretsmanager:GetSecretValue').map((r) => JSON.stringify(r));
      expect(
        resources.some((r) => r.includes(':secret:prod/stint/*')),
        entry,
      ).toBe(true);
      expect(
        resources.some((r) => r.includes(':secret:stint/*')),
        entry,
      ).toBe(false);
    }
    expect(functionByEntry(cfn, 'functions/workflow/load.ts').VpcConfig).toBeUndefined();
  });

  it('emails alarms, names the bus, keeps logs and archive as configured, runs the reconciler every minute', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'stint-prod' });
    template.hasResourceProperties('AWS::Events::Archive', { RetentionDays: 30 });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Delete',
      Properties: { Replicas: [Match.objectLike({ DeletionProtectionEnabled: false })] },
    });
  });

  it('passes cdk-nag AwsSolutions with no unacknowledged finding', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { parseStintConfig, StintConfigError } from '#infra/config.ts';
import shipped from '#infra/stint.config.ts';

function errorOf(raw: unknown): string {
  try {
    parseStintConfig(raw);
  } catch (error) {
    if (error instanceof StintConfigError) return error.message;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

const vpc = {
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: ['subnet-0123456789abcdef0'],
  securityGroupIds: ['sg-0123456789abcdef0'],
};

describe('stint.config.ts validation', () => {
  it('accepts the shipped configuration', () => {
    const config = parseStintConfig(shipped);
    expect(config.stackName).toBe('Stint');
    expect(config.auth).toBeUndefined();
  });

  it('fills every default from a configuration naming only the stack', () => {
    expect(parseStintConfig({ stackName: 'Stint' })).toEqual({
      stackName: 'Stint',
      adminGroup: 'stint-admins',
      auditorGroup: 'stint-auditors',
      secretsPrefix: 'stint/',
      reconcilerRateMinutes: 5,
      sweepRateMinutes: 60,
      logRetentionDays: 365,
      removalPolicy: 'retain',
      events: { busName: 'stint', archiveRetentionDays: 365 },
      api: { throttleRateLimit: 50, throttleBurstLimit: 100 },
      portal: { priceClass: 'PriceClass_100', scopes: 'openid email profile', idpOrigins: [] },
      targets: [],
      oncall: [],
      drivers: {},
    });
  });

  it('keeps a full configuration as written', () => {
    const config = parseStintConfig({
      stackName: 'Stint-Prod',
      env: { account: '123456789012', region: 'eu-west-1' },
      auth: { issuer: 'https://login.example.com/oauth2/default', audience: ['api://stint'] },
      adminGroup: 'admins',
      auditorGroup: 'auditors',
      secretsPrefix: 'prod/stint/',
      vpc,
      alarmEmail: 'oncall@example.com',
      reconcilerRateMinutes: 10,
      logRetentionDays: 90,
      removalPolicy: 'destroy',
      events: { busName: 'stint-prod', archiveRetentionDays: 0 },
      api: { throttleRateLimit: 10, throttleBurstLimit: 20 },
      portal: { clientId: '0oa1b2c3d4', scopes: 'openid email profile groups' },
    });
    expect(config.auth).toEqual({ issuer: 'https://login.example.com/oauth2/default', audience: ['api://stint'] });
    expect(config.vpc).toEqual(vpc);
    expect(config.events.archiveRetentionDays).toBe(0);
  });

  it.each([
    [
      { stackName: 'Stint', auth: { issuer: 'http://login.example.com', audience: ['a'] } },
      'stint.config.ts: auth.issuer: must be an https URL',
    ],
    [
      { stackName: 'Stint', auth: { issuer: 'not a url', audience: ['a'] } },
      'stint.config.ts: auth.issuer: must be an https URL',
    ],
    [
      { stackName: 'Stint', auth: { issuer: 'https://id.example.com', audience: [] } },
      'stint.config.ts: auth.audience: must list at least one audience',
    ],
    [{}, 'stint.config.ts: stackName: is required (a CloudFormation stack name)'],
    [{ stackName: '1stint' }, 'stint.config.ts: stackName: must start with a letter'],
    [{ stackName: 'Stint', secretsPrefix: 'stint' }, 'stint.config.ts: secretsPrefix: must end with "/", "-" or "_"'],
    [
      { stackName: 'Stint', secretsPrefix: 'st int/' },
      'stint.config.ts: secretsPrefix: must be a Secrets Manager name prefix',
    ],
    [{ stackName: 'Stint', vpc: { ...vpc, vpcId: 'vpc-xyz' } }, 'stint.config.ts: vpc.vpcId: must be a VPC id (vpc-…)'],
    [
      { stackName: 'Stint', vpc: { ...vpc, subnetIds: [] } },
      'stint.config.ts: vpc.subnetIds: must list at least one subnet id',
    ],
    [
      { stackName: 'Stint', vpc: { ...vpc, securityGroupIds: ['subnet-0123456789abcdef0'] } },
      'stint.config.ts: vpc.securityGroupIds.0: must be a security group id (sg-…)',
    ],
    [{ stackName: 'Stint', alarmEmail: 'oncall' }, 'stint.config.ts: alarmEmail: must be an email address'],
    [{ stackName: 'Stint', reconcilerRateMinutes: 0 }, 'stint.config.ts: reconcilerRateMinutes: must be at least 1'],
    [
      { stackName: 'Stint', reconcilerRateMinutes: 2.5 },
      'stint.config.ts: reconcilerRateMinutes: must be a whole number of minutes',
    ],
    [
      { stackName: 'Stint', logRetentionDays: 10 },
      'stint.config.ts: logRetentionDays: must be one of 1, 3, 5, 7, 14, 30',
    ],
    [
      { stackName: 'Stint', removalPolicy: 'snapshot' },
      'stint.config.ts: removalPolicy: must be "retain" or "destroy"',
    ],
    [{ stackName: 'Stint', events: { busName: 'default' } }, 'stint.config.ts: events.busName: must not be "default"'],
    [{ stackName: 'Stint', env: { region: 'Europe' } }, 'stint.config.ts: env.region: must be an AWS region'],
    [{ stackName: 'Stint', issuer: 'https://id.example.com' }, 'stint.config.ts: Unrecognized key: "issuer"'],
  ])('rejects %j naming the field', (raw, message) => {
    expect(errorOf(raw)).toContain(message);
  });

  it('names every wrong field at once, one per line', () => {
    const lines = errorOf({ stackName: 'Stint', alarmEmail: 'x', reconcilerRateMinutes: -1 }).split('\n');
    expect(lines).toEqual([
      'stint.config.ts: alarmEmail: must be an email address',
      'stint.config.ts: reconcilerRateMinutes: must be at least 1',
    ]);
  });
});

describe('stint.config.ts portal fields', () => {
  const okta = { issuer: 'https://example.okta.com/oauth2/default', audience: ['api://stint'] };
  const certificateArn = 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d';

  it('accepts a custom domain with its us-east-1 certificate, a price class, scopes and sign-in origins', () => {
    const config = parseStintConfig({
      stackName: 'Stint',
      auth: okta,
      portal: {
        domainName: 'stint.example.com',
        certificateArn,
        priceClass: 'PriceClass_All',
        clientId: '0oa1b2c3d4',
        scopes: 'openid email profile groups',
        idpOrigins: ['https://accounts.example.com', 'https://oauth2.example.com:8443'],
      },
    });
    expect(config.portal).toEqual({
      domainName: 'stint.example.com',
      certificateArn,
      priceClass: 'PriceClass_All',
      clientId: '0oa1b2c3d4',
      scopes: 'openid email profile groups',
      idpOrigins: ['https://accounts.example.com', 'https://oauth2.example.com:8443'],
    });
  });

  it("takes the CLI's client at a configured issuer, with its scopes defaulting to refreshable OIDC ones", () => {
    const config = parseStintConfig({
      stackName: 'Stint',
      auth: okta,
      portal: { clientId: 'p' },
      cli: { clientId: 'c1' },
    });
    expect(config.cli).toEqual({ clientId: 'c1', scopes: 'openid email profile offline_access' });
  });

  it('needs no portal section with the Cognito pool the stack creates', () => {
    expect(parseStintConfig({ stackName: 'Stint' }).portal.clientId).toBeUndefined();
  });

  it.each([
    [{ auth: okta }, 'stint.config.ts: portal.clientId: is required with auth'],
    [{ portal: { clientId: 'abc' } }, 'stint.config.ts: portal.clientId: is set only with auth'],
    [{ auth: okta, portal: { clientId: 'a b' } }, 'stint.config.ts: portal.clientId: must be a client id'],
    [
      { portal: { domainName: 'Stint.Example.com', certificateArn } },
      'portal.domainName: must be a lower-case DNS name',
    ],
    [
      { portal: { domainName: 'https://stint.example.com', certificateArn } },
      'portal.domainName: must be a lower-case',
    ],
    [{ portal: { domainName: 'stint.example.com' } }, 'stint.config.ts: portal.certificateArn: is required with'],
    [{ portal: { certificateArn } }, 'stint.config.ts: portal.domainName: is required with portal.certificateArn'],
    [
      { portal: { domainName: 'stint.example.com', certificateArn: certificateArn.replace('us-east-1', 'eu-west-1') } },
      'stint.config.ts: portal.certificateArn: must be a certificate in us-east-1',
    ],
    [
      { portal: { domainName: 'stint.example.com', certificateArn: 'arn:aws:iam::123456789012:server-certificate/x' } },
      'stint.config.ts: portal.certificateArn: must be an ACM certificate ARN',
    ],
    [{ portal: { priceClass: 'PriceClass_50' } }, 'stint.config.ts: portal.priceClass: must be "PriceClass_100"'],
    [{ portal: { scopes: 'email profile' } }, 'stint.config.ts: portal.scopes: must include openid'],
    [{ portal: { scopes: 'openid\temail' } }, 'stint.config.ts: portal.scopes: must be OAuth scopes separated by'],
    [{ portal: { scopes: 'openid  email' } }, 'stint.config.ts: portal.scopes: must be OAuth scopes separated by'],
    [{ portal: { idpOrigins: ['http://id.example.com'] } }, 'stint.config.ts: portal.idpOrigins.0: must be an https'],
    [{ portal: { idpOrigins: ['https://id.example.com/'] } }, 'portal.idpOrigins.0: must be an origin'],
    [{ portal: { idpOrigins: ['https://id.example.com/oauth'] } }, 'portal.idpOrigins.0: must be an origin'],
    [{ portal: { bucketName: 'mine' } }, 'stint.config.ts: portal: Unrecognized key: "bucketName"'],
    [{ cli: { clientId: 'stint-cli' } }, 'stint.config.ts: cli: is set only with auth'],
    [
      { auth: okta, portal: { clientId: 'p' }, cli: { clientId: 'a b' } },
      'stint.config.ts: cli.clientId: must be a client id',
    ],
    [
      { auth: okta, portal: { clientId: 'p' }, cli: { clientId: 'c', scopes: 'email' } },
      'stint.config.ts: cli.scopes: must include openid',
    ],
  ])('rejects %j naming the field', (fields, message) => {
    expect(errorOf({ stackName: 'Stint', ...fields })).toContain(message);
  });
});

import {
  IAMClient,
  ListRolesCommand,
  MalformedPolicyDocumentException,
  NoSuchEntityException,
  ServiceFailureException,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Integration, Resource } from '#lib/domain/integration.ts';
import { awsCall } from '#lib/integrations/aws-clients.ts';
import {
  AwsIamRoleConfig,
  awsIamRoleDriver as driver,
  REVOKE_POLICY_PREFIX,
  revokePolicyName,
  sourceIdentityFor,
} from '#lib/integrations/aws-iam-role.ts';
import { GrantPermanentError, type IssuedCredentials } from '#lib/integrations/types.ts';
import type { StoredCredential, StoredRole } from '../../fixtures/aws/iam.ts';
import { type AwsStandIn, startAwsStandIn } from '../../fixtures/aws/sts.ts';
import { driverContext, type TestContextOptions, testIntegration } from '../../support/driver-context.ts';

const ACCOUNT = '111111111111';
const FUNCTION_ROLE = `arn:aws:iam::${ACCOUNT}:role/stint-driver-aws-iam-role`;
const REGION = 'eu-west-1';

let aws: AwsStandIn;
let fn: StoredCredential;
let target: StoredRole;
const saved = { ...process.env };

function useCredentials(c: StoredCredential): void {
  process.env.AWS_ACCESS_KEY_ID = c.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = c.secretAccessKey;
  if (c.sessionToken === undefined) delete process.env.AWS_SESSION_TOKEN;
  else process.env.AWS_SESSION_TOKEN = c.sessionToken;
}

beforeAll(async () => {
  aws = await startAwsStandIn();
  // Lambda's credentials are a session of the function's role: what it assumes is role chaining.
  fn = aws.account.addBaseCredential({
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/stint-driver-aws-iam-role/fn`,
    roleArn: FUNCTION_ROLE,
  });
  target = aws.account.createRole({ name: 'deploy', path: '/jit/', trust: [FUNCTION_ROLE], maxSessionDuration: 7200 });
  useCredentials(fn);
  process.env.AWS_REGION = REGION;
  process.env.AWS_ENDPOINT_URL_STS = aws.url;
  process.env.AWS_ENDPOINT_URL_IAM = aws.url;
  process.env.STINT_AWS_FEDERATION_URL = aws.federationUrl;
  process.env.AWS_MAX_ATTEMPTS = '1'; // a throttled call fails at once instead of backing off
  for (const key of ['AWS_PROFILE', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE']) delete process.env[key];
});

afterAll(async () => {
  await aws.close();
  process.env = saved;
});

function resource(arn: string, grants: string[] = ['*']): Resource {
  return { id: arn, owners: [], permissions: [{ id: 'default', grants }] };
}

function integration(config: Record<string, string> = {}, resources: Resource[] = [resource(target.arn)]): Integration {
  return testIntegration('aws-iam-role', config, resources);
}

function ctxFor(options: TestContextOptions = {}, i: Integration = integration()) {
  return driverContext(i, options);
}

function keysOf(issued: IssuedCredentials) {
  const { accessKeyId, secretAccessKey, sessionToken } = issued.fields;
  if (typeof accessKeyId !== 'string' || typeof secretAccessKey !== 'string' || typeof sessionToken !== 'string')
    throw new Error('no credentials in the fields');
  return { accessKeyId, secretAccessKey, sessionToken };
}

const iamAs = (issued: IssuedCredentials) =>
  new IAMClient({ region: REGION, endpoint: aws.url, credentials: keysOf(issued), maxAttempts: 1 });

async function grantAndIssue(options: TestContextOptions, i: Integration = integration()) {
  const ctx = ctxFor(options, i);
  const granted = await driver.grant(ctx);
  if (granted.status !== 'done') throw new Error('grant pending');
  const issued = await driver.issueCredentials?.(ctx, granted.state);
  if (issued === undefined) throw new Error('no issueCredentials');
  return { ctx, state: granted.state, issued };
}

describe('aws-iam-role driver', () => {
  it('grants by checking the role and its trust, and answers the role as access', async () => {
    const ctx = ctxFor({ requestId: '01JGRANT' });
    const granted = await driver.grant(ctx);
    expect(granted).toEqual({
      status: 'done',
      state: { roleArn: target.arn, sessionName: 'stint-01JGRANT', region: REGION },
      access: { kind: 'aws-role', roleArn: target.arn, region: REGION },
    });
    const probe = aws.calls.filter((c) => c.action === 'AssumeRole').at(-1);
    expect(probe?.params.get('DurationSeconds')).toBe('900');
    expect(probe?.params.get('SourceIdentity')).toBe('alice@example.com');
  });

  it('issues credentials the STS stand-in recognises as the role session of the grantee and request', async () => {
    const { issued } = await grantAndIssue({ requestId: '01JISSUE' });
    const keys = keysOf(issued);
    const me = await new STSClient({ region: REGION, endpoint: aws.url, credentials: keys }).send(
      new GetCallerIdentityCommand({}),
    );
    expect(me.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/deploy/stint-01JISSUE`);
    const session = aws.session(keys.accessKeyId);
    expect(session?.sourceIdentity).toBe('alice@example.com');
    expect(session?.tags).toContainEqual({ Key: 'stint-request-id', Value: '01JISSUE' });
    expect(session?.tags).toContainEqual({ Key: 'stint-grantee', Value: 'alice@example.com' });
    expect(session?.transitiveTagKeys).toEqual(['stint-request-id', 'stint-unit']);
    expect(issued.fields.region).toBe(REGION);
    expect(issued.fields.expiration).toBe(session?.expiresAt?.toISOString());
  });

  it('forms the console link from the sign-in token of the federation stand-in', async () => {
    const { issued } = await grantAndIssue({ requestId: '01JCONSOLE' });
    const link = new URL(String(issued.fields.consoleUrl));
    expect(`${link.origin}${link.pathname}`).toBe(aws.federationUrl);
    expect(link.searchParams.get('Action')).toBe('login');
    expect(link.searchParams.get('Destination')).toBe(
      `https://${REGION}.console.aws.amazon.com/console/home?region=${REGION}`,
    );
    const token = link.searchParams.get('SigninToken') ?? '';
    expect(aws.signinTokens.get(token)).toBe(keysOf(issued).accessKeyId);
    const login = await fetch(link, { redirect: 'manual' });
    expect(login.status).toBe(302);
  });

  it('caps DurationSeconds by the time left', async () => {
    const now = new Date();
    const { issued } = await grantAndIssue({
      requestId: '01JLEFT',
      now,
      expiresAt: new Date(now.getTime() + 1200_000),
    });
    expect(aws.session(keysOf(issued).accessKeyId)?.durationSeconds).toBe(1200);
    expect(issued.expiresAt.getTime()).toBeLessThanOrEqual(now.getTime() + 1200_000);
  });

  it('caps DurationSeconds at one hour when Stint runs in a role session (role chaining)', async () => {
    const now = new Date();
    const { issued } = await grantAndIssue({
      requestId: '01JCHAIN',
      now,
      expiresAt: new Date(now.getTime() + 5 * 3600_000),
    });
    expect(aws.session(keysOf(issued).accessKeyId)?.durationSeconds).toBe(3600);
  });

  it('caps DurationSeconds at the role maximum when Stint runs with long-term keys', async () => {
    const long = aws.account.createRole({
      name: 'long',
      trust: [`arn:aws:iam::${ACCOUNT}:user/stint-local`],
      maxSessionDuration: 7200,
    });
    const user = aws.account.addBaseCredential({ arn: `arn:aws:iam::${ACCOUNT}:user/stint-local` });
    delete user.sessionToken;
    useCredentials(user);
    try {
      const now = new Date();
      // Another region: other clients, which read the credentials now in the environment.
      const i = integration({ region: 'eu-central-1' }, [resource(long.arn)]);
      const { issued } = await grantAndIssue(
        { requestId: '01JUSER', now, expiresAt: new Date(now.getTime() + 5 * 3600_000) },
        i,
      );
      expect(aws.session(keysOf(issued).accessKeyId)?.durationSeconds).toBe(7200);
      expect(issued.fields.region).toBe('eu-central-1');
    } finally {
      useCredentials(fn);
    }
  });

  it('issues the 900-second minimum with less time left, reporting the access end as expiry', async () => {
    const now = new Date();
    const expiresAt = new Date(now.getTime() + 300_000);
    const { issued } = await grantAndIssue({ requestId: '01JSHORT', now, expiresAt });
    expect(aws.session(keysOf(issued).accessKeyId)?.durationSeconds).toBe(900);
    expect(issued.expiresAt).toEqual(expiresAt);
  });

  it('scopes the session down with the permission’s managed policies', async () => {
    const policies = ['arn:aws:iam::aws:policy/ReadOnlyAccess', `arn:aws:iam::${ACCOUNT}:policy/deploy-s3`];
    const { issued } = await grantAndIssue(
      { requestId: '01JSCOPED' },
      integration({}, [resource(target.arn, policies)]),
    );
    expect(aws.session(keysOf(issued).accessKeyId)?.policyArns).toEqual(policies);
  });

  it('refuses grants that are neither "*" nor managed policy ARNs, permanently', async () => {
    const ctx = ctxFor({}, integration({}, [resource(target.arn, ['*', 'AdministratorAccess'])]));
    await expect(driver.grant(ctx)).rejects.toBeInstanceOf(GrantPermanentError);
  });

  it('revokes: the session of the request is refused, a session of another request still works', async () => {
    const revoked = await grantAndIssue({ requestId: '01JREVOKED' });
    const other = await grantAndIssue({ requestId: '01JOTHER' });
    expect((await iamAs(revoked.issued).send(new ListRolesCommand({}))).Roles?.length).toBeGreaterThan(0);

    const outcome = await driver.revoke(revoked.ctx, revoked.state);
    const policyName = revokePolicyName(revoked.ctx);
    expect(outcome).toEqual({
      status: 'done',
      cleanup: { afterSeconds: 300 + 3600, state: { roleArn: target.arn, policyName } },
    });
    const document = JSON.parse(target.inline.get(policyName) ?? '{}');
    expect(document.Statement).toEqual([
      {
        Sid: 'StintRevoke',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: {
          StringEquals: {
            'aws:PrincipalTag/stint-request-id': '01JREVOKED',
            'aws:PrincipalTag/stint-unit': revoked.ctx.idempotencyKey,
          },
          DateLessThan: { 'aws:TokenIssueTime': new Date(revoked.ctx.now.getTime() + 300_000).toISOString() },
        },
      },
    ]);
    const refused = await iamAs(revoked.issued)
      .send(new ListRolesCommand({}))
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ name: 'AccessDenied' });
    expect((await iamAs(other.issued).send(new ListRolesCommand({}))).Roles?.length).toBeGreaterThan(0);
    expect(await driver.verify?.(revoked.ctx, revoked.state)).toEqual({ present: false });
    await expect(driver.issueCredentials?.(revoked.ctx, revoked.state)).rejects.toThrow(/has been revoked/);
    expect(await driver.verify?.(other.ctx, other.state)).toEqual({ present: true });
  });

  it('revokes twice into one policy with the same cleanup', async () => {
    const { ctx, state } = await grantAndIssue({ requestId: '01JTWICE' });
    const first = await driver.revoke(ctx, state);
    const second = await driver.revoke(ctx, state);
    expect(second).toEqual(first);
    const mine = [...target.inline.keys()].filter((n) => n === revokePolicyName(ctx));
    expect(mine).toHaveLength(1);
  });

  it('cleanup removes only its own policy', async () => {
    target.inline.set(
      'team-boundary',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Action: 's3:DeleteBucket', Resource: '*' }],
      }),
    );
    const a = await grantAndIssue({ requestId: '01JCLEANA' });
    const b = await grantAndIssue({ requestId: '01JCLEANB' });
    const revokeA = await driver.revoke(a.ctx, a.state);
    await driver.revoke(b.ctx, b.state);
    if (revokeA.status !== 'done' || revokeA.cleanup === undefined) throw new Error('no cleanup');
    await driver.cleanup?.(a.ctx, revokeA.cleanup.state);
    expect(target.inline.has(revokePolicyName(a.ctx))).toBe(false);
    expect(target.inline.has(revokePolicyName(b.ctx))).toBe(true);
    expect(target.inline.has('team-boundary')).toBe(true);
    // Repeated: already gone is done.
    await driver.cleanup?.(a.ctx, revokeA.cleanup.state);
    expect(target.inline.has('team-boundary')).toBe(true);
  });

  it('prunes revoke policies past their cleanup time when the role policy quota is full', async () => {
    const role = aws.account.createRole({ name: 'full', trust: [FUNCTION_ROLE] });
    const i = integration({}, [resource(role.arn)]);
    const stale = ctxFor({ requestId: '01JSTALE', now: new Date(Date.now() - 2 * 3600_000) }, i);
    await driver.revoke(stale, {});
    role.inline.set(
      'big',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Sid: 'x'.repeat(9_700), Effect: 'Deny', Action: 's3:*', Resource: '*' }],
      }),
    );
    const fresh = ctxFor({ requestId: '01JFRESH' }, i);
    await driver.revoke(fresh, {});
    expect([...role.inline.keys()].sort()).toEqual(['big', revokePolicyName(fresh)].sort());

    // Nothing left to prune: retryable (cleanups free room), never permanent.
    const third = ctxFor({ requestId: '01JTHIRD' }, i);
    const error = await driver.revoke(third, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(GrantPermanentError);
    expect(String(error)).toContain('10,240');
  });

  it('refuses a missing role and an untrusting role permanently', async () => {
    const missing = ctxFor({}, integration({}, [resource(`arn:aws:iam::${ACCOUNT}:role/missing`)]));
    await expect(driver.grant(missing)).rejects.toThrow(/does not exist/);
    await expect(driver.grant(missing)).rejects.toBeInstanceOf(GrantPermanentError);
    const untrusting = aws.account.createRole({ name: 'untrusting', trust: ['arn:aws:iam::999999999999:root'] });
    const ctx = ctxFor({}, integration({}, [resource(untrusting.arn)]));
    const error = await driver.grant(ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(String(error)).toContain('AccessDenied');
  });

  it('refuses a role ARN of another account than the IAM credentials see, permanently', async () => {
    const ctx = ctxFor({}, integration({}, [resource('arn:aws:iam::222222222222:role/jit/deploy')]));
    await expect(driver.grant(ctx)).rejects.toBeInstanceOf(GrantPermanentError);
  });

  it('leaves throttling to the workflow’s retries', async () => {
    aws.throttle('GetRole');
    try {
      const error = await driver.grant(ctxFor()).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'Throttling' });
      expect(error).not.toBeInstanceOf(GrantPermanentError);
    } finally {
      aws.throttle('GetRole', 0);
    }
  });

  it('edits role policies through the admin role when one is configured', async () => {
    const admin = aws.account.createRole({ name: 'stint-admin', trust: [FUNCTION_ROLE], externalId: 'ext-123' });
    aws.account.createRole({
      name: 'ops',
      trust: [FUNCTION_ROLE],
      externalId: 'ext-123',
    });
    const ops = aws.account.roles.get('ops');
    if (ops === undefined) throw new Error('no ops role');
    const i = integration({ roleArn: admin.arn, externalId: 'ext-123' }, [resource(ops.arn)]);
    const { ctx, state } = await grantAndIssue({ requestId: '01JADMIN' }, i);
    await driver.revoke(ctx, state);
    const put = aws.calls.filter((c) => c.action === 'PutRolePolicy').at(-1);
    expect(aws.session(put?.accessKeyId ?? '')?.roleArn).toBe(admin.arn);
    expect(ops.inline.has(revokePolicyName(ctx))).toBe(true);
  });

  it('discovers only roles tagged stint:jit, across pages', async () => {
    for (let n = 0; n < 105; n++) aws.account.createRole({ name: `filler-${n}` });
    aws.account.createRole({ name: 'jit-a', description: 'Deploy', tags: [{ Key: 'stint:jit', Value: 'true' }] });
    aws.account.createRole({ name: 'jit-off', tags: [{ Key: 'stint:jit', Value: 'false' }] });
    aws.account.createRole({ name: 'jit-b', path: '/team/', tags: [{ Key: 'stint:jit', Value: '' }] });
    aws.account.createRole({ name: 'jit-hidden', tags: [{ Key: 'stint:jit', Value: 'true' }] });
    // The function's role may not read that role's tags (outside its roleArns): it is not offered.
    const fnRole = aws.account.createRole({ name: 'stint-driver-aws-iam-role' });
    fnRole.inline.set(
      'outside-roleArns',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Deny', Action: 'iam:ListRoleTags', Resource: `arn:aws:iam::${ACCOUNT}:role/jit-hidden` },
        ],
      }),
    );
    const found = await driver.discover?.(ctxFor());
    expect(found?.resources.map((r) => r.id)).toEqual([
      `arn:aws:iam::${ACCOUNT}:role/jit-a`,
      `arn:aws:iam::${ACCOUNT}:role/team/jit-b`,
    ]);
    expect(found?.resources[0]?.description).toBe('Deploy');
    expect(found?.resources[0]?.permissions).toEqual([
      { id: 'default', description: "The role's own permissions", grants: ['*'] },
    ]);
    expect(aws.calls.filter((c) => c.action === 'ListRoles').length).toBeGreaterThan(1);
  });

  it('verifies a missing role as absent and extends as a no-op', async () => {
    const ctx = ctxFor({}, integration({}, [resource(`arn:aws:iam::${ACCOUNT}:role/gone`)]));
    expect(await driver.verify?.(ctx, {})).toEqual({ present: false });
    await expect(driver.extend(ctx, {})).resolves.toBeUndefined();
    expect(driver.leaseKeys(ctx)).toEqual([]);
  });

  it('derives a valid SourceIdentity from the grantee', () => {
    expect(sourceIdentityFor({ sub: 's', email: 'alice@example.com', groups: [] })).toBe('alice@example.com');
    expect(sourceIdentityFor({ sub: 'auth0|123', email: `${'x'.repeat(70)}@example.com`, groups: [] })).toBe(
      'auth0_123',
    );
    expect(REVOKE_POLICY_PREFIX).toBe('stint-revoke-');
  });

  it('validates its config', () => {
    expect(AwsIamRoleConfig.safeParse({ region: 'eu-west-1', externalId: 'ext-123' }).success).toBe(true);
    expect(AwsIamRoleConfig.safeParse({ roleArn: 'not-an-arn' }).success).toBe(false);
    expect(AwsIamRoleConfig.safeParse({ unknown: 1 }).success).toBe(false);
  });

  it('issues credentials without a console link when the federation endpoint fails', async () => {
    process.env.STINT_AWS_FEDERATION_URL = `${aws.url}/not-federation`;
    try {
      const { issued } = await grantAndIssue({ requestId: '01JNOCONSOLE' });
      expect(issued.fields.consoleUrl).toBeUndefined();
      expect(typeof issued.fields.sessionToken).toBe('string');
    } finally {
      process.env.STINT_AWS_FEDERATION_URL = aws.federationUrl;
    }
  });

  it('refuses to issue credentials once the access has ended, permanently', async () => {
    const now = new Date();
    const ctx = ctxFor({ requestId: '01JENDED', now, expiresAt: new Date(now.getTime() - 1000) });
    const error = await driver.issueCredentials?.(ctx, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(String(error)).toContain('ended');
  });
});

describe('AWS error mapping', () => {
  const meta = { $metadata: {} };

  it('makes errors retrying cannot fix permanent', async () => {
    for (const error of [
      new NoSuchEntityException({ message: 'The role with name x cannot be found.', ...meta }),
      new MalformedPolicyDocumentException({ message: 'Syntax errors in policy.', ...meta }),
    ]) {
      const mapped = await awsCall('iam:PutRolePolicy', () => Promise.reject(error)).catch((e: unknown) => e);
      expect(mapped).toBeInstanceOf(GrantPermanentError);
      expect(String(mapped)).toContain(error.name);
    }
  });

  it('passes service failures and non-AWS errors on unchanged, for the workflow to retry', async () => {
    const failure = new ServiceFailureException({ message: 'internal', ...meta });
    await expect(awsCall('iam:GetRole', () => Promise.reject(failure))).rejects.toBe(failure);
    const network = new Error('socket hang up');
    await expect(awsCall('iam:GetRole', () => Promise.reject(network))).rejects.toBe(network);
  });
});

import { AccessDeniedException, ConflictException, ThrottlingException } from '@aws-sdk/client-sso-admin';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatAccount } from '#lib/directory/types.ts';
import type { Integration, Resource } from '#lib/domain/integration.ts';
import { clearAwsClients, isPermanentAwsError, toDriverError } from '#lib/integrations/aws-clients.ts';
import {
  backoffSeconds,
  denySid,
  awsIdentityCenterDriver as driver,
  durationSeconds,
  permissionIdOf,
  validateResources,
} from '#lib/integrations/aws-identity-center.ts';
import {
  type DriverContext,
  type DriverState,
  type GrantOutcome,
  GrantPermanentError,
  type RevokeOutcome,
} from '#lib/integrations/types.ts';
import { AwsError } from '../../fixtures/aws/json-service.ts';
import {
  type IdentityCenterStandIns,
  startIdentityCenterStandIns,
  TEST_IDENTITY_STORE_ID,
  TEST_INSTANCE_ARN,
} from '../../fixtures/aws/sso-admin.ts';
import { type AwsStandIn, startAwsStandIn } from '../../fixtures/aws/sts.ts';
import { driverContext, type TestContextOptions, testIntegration } from '../../support/driver-context.ts';

const ACCOUNT = '222233334444';
const PS = 'arn:aws:sso:::permissionSet/ssoins-1111222233334444/ps-aaaabbbbccccdddd';
const PS_ADMIN = 'arn:aws:sso:::permissionSet/ssoins-1111222233334444/ps-eeeeffff00001111';
const ALICE = '9067c0ce-1234-4bcd-8abc-0123456789ab';
const PORTAL = 'https://d-1234567890.awsapps.com/start';
const NOW = new Date('2026-06-01T10:00:00.000Z');

const config = {
  instanceArn: TEST_INSTANCE_ARN,
  identityStoreId: TEST_IDENTITY_STORE_ID,
  region: 'eu-west-1',
  portalUrl: PORTAL,
};

function resource(id = ACCOUNT): Resource {
  return {
    id,
    owners: [],
    permissions: [
      { id: 'readonly', grants: [PS] },
      { id: 'admin', grants: [PS_ADMIN] },
    ],
  };
}

function integration(resources: Resource[] = [resource()]): Integration {
  return testIntegration('aws-identity-center', config, resources);
}

function context(options: TestContextOptions = {}) {
  return driverContext(options.resource === '999999999999' ? integration([resource('999999999999')]) : integration(), {
    lease: { soleHolder: true },
    now: NOW,
    ...options,
  });
}

/** Alice's Identity Store user, linked in the directory. */
const linkedAlice: ChatAccount = {
  kind: 'aws-identity-store',
  identityStoreId: TEST_IDENTITY_STORE_ID,
  userId: ALICE,
};

let aws: IdentityCenterStandIns;
const saved = { ...process.env };

beforeEach(async () => {
  aws = await startIdentityCenterStandIns();
  Object.assign(process.env, aws.env, { AWS_MAX_ATTEMPTS: '1' });
  clearAwsClients();
  aws.organizations.seedAccounts(
    { id: ACCOUNT, name: 'Production', email: 'prod@example.com' },
    { id: '333344445555', name: 'Staging', email: 'staging@example.com' },
  );
  aws.sso.seedPermissionSets(
    { arn: PS, name: 'ReadOnly', description: 'Read-only access', sessionDuration: 'PT2H' },
    { arn: PS_ADMIN, name: 'Administrator Access' },
  );
  aws.identityStore.seedUsers({ userId: ALICE, userName: 'alice@example.com', emails: ['alice@example.com'] });
});

afterEach(async () => {
  await aws.close();
  process.env = { ...saved };
});

/** Calls grant until done, returning every answer (the workflow's Wait state, without the wait). */
async function grantAll(ctx: DriverContext): Promise<GrantOutcome[]> {
  const answers: GrantOutcome[] = [];
  let progress: DriverState | undefined;
  for (let i = 0; i < 20; i++) {
    const answer = await driver.grant(ctx, progress);
    answers.push(answer);
    if (answer.status === 'done') return answers;
    progress = answer.state;
  }
  throw new Error('grant did not finish');
}

async function revokeAll(ctx: DriverContext, state: DriverState): Promise<RevokeOutcome[]> {
  const answers: RevokeOutcome[] = [];
  let current = state;
  for (let i = 0; i < 30; i++) {
    const answer = await driver.revoke(ctx, current);
    answers.push(answer);
    if (answer.status === 'done') return answers;
    current = answer.state;
  }
  throw new Error('revoke did not finish');
}

function last<T>(items: T[]): T {
  const item = items.at(-1);
  if (item === undefined) throw new Error('no answers');
  return item;
}

async function granted(ctx: DriverContext) {
  const answer = last(await grantAll(ctx));
  if (answer.status !== 'done') throw new Error('not done');
  return answer;
}

const policyOf = (arn: string) => JSON.parse(aws.sso.inlinePolicy(arn) ?? '{"Statement":[]}');

describe('aws-identity-center grant', () => {
  it('answers pending while the assignment is IN_PROGRESS and done only after SUCCEEDED', async () => {
    const ctx = context({ accounts: [linkedAlice] });
    const answers = await grantAll(ctx);

    expect(answers.map((a) => a.status)).toEqual(['pending', 'pending', 'pending', 'pending', 'done']);
    expect(answers.map((a) => (a.status === 'pending' ? a.pollAfterSeconds : 0))).toEqual([1, 1, 1, 2, 0]);
    expect(answers[1]).toMatchObject({ status: 'pending', reason: 'account assignment IN_PROGRESS' });
    // CreateAccountAssignment only on the second call (the first records that Stint is about to create it).
    expect(aws.server.callsOf('CreateAccountAssignment')).toHaveLength(1);
    expect(aws.server.callsOf('DescribeAccountAssignmentCreationStatus')).toHaveLength(3);
    expect(last(answers)).toEqual({
      status: 'done',
      owned: true,
      state: {
        instanceArn: TEST_INSTANCE_ARN,
        userId: ALICE,
        accountId: ACCOUNT,
        permissionSetArn: PS,
        permissionSetName: 'ReadOnly',
        sessionSeconds: 7200,
      },
      access: { kind: 'aws-account', accountId: ACCOUNT, permissionSet: 'ReadOnly', portalUrl: PORTAL },
    });
    expect(aws.sso.hasAssignment(ACCOUNT, PS, ALICE)).toBe(true);
    expect(aws.server.callsOf('CreateAccountAssignment')[0]?.input).toEqual({
      InstanceArn: TEST_INSTANCE_ARN,
      TargetId: ACCOUNT,
      TargetType: 'AWS_ACCOUNT',
      PermissionSetArn: PS,
      PrincipalType: 'USER',
      PrincipalId: ALICE,
    });
  });

  it('is not done before SUCCEEDED: the assignment is absent while pending', async () => {
    const ctx = context();
    const first = await driver.grant(ctx);
    const second = await driver.grant(ctx, first.state);
    expect(second.status).toBe('pending');
    expect(aws.sso.hasAssignment(ACCOUNT, PS, ALICE)).toBe(false);
  });

  it('turns FAILED into a GrantPermanentError carrying AWS FailureReason', async () => {
    aws.sso.failNextCreation('Received a 404 status error: Not supported policy arn:aws:iam::aws:policy/Gone');
    const error = await grantAll(context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(String(error)).toContain('Not supported policy arn:aws:iam::aws:policy/Gone');
    expect(aws.sso.hasAssignment(ACCOUNT, PS, ALICE)).toBe(false);
  });

  it('re-creates after a transient FAILED (throttling) and then succeeds', async () => {
    aws.sso.failNextCreation('Rate exceeded: throttling, please try again');
    const answers = await grantAll(context());
    expect(last(answers)).toMatchObject({ status: 'done', owned: true });
    expect(aws.server.callsOf('CreateAccountAssignment')).toHaveLength(2);
  });

  it('gives up on a transient FAILED after 3 attempts with a retryable error', async () => {
    for (let i = 0; i < 3; i++) aws.sso.failNextCreation('Received a 500 status error: InternalFailure, try again');
    const error = await grantAll(context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(GrantPermanentError);
    expect(String(error)).toContain('FAILED 3 times');
    expect(aws.server.callsOf('CreateAccountAssignment')).toHaveLength(3);
  });

  it('refuses a suspended account', async () => {
    aws.organizations.seedAccounts({ id: ACCOUNT, name: 'Production', email: 'prod@example.com', status: 'SUSPENDED' });
    const error = await driver.grant(context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(String(error)).toContain(`${ACCOUNT} is SUSPENDED`);
  });

  it('refuses an account outside the organization before CreateAccountAssignment', async () => {
    const error = await driver.grant(context({ resource: '999999999999' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(String(error)).toContain('999999999999 is not in the organization');
    expect(aws.server.callsOf('CreateAccountAssignment')).toHaveLength(0);
  });

  it('finds standing access and answers done owned:false; revoke with owned:false leaves it', async () => {
    aws.sso.seedAssignment(ACCOUNT, PS, ALICE);
    const answer = await driver.grant(context());
    expect(answer).toMatchObject({ status: 'done', owned: false, access: { permissionSet: 'ReadOnly' } });
    expect(aws.server.callsOf('CreateAccountAssignment')).toHaveLength(0);

    const revoked = await driver.revoke(context({ lease: { soleHolder: true, owned: false } }), answer.state);
    expect(revoked).toEqual({ status: 'done' });
    expect(aws.sso.hasAssignment(ACCOUNT, PS, ALICE)).toBe(true);
    expect(aws.server.callsOf('DeleteAccountAssignment')).toHaveLength(0);
    expect(aws.server.callsOf('PutInlinePolicyToPermissionSet')).toHaveLength(0);
  });

  it('converges with another holder: an assignment present is done with the lease owner flag', async () => {
    aws.sso.seedAssignment(ACCOUNT, PS, ALICE);
    const answer = await driver.grant(context({ lease: { soleHolder: false, owned: true } }));
    expect(answer).toMatchObject({ status: 'done', owned: true });
  });

  it('waits on ConflictException at create (a deletion in flight) and converges', async () => {
    const ctx = context();
    const first = await driver.grant(ctx);
    aws.server.failNext('CreateAccountAssignment', new AwsError('ConflictException', 'deletion in progress', 409));
    const conflicted = await driver.grant(ctx, first.state);
    expect(conflicted).toMatchObject({ status: 'pending', reason: expect.stringContaining('ConflictException') });
    const rest = [];
    let progress = conflicted.state;
    for (let i = 0; i < 10; i++) {
      const answer = await driver.grant(ctx, progress);
      rest.push(answer);
      if (answer.status === 'done') break;
      progress = answer.state;
    }
    expect(last(rest)).toMatchObject({ status: 'done', owned: true });
  });

  it('looks the user up by userName, then emails.value, and links the Identity Store user', async () => {
    aws.identityStore.seedUsers({
      userId: '1111aaaa-2222-4333-8444-555566667777',
      userName: 'bob',
      emails: ['bob@example.com'],
    });
    const ctx = context({ grantee: { sub: 'bob-sub', email: 'bob@example.com', groups: [] } });
    const answer = await driver.grant(ctx);

    const lookups = aws.server.callsOf('GetUserId').map((c) => c.input.AlternateIdentifier);
    expect(lookups).toEqual([
      { UniqueAttribute: { AttributePath: 'userName', AttributeValue: 'bob@example.com' } },
      { UniqueAttribute: { AttributePath: 'emails.value', AttributeValue: 'bob@example.com' } },
    ]);
    expect(ctx.linked).toEqual([
      {
        kind: 'aws-identity-store',
        identityStoreId: TEST_IDENTITY_STORE_ID,
        userId: '1111aaaa-2222-4333-8444-555566667777',
      },
    ]);
    expect(answer.state).toMatchObject({ userId: '1111aaaa-2222-4333-8444-555566667777' });
  });

  it('still grants when the directory refuses the link', async () => {
    const ctx = context();
    ctx.directory.link = async () => {
      throw new Error('unknown account kind');
    };
    const answer = await driver.grant(ctx);
    expect(answer).toMatchObject({ status: 'pending', state: { userId: ALICE } });
  });

  it('uses a linked Identity Store account without a lookup', async () => {
    const ctx = context({ accounts: [linkedAlice] });
    const answer = await driver.grant(ctx);
    expect(answer.state).toMatchObject({ userId: ALICE });
    expect(aws.server.callsOf('GetUserId')).toHaveLength(0);
    expect(ctx.linked).toEqual([]);
  });

  it('names the grantee when the identity store has no such user', async () => {
    const ctx = context({ grantee: { sub: 'carol', email: 'carol@example.com', groups: [] } });
    const error = await driver.grant(ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(String(error)).toContain('no user with user name or email carol@example.com');
  });

  it('lets throttling through as a retryable error, not a GrantPermanentError', async () => {
    aws.server.throttle('DescribePermissionSet', 1);
    const error = await driver.grant(context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ThrottlingException);
    expect(error).not.toBeInstanceOf(GrantPermanentError);
    // The next attempt goes through.
    expect((await driver.grant(context())).status).toBe('pending');
  });

  it('maps AccessDeniedException to a GrantPermanentError', async () => {
    aws.server.failNext('ListAccountAssignments', new AwsError('AccessDeniedException', 'not authorized', 403));
    const error = await driver.grant(context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(String(error)).toContain('AccessDeniedException: not authorized');
  });
});

describe('aws-identity-center revoke and cleanup', () => {
  const standing = { Sid: 'AdminWritten', Effect: 'Allow', Action: 's3:GetObject', Resource: '*' };

  it('deletes, waits for SUCCEEDED, writes the deny statement and provisions it', async () => {
    aws.sso.setInlinePolicy(PS, JSON.stringify({ Version: '2012-10-17', Statement: [standing] }));
    const grant = await granted(context());
    const revokeAt = new Date('2026-06-01T10:30:00.000Z');
    const ctx = context({ lease: { soleHolder: true, owned: true }, now: revokeAt });
    const answers = await revokeAll(ctx, grant.state);

    expect(answers.map((a) => a.status)).toEqual([
      'pending',
      'pending',
      'pending',
      'pending',
      'pending',
      'pending',
      'done',
    ]);
    expect(answers.map((a) => (a.status === 'pending' ? a.reason : 'done'))).toEqual([
      'assignment deletion IN_PROGRESS',
      'assignment deletion IN_PROGRESS',
      'assignment deletion IN_PROGRESS',
      'provisioning the deny statement IN_PROGRESS',
      'provisioning the deny statement IN_PROGRESS',
      'provisioning the deny statement IN_PROGRESS',
      'done',
    ]);
    expect(aws.sso.hasAssignment(ACCOUNT, PS, ALICE)).toBe(false);
    const deny = {
      Sid: denySid(ALICE),
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: {
        StringEquals: { 'identitystore:userId': ALICE },
        DateLessThan: { 'aws:TokenIssueTime': '2026-06-01T10:30:00.000Z' },
      },
    };
    expect(policyOf(PS)).toEqual({ Version: '2012-10-17', Statement: [standing, deny] });
    expect(JSON.parse(aws.sso.provisionedPolicy(PS, ACCOUNT)?.policy ?? '{}').Statement).toContainEqual(deny);
    expect(last(answers)).toEqual({
      status: 'done',
      cleanup: {
        afterSeconds: 7200 + 300,
        state: {
          instanceArn: TEST_INSTANCE_ARN,
          userId: ALICE,
          accountId: ACCOUNT,
          permissionSetArn: PS,
          sid: denySid(ALICE),
          issuedBefore: '2026-06-01T10:30:00.000Z',
        },
      },
    });
  });

  it('cleanup removes only its statement and provisions again; a newer statement is left alone', async () => {
    aws.sso.setInlinePolicy(PS, JSON.stringify({ Version: '2012-10-17', Statement: [standing] }));
    aws.sso.seedAssignment(ACCOUNT, PS, '0000aaaa-2222-4333-8444-555566667777'); // someone else keeps the role alive
    const grant = await granted(context());
    const done = last(await revokeAll(context({ lease: { soleHolder: true, owned: true } }), grant.state));
    if (done.status !== 'done' || done.cleanup === undefined) throw new Error('no cleanup');
    const provisionings = aws.sso.provisioningRequests().length;

    await driver.cleanup?.(context(), done.cleanup.state);
    expect(policyOf(PS)).toEqual({ Version: '2012-10-17', Statement: [standing] });
    expect(aws.sso.provisioningRequests()).toHaveLength(provisionings + 1);

    // A later revoke of the same user wrote a newer TokenIssueTime: an older cleanup must not remove it.
    const newer = { ...done.cleanup.state, issuedBefore: '2026-06-02T00:00:00.000Z' };
    const statement = {
      Sid: denySid(ALICE),
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: {
        StringEquals: { 'identitystore:userId': ALICE },
        DateLessThan: { 'aws:TokenIssueTime': newer.issuedBefore },
      },
    };
    aws.sso.setInlinePolicy(PS, JSON.stringify({ Version: '2012-10-17', Statement: [standing, statement] }));
    await driver.cleanup?.(context(), done.cleanup.state);
    expect(policyOf(PS).Statement).toContainEqual(statement);
  });

  it('cleanup deletes an inline policy it alone made', async () => {
    const grant = await granted(context());
    const done = last(await revokeAll(context({ lease: { soleHolder: true, owned: true } }), grant.state));
    if (done.status !== 'done' || done.cleanup === undefined) throw new Error('no cleanup');
    expect(policyOf(PS).Statement).toHaveLength(1);
    await driver.cleanup?.(context(), done.cleanup.state);
    expect(aws.sso.inlinePolicy(PS)).toBeUndefined();
    expect(aws.server.callsOf('DeleteInlinePolicyFromPermissionSet')).toHaveLength(1);
  });

  it('waits on ConflictException at delete, then converges', async () => {
    const grant = await granted(context());
    aws.server.failNext('DeleteAccountAssignment', new AwsError('ConflictException', 'creation in progress', 409));
    const ctx = context({ lease: { soleHolder: true, owned: true } });
    const answers = await revokeAll(ctx, grant.state);
    expect(answers[0]).toMatchObject({ status: 'pending', reason: expect.stringContaining('ConflictException') });
    expect(last(answers).status).toBe('done');
    expect(aws.server.callsOf('DeleteAccountAssignment')).toHaveLength(2);
    expect(aws.sso.hasAssignment(ACCOUNT, PS, ALICE)).toBe(false);
  });

  it('treats an assignment already gone as deleted, and still ends live sessions', async () => {
    const grant = await granted(context());
    aws.sso.polls = 0;
    await revokeAll(context({ lease: { soleHolder: true, owned: true } }), grant.state);
    const again = await revokeAll(context({ lease: { soleHolder: true, owned: true } }), grant.state);
    expect(last(again).status).toBe('done');
    expect(aws.server.callsOf('DeleteAccountAssignment')).toHaveLength(1);
    expect(policyOf(PS).Statement.filter((s: { Sid?: string }) => s.Sid === denySid(ALICE))).toHaveLength(1);
  });

  it('revokes nothing for a grantee without an Identity Store user (grant never recorded state)', async () => {
    const ctx = context({ grantee: { sub: 'carol', email: 'carol@example.com', groups: [] } });
    expect(await driver.revoke(ctx, {})).toEqual({ status: 'done' });
    expect(aws.server.callsOf('DeleteAccountAssignment')).toHaveLength(0);
  });

  it('revokes from an empty state by looking the user up (grant crashed before recording)', async () => {
    await granted(context({ accounts: [linkedAlice] }));
    const answers = await revokeAll(context({ lease: { soleHolder: true, owned: true } }), {});
    expect(last(answers).status).toBe('done');
    expect(aws.sso.hasAssignment(ACCOUNT, PS, ALICE)).toBe(false);
  });

  it('waits for a creation it never recorded (crash right after CreateAccountAssignment), then deletes it', async () => {
    const ctx = context({ accounts: [linkedAlice], lease: { soleHolder: true, owned: true } });
    const aboutToCreate = await driver.grant(ctx); // records "about to create"
    expect(aboutToCreate).toMatchObject({ status: 'pending', state: { step: 'create' } });
    // The next call creates; say the function died before its answer (the creation's id) was recorded.
    await driver.grant(ctx, aboutToCreate.state);
    expect(aws.sso.hasAssignment(ACCOUNT, PS, ALICE)).toBe(false); // still IN_PROGRESS

    const answers = await revokeAll(ctx, aboutToCreate.state);

    expect(answers[0]).toMatchObject({ status: 'pending', reason: expect.stringMatching(/being created to finish/) });
    expect(last(answers).status).toBe('done');
    expect(aws.server.callsOf('ListAccountAssignmentCreationStatus').length).toBeGreaterThan(0);
    expect(aws.server.callsOf('DeleteAccountAssignment')).toHaveLength(1);
    expect(aws.sso.hasAssignment(ACCOUNT, PS, ALICE)).toBe(false);
  });

  it('rewrites its deny statement when a concurrent writer dropped it before provisioning finished', async () => {
    const grant = await granted(context());
    aws.sso.polls = 1;
    const ctx = context({ lease: { soleHolder: true, owned: true } });
    let answer = await driver.revoke(ctx, grant.state);
    while (answer.status === 'pending' && !answer.reason.startsWith('provisioning'))
      answer = await driver.revoke(ctx, answer.state);
    aws.sso.setInlinePolicy(PS, JSON.stringify({ Version: '2012-10-17', Statement: [standing] }));
    const rest = await revokeAll(ctx, answer.status === 'pending' ? answer.state : {});
    expect(rest.some((a) => a.status === 'pending' && a.reason.includes('overwritten'))).toBe(true);
    expect(policyOf(PS).Statement.map((s: { Sid?: string }) => s.Sid)).toEqual(['AdminWritten', denySid(ALICE)]);
  });
});

describe('aws-identity-center verify, discover, lease keys, resources', () => {
  it('verifies the assignment is present, then absent after revoke', async () => {
    const grant = await granted(context());
    expect(await driver.verify?.(context(), grant.state)).toEqual({ present: true });
    await revokeAll(context({ lease: { soleHolder: true, owned: true } }), grant.state);
    expect(await driver.verify?.(context(), grant.state)).toEqual({ present: false });
  });

  it('discovers the organization accounts and the permission sets', async () => {
    const found = await driver.discover?.({ integration: integration(), admin: {}, now: NOW });
    const permissions = [
      { id: 'readonly', description: 'Read-only access', grants: [PS] },
      { id: 'administrator-access', grants: [PS_ADMIN] },
    ];
    expect(found).toEqual({
      resources: [
        { id: ACCOUNT, description: 'Production', permissions },
        { id: '333344445555', description: 'Staging', permissions },
      ],
    });
  });

  it('pages through every account of the organization and skips suspended ones', async () => {
    for (let i = 0; i < 25; i++)
      aws.organizations.seedAccounts({ id: String(400000000000 + i), name: `Team ${i}`, email: `t${i}@example.com` });
    aws.organizations.seedAccounts({ id: '500000000000', name: 'Old', email: 'old@example.com', status: 'SUSPENDED' });
    const found = await driver.discover?.({ integration: integration(), admin: {}, now: NOW });
    const ids = found?.resources.map((r) => r.id) ?? [];
    expect(ids).toHaveLength(27);
    expect(ids).toContain('400000000024');
    expect(ids).not.toContain('500000000000');
    expect(aws.server.callsOf('ListAccounts').length).toBe(2);
  });

  it('names one lease key per instance, account, permission set and grantee', () => {
    expect(driver.leaseKeys(context())).toEqual([`sso/ssoins-1111222233334444/${ACCOUNT}/ps-aaaabbbbccccdddd/alice`]);
    expect(driver.leaseKeys(context({ permission: 'admin' }))).toEqual([
      `sso/ssoins-1111222233334444/${ACCOUNT}/ps-eeeeffff00001111/alice`,
    ]);
  });

  it('validates resources: account ids and exactly one permission set of the instance', () => {
    expect(() => validateResources([resource()], config)).not.toThrow();
    expect(() => validateResources([resource('prod')], config)).toThrow(
      /resources\.0\.id: must be a 12-digit AWS account id/,
    );
    const two = { ...resource(), permissions: [{ id: 'both', grants: [PS, PS_ADMIN] }] };
    expect(() => validateResources([two], config)).toThrow(
      /resources\.0\.permissions\.0\.grants: must name exactly one/,
    );
    const other = {
      ...resource(),
      permissions: [{ id: 'x', grants: ['arn:aws:sso:::permissionSet/ssoins-9999888877776666/ps-aaaabbbbccccdddd'] }],
    };
    expect(() => validateResources([other], config)).toThrow(
      /must be a permission set of instance ssoins-1111222233334444/,
    );
  });

  it('refuses a unit whose permission grants two permission sets, before any AWS call', async () => {
    const bad: Resource = { id: ACCOUNT, owners: [], permissions: [{ id: 'both', grants: [PS, PS_ADMIN] }] };
    const ctx = driverContext(integration([bad]), { lease: { soleHolder: true }, now: NOW });
    const error = await driver.grant(ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(String(error)).toContain('permission both: must name exactly one permission set ARN');
    expect(aws.server.calls).toHaveLength(0);
  });

  it('rejects an invalid config naming the field', () => {
    const parsed = driver.configSchema.safeParse({ ...config, instanceArn: 'nope', extra: 1 });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues.map((i) => i.path))).toBe('[["instanceArn"],[]]');
  });

  it('declares its capabilities', () => {
    expect(driver.capabilities).toEqual({
      endsLiveSessions: true,
      residualSessionSeconds: 300,
      targetEnforcesExpiry: false,
      issuesCredentials: false,
    });
    expect(driver.needsSecret).toBe(false);
  });
});

describe('helpers', () => {
  it('backs off 1, 1, 2, 3, 5, 8, 13, 21 then 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 20].map(backoffSeconds)).toEqual([1, 1, 2, 3, 5, 8, 13, 21, 30, 30]);
  });

  it('reads SessionDuration and slugs permission set names', () => {
    expect([
      durationSeconds('PT1H'),
      durationSeconds('PT12H'),
      durationSeconds('PT1H30M'),
      durationSeconds(undefined),
    ]).toEqual([3600, 43200, 5400, 3600]);
    expect([
      permissionIdOf('AdministratorAccess'),
      permissionIdOf('Billing & Cost'),
      permissionIdOf('--x'),
      permissionIdOf('--&'),
    ]).toEqual(['administratoraccess', 'billing-cost', 'x', 'permission-set']);
  });

  it('maps AWS errors: throttling and conflicts retryable, access denied permanent', () => {
    const meta = { $metadata: { httpStatusCode: 400 }, message: 'm' };
    const throttled = new ThrottlingException(meta);
    const conflict = new ConflictException(meta);
    const denied = new AccessDeniedException(meta);
    expect([isPermanentAwsError(throttled), isPermanentAwsError(conflict), isPermanentAwsError(denied)]).toEqual([
      false,
      false,
      true,
    ]);
    expect(toDriverError(throttled, 'x')).toBe(throttled);
    expect(toDriverError(denied, 'CreateAccountAssignment')).toEqual(
      new GrantPermanentError('CreateAccountAssignment: AccessDeniedException: m'),
    );
    expect(toDriverError(new Error('socket hang up'), 'x')).not.toBeInstanceOf(GrantPermanentError);
  });
});

describe('aws-identity-center with a role to assume', () => {
  const ROLE = 'arn:aws:iam::111111111111:role/stint-identity-center';
  const FUNCTION_ROLE = 'arn:aws:iam::111111111111:role/stint-driver-aws-identity-center';
  const CREDENTIAL_VARS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'] as const;
  let sts: AwsStandIn;
  let saved: Partial<Record<(typeof CREDENTIAL_VARS)[number], string>>;

  beforeEach(async () => {
    sts = await startAwsStandIn();
    // The driver function runs with its own role's session; it assumes the Identity Center role from there.
    const base = sts.account.addBaseCredential({
      arn: 'arn:aws:sts::111111111111:assumed-role/stint-driver-aws-identity-center/fn',
      roleArn: FUNCTION_ROLE,
    });
    sts.account.createRole({
      name: 'stint-identity-center',
      trust: [FUNCTION_ROLE],
      externalId: 'stint-external-id-1',
    });
    saved = Object.fromEntries(CREDENTIAL_VARS.map((k) => [k, process.env[k]]));
    process.env.AWS_ACCESS_KEY_ID = base.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = base.secretAccessKey;
    process.env.AWS_SESSION_TOKEN = base.sessionToken;
    process.env.AWS_ENDPOINT_URL_STS = sts.url;
  });

  afterEach(async () => {
    for (const k of CREDENTIAL_VARS) {
      const value = saved[k];
      if (value === undefined) delete process.env[k];
      else process.env[k] = value;
    }
    await sts.close();
  });

  const withRole = (externalId: string) =>
    driverContext(testIntegration('aws-identity-center', { ...config, roleArn: ROLE, externalId }, [resource()]), {
      lease: { soleHolder: true },
      now: NOW,
      accounts: [linkedAlice],
    });

  it('calls Identity Center with the credentials of the assumed role (external id, stint-idc session)', async () => {
    const answer = await driver.grant(withRole('stint-external-id-1'));
    expect(answer.status).toBe('pending');
    const signedWith = [...new Set(aws.server.calls.map((c) => c.accessKeyId ?? ''))];
    expect(signedWith).toHaveLength(1);
    expect(sts.session(signedWith[0] ?? '')).toMatchObject({ roleArn: ROLE, sessionName: 'stint-idc' });
  });

  it('turns a refused AssumeRole (wrong external id) into a GrantPermanentError', async () => {
    const error = await driver.grant(withRole('a-wrong-one')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrantPermanentError);
    expect(String(error)).toContain('AccessDenied');
    expect(aws.server.calls).toHaveLength(0);
  });
});

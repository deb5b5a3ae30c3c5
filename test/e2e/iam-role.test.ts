import { join } from 'node:path';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { awsIamRoleDriver, REVOKE_POLICY_PREFIX } from '#lib/integrations/aws-iam-role.ts';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { WorkflowService } from '#lib/services/workflow.ts';
import { createDocumentClient } from '#lib/store/client.ts';
import { Store } from '#lib/store/store.ts';
import { DiscoverAnswer } from '#lib/workflow/contract.ts';
import type { Executions } from '#lib/workflow/executions.ts';
import type { StoredCredential, StoredRole } from '../fixtures/aws/iam.ts';
import { type AwsStandIn, startAwsStandIn } from '../fixtures/aws/sts.ts';
import { requestsOver } from '../support/e2e-requests.ts';
import { call } from '../support/http.ts';
import { tableNameOf } from '../support/local-table.ts';

/**
 * AWS IAM role sessions end to end: the local runtime over HTTP, credentials issued on GET /access by the get-access
 * function invoking the aws-iam-role driver function (Lambda Invoke on the local runtime), the driver calling the
 * STS / IAM / federation stand-in (test/fixtures/aws/sts.ts) through AWS_ENDPOINT_URL_STS / _IAM.
 */

const ACCOUNT = '111111111111';
const FUNCTION_ROLE = `arn:aws:iam::${ACCOUNT}:role/stint-driver-aws-iam-role`;
const REGION = 'eu-west-1';
const INTEGRATION = 'iam';
/** Stint runs in a role session (Lambda's credentials are one): sessions it issues are chained, at most 1 h. */
const LONGEST_SESSION_MS = 3600_000;

const people = {
  alice: { sub: 'alice', email: 'alice@example.com', groups: [] as string[] },
  bob: { sub: 'bob', email: 'bob@example.com', groups: [] as string[] },
  carol: { sub: 'carol', email: 'carol@example.com', groups: [] as string[] },
  approver: { sub: 'approver', email: 'approver@example.com', groups: ['aws-approvers'] },
  root: { sub: 'root', email: 'root@example.com', groups: ['stint-admins'] },
};
type Person = keyof typeof people;
const tokens = {} as Record<Person, string>;

let stint: Stint;
let aws: AwsStandIn;
let target: StoredRole;
let tagged: StoredRole;

const Access = z.object({
  integrationId: z.string(),
  resource: z.string(),
  permission: z.string(),
  kind: z.literal('aws-role'),
  roleArn: z.string(),
  region: z.string(),
  expiresAt: z.string(),
  credentials: z.object({
    accessKeyId: z.string().min(1),
    secretAccessKey: z.string().min(1),
    sessionToken: z.string().min(1),
    expiration: z.string(),
    region: z.string(),
    consoleUrl: z.string().optional(),
    expiresAt: z.string(),
  }),
});
type Access = z.infer<typeof Access>;
type Keys = Pick<Access['credentials'], 'accessKeyId' | 'secretAccessKey' | 'sessionToken'>;

async function accessOf(who: Person, id: string) {
  return call(stint.url, 'GET', `/requests/${id}/access`, { token: tokens[who] });
}
async function access(who: Person, id: string): Promise<Access> {
  const res = await accessOf(who, id);
  expect(res.status, res.text).toBe(200);
  return Access.parse(res.json);
}
const { create, get, reach, revoke, putFlow } = requestsOver<Person>({
  url: () => stint.url,
  token: (who) => tokens[who],
  admin: 'root',
  justification: 'e2e iam role',
  flow: () => ({
    requestors: { everyone: true },
    targets: [{ integrationId: INTEGRATION, resource: target.arn, permission: 'default' }],
    approval: { mode: 'auto' },
    defaultMinutes: 5,
    maxMinutes: 30,
    justificationRequired: false,
    maxExtensions: 1,
  }),
});

/** The stored item, read straight from the local table (grants[].cleanup is not in the API view). */
function store() {
  return new Store(createDocumentClient(), tableNameOf(stint.runtime));
}
async function stored(id: string) {
  return store().getRequest(id);
}
function keysOf(a: Access): Keys {
  const { accessKeyId, secretAccessKey, sessionToken } = a.credentials;
  return { accessKeyId, secretAccessKey, sessionToken };
}
/** The caller's ARN as the STS stand-in sees it, through the real SDK. */
async function whoAmI(keys: Keys): Promise<string | undefined> {
  const sts = new STSClient({ region: REGION, endpoint: aws.url, credentials: keys, maxAttempts: 1 });
  return (await sts.send(new GetCallerIdentityCommand({}))).Arn;
}
/** An IAM call signed with the session's keys: the role count, or the error's name when refused. */
async function listRolesAs(keys: Keys): Promise<number | string> {
  const iam = new IAMClient({ region: REGION, endpoint: aws.url, credentials: keys, maxAttempts: 1 });
  try {
    return (await iam.send(new ListRolesCommand({}))).Roles?.length ?? 0;
  } catch (error) {
    return error instanceof Error ? error.name : String(error);
  }
}
const revokePolicies = () => [...target.inline.keys()].filter((n) => n.startsWith(REVOKE_POLICY_PREFIX));
const assumeRoleCalls = () => aws.calls.filter((c) => c.action === 'AssumeRole').length;

beforeAll(async () => {
  aws = await startAwsStandIn();
  // The driver function's own credentials: a session of its role, as in Lambda (what it assumes is role chaining).
  const fn: StoredCredential = aws.account.addBaseCredential({
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/stint-driver-aws-iam-role/fn`,
    roleArn: FUNCTION_ROLE,
  });
  // The local runtime deletes AWS_SESSION_TOKEN after applying `env` (lib/local/runtime.ts), so the handlers sign
  // with the access key and secret only: the stand-in must not expect a session token for this credential.
  delete fn.sessionToken;
  target = aws.account.createRole({ name: 'deploy', path: '/jit/', trust: [FUNCTION_ROLE], maxSessionDuration: 3600 });
  // Discover lists only roles tagged stint:jit: this one, not `deploy`.
  tagged = aws.account.createRole({
    name: 'oncall-admin',
    description: 'On-call admin',
    tags: [{ Key: 'stint:jit', Value: 'true' }],
    trust: [FUNCTION_ROLE],
  });
  // A policy of the role's own: Stint must never touch it.
  target.inline.set(
    'team-policy',
    JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] }),
  );
  stint = await startStint({
    pgDataDir: join(await clusterParentDir('stint-e2e-iam-role'), 'pg'),
    pgPort: await freePort(),
    port: 0,
    scheduleEveryMs: 1000,
    env: {
      AWS_ACCESS_KEY_ID: fn.accessKeyId,
      AWS_SECRET_ACCESS_KEY: fn.secretAccessKey,
      AWS_ENDPOINT_URL_STS: aws.url,
      AWS_ENDPOINT_URL_IAM: aws.url,
      STINT_AWS_FEDERATION_URL: aws.federationUrl,
      AWS_MAX_ATTEMPTS: '1', // a refused call fails at once instead of backing off
    },
  });
  for (const name of Object.keys(people) as Person[]) tokens[name] = await stint.token(people[name]);

  const put = await call(stint.url, 'PUT', `/integrations/${INTEGRATION}`, {
    token: tokens.root,
    body: {
      name: 'Deploy role',
      type: 'aws-iam-role',
      config: { region: REGION },
      resources: [{ id: target.arn, description: 'Deployments', permissions: [{ id: 'default', grants: ['*'] }] }],
    },
  });
  expect(put.status, put.text).toBe(200);
  await putFlow('iam-self', {});
  await putFlow('iam-approved', {
    approval: {
      mode: 'manual',
      sets: [{ users: [], groups: ['aws-approvers'] }],
      rule: { type: 'anyOf' },
      timeoutMinutes: 30,
      reasonRequired: false,
    },
  });
}, 180_000);

afterAll(async () => {
  await stint?.stop();
  await aws?.close();
});

describe('aws-iam-role through the local runtime', { timeout: 120_000 }, () => {
  /** Alice's request, revoked in the course of these tests; Bob's, revoked too, whose deny must outlive Alice's cleanup. */
  let alice: { id: string; first: Access; second: Access; policy: string } | undefined;
  let bobId: string;

  it('issues credentials on GET /access that STS recognises as a session of the role for the grantee and request', async () => {
    const { id } = await create('alice', 'iam-self');
    const active = await reach('alice', id, 'ACTIVE');

    const first = await access('alice', id);
    expect(first).toMatchObject({
      integrationId: INTEGRATION,
      resource: target.arn,
      permission: 'default',
      kind: 'aws-role',
      roleArn: target.arn,
      region: REGION,
      expiresAt: active.expiresAt,
    });
    expect(first.credentials.region).toBe(REGION);
    expect(await whoAmI(keysOf(first))).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/deploy/stint-${id}`);

    const session = aws.session(first.credentials.accessKeyId);
    expect(session?.roleArn).toBe(target.arn);
    expect(session?.sourceIdentity).toBe('alice@example.com');
    expect(session?.tags).toContainEqual({ Key: 'stint-request-id', Value: id });
    expect(session?.tags).toContainEqual({ Key: 'stint-grantee', Value: 'alice@example.com' });
    // Five minutes left: AssumeRole's 900-second minimum, and the access's end reported as the expiry.
    expect(session?.durationSeconds).toBe(900);
    expect(first.credentials.expiration).toBe(session?.expiresAt?.toISOString());
    expect(first.credentials.expiresAt).toBe(active.expiresAt);
    const link = new URL(first.credentials.consoleUrl ?? '');
    expect(`${link.origin}${link.pathname}`).toBe(aws.federationUrl);
    expect(aws.signinTokens.get(link.searchParams.get('SigninToken') ?? '')).toBe(first.credentials.accessKeyId);
    expect(await listRolesAs(keysOf(first))).toBeGreaterThan(0);

    // Re-issue: a second GET /access is a new session, also valid.
    const second = await access('alice', id);
    expect(second.credentials.accessKeyId).not.toBe(first.credentials.accessKeyId);
    expect(await whoAmI(keysOf(second))).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/deploy/stint-${id}`);
    expect(aws.session(second.credentials.accessKeyId)?.sourceIdentity).toBe('alice@example.com');
    expect(await listRolesAs(keysOf(second))).toBeGreaterThan(0);
    expect(await whoAmI(keysOf(first))).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/deploy/stint-${id}`);
    // Only the grantee: an admin who sees the request gets no session.
    const calls = assumeRoleCalls();
    expect((await accessOf('root', id)).status).toBe(403);
    expect(assumeRoleCalls()).toBe(calls);
    alice = { id, first, second, policy: '' };
  });

  it('refuses credentials to anyone but the grantee, and while the request is PENDING, issuing no session', async () => {
    const before = assumeRoleCalls();
    const { id } = await create('carol', 'iam-approved');
    expect((await get('carol', id)).status).toBe('PENDING');
    const early = await accessOf('carol', id);
    expect(early.status, early.text).toBe(409);
    expect(early.contentType).toContain('application/problem+json');
    // The approver and an admin see the request, and are not its grantee.
    for (const who of ['approver', 'root'] as const) {
      const other = await accessOf(who, id);
      expect(other.status, other.text).toBe(403);
      expect(other.contentType).toContain('application/problem+json');
    }
    // Someone unrelated does not even see it.
    expect((await accessOf('bob', id)).status).toBe(404);
    expect(assumeRoleCalls()).toBe(before);
    const cancel = await call(stint.url, 'POST', `/requests/${id}/cancel`, { token: tokens.carol, body: {} });
    expect(cancel.status, cancel.text).toBe(200);
  });

  it('revokes: the role carries the deny, the issued sessions are refused by IAM, and GET /access answers 409', async () => {
    const a = alice;
    if (a === undefined) throw new Error('needs the ACTIVE request of the first test');
    const other = await create('bob', 'iam-self');
    await reach('bob', other.id, 'ACTIVE');
    const bobs = await access('bob', other.id);
    bobId = other.id;

    await revoke('alice', a.id);
    const done = await reach('alice', a.id, 'REVOKED');

    const mine = revokePolicies().filter((name) => {
      const doc = JSON.parse(target.inline.get(name) ?? '{}');
      return doc.Statement?.[0]?.Condition?.StringEquals?.['aws:PrincipalTag/stint-request-id'] === a.id;
    });
    expect(mine).toHaveLength(1);
    const policy = mine[0] ?? '';
    const statement = JSON.parse(target.inline.get(policy) ?? '{}').Statement[0];
    expect(statement).toMatchObject({ Sid: 'StintRevoke', Effect: 'Deny', Action: '*', Resource: '*' });
    const notAfter = Date.parse(statement.Condition.DateLessThan['aws:TokenIssueTime']);
    // Both sessions were issued before the deny's notAfter, so it covers them.
    for (const issued of [a.first, a.second])
      expect(aws.session(issued.credentials.accessKeyId)?.issuedAt.getTime()).toBeLessThan(notAfter);

    expect(await listRolesAs(keysOf(a.first))).toBe('AccessDenied');
    expect(await listRolesAs(keysOf(a.second))).toBe('AccessDenied');
    // Another request's session on the same role still works.
    expect(await listRolesAs(keysOf(bobs))).toBeGreaterThan(0);

    const after = await accessOf('alice', a.id);
    expect(after.status, after.text).toBe(409);
    expect(after.contentType).toContain('application/problem+json');
    expect(done.revokedAt).toBeDefined();
    a.policy = policy;

    await revoke('bob', other.id);
    await reach('bob', other.id, 'REVOKED');
    expect(await listRolesAs(keysOf(bobs))).toBe('AccessDenied');
    expect(revokePolicies()).toHaveLength(2);
  });

  it('records a cleanup due once no denied session can be valid, which removes only its own deny', async () => {
    const a = alice;
    if (a === undefined || a.policy === '') throw new Error('needs the revoke of the third test');
    const item = await stored(a.id);
    const grant = item?.grants[0];
    expect(grant?.cleanup?.state).toEqual({ roleArn: target.arn, policyName: a.policy });
    const dueAt = Date.parse(grant?.cleanup?.dueAt ?? '');
    const statement = JSON.parse(target.inline.get(a.policy) ?? '{}').Statement[0];
    const notAfter = Date.parse(statement.Condition.DateLessThan['aws:TokenIssueTime']);
    // A session issued just before notAfter lives at most the longest session Stint can issue (chained: 1 h).
    expect(dueAt).toBeGreaterThanOrEqual(notAfter + LONGEST_SESSION_MS);
    expect(dueAt).toBeGreaterThan(Date.parse(item?.revokedAt ?? '') + LONGEST_SESSION_MS);

    // Due in over an hour (900 s minimum and 3600 s MaxSessionDuration are the smallest settings AWS allows, so no
    // integration makes it sooner): the driver step is driven directly, with a clock just past dueAt, on the same
    // table and stand-in the runtime uses.
    const past = new Date(dueAt + 1000);
    const noExecutions: Executions = {
      start: () => Promise.reject(new Error('not used by cleanup')),
      resume: () => Promise.reject(new Error('not used by cleanup')),
      fail: () => Promise.reject(new Error('not used by cleanup')),
      isRunning: () => Promise.reject(new Error('not used by cleanup')),
    };
    const workflow = new WorkflowService({
      store: store(),
      executions: noExecutions,
      resolveSecret: () => Promise.reject(new Error('no secret for aws-iam-role')),
      seal: () => Promise.reject(new Error('nothing to seal')),
      now: () => past,
    });
    // At dueAt the stand-in too finds every session Alice got expired.
    const realClock = aws.account.clock;
    aws.account.clock = () => past;
    try {
      expect(await listRolesAs(keysOf(a.first))).toBe('ExpiredToken');
      expect(await listRolesAs(keysOf(a.second))).toBe('ExpiredToken');
      await workflow.cleanup(a.id, awsIamRoleDriver);
    } finally {
      aws.account.clock = realClock;
    }

    expect(target.inline.has(a.policy)).toBe(false);
    const left = revokePolicies();
    expect(left).toHaveLength(1);
    expect(JSON.parse(target.inline.get(left[0] ?? '') ?? '{}').Statement[0].Condition.StringEquals).toMatchObject({
      'aws:PrincipalTag/stint-request-id': bobId,
    });
    expect(target.inline.has('team-policy')).toBe(true);
    expect((await stored(a.id))?.grants[0]?.cleanup).toBeUndefined();
    expect((await stored(bobId))?.grants[0]?.cleanup?.state).toMatchObject({ roleArn: target.arn });
  });
});

describe('discovery', () => {
  it('lists the roles tagged stint:jit to admins (GET /integrations/{id}/discover)', async () => {
    const res = await call(stint.url, 'GET', `/integrations/${INTEGRATION}/discover`, { token: tokens.root });
    expect(res.status, res.text).toBe(200);
    expect(DiscoverAnswer.parse(res.json).resources).toEqual([
      {
        id: tagged.arn,
        description: 'On-call admin',
        permissions: [{ id: 'default', description: "The role's own permissions", grants: ['*'] }],
      },
    ]);
  });
});

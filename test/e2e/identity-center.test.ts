import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denySid } from '#lib/integrations/aws-identity-center.ts';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { createDocumentClient } from '#lib/store/client.ts';
import { Store } from '#lib/store/store.ts';
import { DiscoverAnswer } from '#lib/workflow/contract.ts';
import {
  type IdentityCenterStandIns,
  startIdentityCenterStandIns,
  TEST_IDENTITY_STORE_ID,
  TEST_INSTANCE_ARN,
} from '../fixtures/aws/sso-admin.ts';
import { requestsOver } from '../support/e2e-requests.ts';
import { call, until } from '../support/http.ts';
import { tableNameOf } from '../support/local-table.ts';

/**
 * IAM Identity Center end to end: the local runtime over HTTP, the aws-identity-center driver calling the SSO
 * Admin / Identity Store / Organizations stand-ins (test/fixtures/aws) through AWS_ENDPOINT_URL_<SERVICE>.
 * The stand-ins' operations are wrapped here to hold an assignment's creation or deletion IN_PROGRESS for one
 * user until the test releases it (AWS's asynchronous operations, slow on demand).
 */

const ACCOUNT = '222233334444';
const PS_READONLY = 'arn:aws:sso:::permissionSet/ssoins-1111222233334444/ps-aaaabbbbccccdddd';
const PS_POWER = 'arn:aws:sso:::permissionSet/ssoins-1111222233334444/ps-eeeeffff00001111';
const PORTAL = 'https://d-1234567890.awsapps.com/start';
const INTEGRATION = 'idc';

const people = {
  alice: { sub: 'alice', email: 'alice@example.com', groups: [] as string[] },
  bob: { sub: 'bob', email: 'bob@example.com', groups: [] as string[] },
  carol: { sub: 'carol', email: 'carol@example.com', groups: [] as string[] },
  dave: { sub: 'dave', email: 'dave@example.com', groups: [] as string[] },
  erin: { sub: 'erin', email: 'erin@example.com', groups: [] as string[] },
  frank: { sub: 'frank', email: 'frank@example.com', groups: [] as string[] },
  gina: { sub: 'gina', email: 'gina@example.com', groups: [] as string[] },
  hank: { sub: 'hank', email: 'hank@example.com', groups: [] as string[] },
  approver: { sub: 'approver', email: 'approver@example.com', groups: ['aws-approvers'] },
  root: { sub: 'root', email: 'root@example.com', groups: ['stint-admins'] },
};
type Person = keyof typeof people;
const tokens = {} as Record<Person, string>;

/** Identity Store user ids (API_User.html pattern), one per grantee. */
const userIds: Partial<Record<Person, string>> = {
  alice: '9067c0ce-0001-4bcd-8abc-0123456789ab',
  bob: '9067c0ce-0002-4bcd-8abc-0123456789ab',
  carol: '9067c0ce-0003-4bcd-8abc-0123456789ab',
  dave: '9067c0ce-0004-4bcd-8abc-0123456789ab',
  erin: '9067c0ce-0005-4bcd-8abc-0123456789ab',
  frank: '9067c0ce-0006-4bcd-8abc-0123456789ab',
  gina: '9067c0ce-0007-4bcd-8abc-0123456789ab',
  hank: '9067c0ce-0008-4bcd-8abc-0123456789ab',
};
function userId(who: Person): string {
  const id = userIds[who];
  if (id === undefined) throw new Error(`${who} has no Identity Store user`);
  return id;
}

let stint: Stint;
let aws: IdentityCenterStandIns;

const { create, get, reach, act, revoke, putFlow } = requestsOver<Person>({
  url: () => stint.url,
  token: (who) => tokens[who],
  admin: 'root',
  justification: 'e2e identity center',
  flow: () => ({
    requestors: { everyone: true },
    targets: [{ integrationId: INTEGRATION, resource: ACCOUNT, permission: 'readonly' }],
    approval: { mode: 'auto' },
    defaultMinutes: 5,
    maxMinutes: 30,
    justificationRequired: false,
    maxExtensions: 1,
  }),
});

function integrationBody(resources: unknown) {
  return {
    name: 'AWS accounts',
    type: 'aws-identity-center',
    config: {
      instanceArn: TEST_INSTANCE_ARN,
      identityStoreId: TEST_IDENTITY_STORE_ID,
      region: 'eu-west-1',
      portalUrl: PORTAL,
    },
    resources,
  };
}
/** The stored item, read straight from the local table (grants[].cleanup is not in the API view). */
async function stored(id: string) {
  const store = new Store(createDocumentClient(), tableNameOf(stint.runtime));
  return store.getRequest(id);
}
const has = (who: Person, permissionSetArn = PS_READONLY) =>
  aws.sso.hasAssignment(ACCOUNT, permissionSetArn, userId(who));
const callsFor = (operation: string, who: Person) =>
  aws.server.callsOf(operation).filter((c) => c.input.PrincipalId === userId(who));

// ---- holding AWS's asynchronous operations IN_PROGRESS, per user ----

type Kind = 'create' | 'delete';
type Operations = typeof aws.sso.service.operations;
/** Stand-in request ids of each user's creations and deletions, in order. */
const operationsOf = new Map<string, { kind: Kind; requestId: string; principal: string }>();
const held = new Set<string>();
/** What each (kind, user) status call answered, in order. */
const answered = new Map<string, string[]>();
/** The next creation for this user FAILS with this reason. */
const failFor = new Map<string, string>();
const keyOf = (kind: Kind, who: Person) => `${kind}|${userId(who)}`;
const hold = (kind: Kind, who: Person) => held.add(keyOf(kind, who));
const release = (kind: Kind, who: Person) => held.delete(keyOf(kind, who));
const answers = (kind: Kind, who: Person) => answered.get(keyOf(kind, who)) ?? [];
const requestIdsOf = (kind: Kind, who: Person) =>
  [...operationsOf.values()].filter((o) => o.kind === kind && o.principal === userId(who)).map((o) => o.requestId);

function operation(ops: Operations, name: string) {
  const original = ops[name];
  if (original === undefined) throw new Error(`the stand-in has no ${name}`);
  return original;
}

function instrument(ops: Operations): void {
  const statusMember = { create: 'AccountAssignmentCreationStatus', delete: 'AccountAssignmentDeletionStatus' };
  const starts = { create: 'CreateAccountAssignment', delete: 'DeleteAccountAssignment' } as const;
  const describes = {
    create: ['DescribeAccountAssignmentCreationStatus', 'AccountAssignmentCreationRequestId'],
    delete: ['DescribeAccountAssignmentDeletionStatus', 'AccountAssignmentDeletionRequestId'],
  } as const;
  for (const kind of ['create', 'delete'] as const) {
    const start = operation(ops, starts[kind]);
    ops[starts[kind]] = (input) => {
      const principal = String(input.PrincipalId);
      const reason = kind === 'create' ? failFor.get(principal) : undefined;
      if (reason !== undefined) {
        failFor.delete(principal);
        aws.sso.failNextCreation(reason);
      }
      const out = start(input) as Record<string, { RequestId: string }>;
      const requestId = out[statusMember[kind]]?.RequestId;
      if (requestId !== undefined) operationsOf.set(requestId, { kind, requestId, principal });
      return out;
    };
    const [describeName, member] = describes[kind];
    const describe = operation(ops, describeName);
    ops[describeName] = (input) => {
      const requestId = String(input[member]);
      const op = operationsOf.get(requestId);
      const key = op === undefined ? undefined : `${kind}|${op.principal}`;
      const log = (status: string) => {
        if (key !== undefined) answered.set(key, [...(answered.get(key) ?? []), status]);
      };
      if (key !== undefined && held.has(key)) {
        log('IN_PROGRESS');
        return { [statusMember[kind]]: { Status: 'IN_PROGRESS', RequestId: requestId, PrincipalId: op?.principal } };
      }
      const out = describe(input) as Record<string, { Status: string }>;
      log(out[statusMember[kind]]?.Status ?? 'none');
      return out;
    };
  }
}

/** AWS finishing an operation by itself (the stand-in advances only when asked): ask until it is no longer IN_PROGRESS. */
function finishOnAws(kind: Kind, requestId: string): string {
  const [name, member, statusName] =
    kind === 'create'
      ? [
          'DescribeAccountAssignmentCreationStatus',
          'AccountAssignmentCreationRequestId',
          'AccountAssignmentCreationStatus',
        ]
      : [
          'DescribeAccountAssignmentDeletionStatus',
          'AccountAssignmentDeletionRequestId',
          'AccountAssignmentDeletionStatus',
        ];
  const describe = operation(aws.sso.service.operations, name);
  for (let i = 0; i < 20; i++) {
    const out = describe({ InstanceArn: TEST_INSTANCE_ARN, [member]: requestId }) as Record<string, { Status: string }>;
    const status = out[statusName]?.Status ?? 'none';
    if (status !== 'IN_PROGRESS') return status;
  }
  return 'IN_PROGRESS';
}

beforeAll(async () => {
  aws = await startIdentityCenterStandIns();
  aws.organizations.seedAccounts({ id: ACCOUNT, name: 'Production', email: 'prod@example.com' });
  aws.sso.seedPermissionSets(
    { arn: PS_READONLY, name: 'ReadOnly', description: 'Read only' },
    { arn: PS_POWER, name: 'PowerUser', sessionDuration: 'PT2H' },
  );
  for (const [who, id] of Object.entries(userIds))
    aws.identityStore.seedUsers({ userId: id, userName: `${who}@example.com`, emails: [`${who}@example.com`] });
  // dave holds ReadOnly on the account already (standing access, not Stint's).
  aws.sso.seedAssignment(ACCOUNT, PS_READONLY, userId('dave'));
  instrument(aws.sso.service.operations);

  stint = await startStint({
    pgDataDir: join(await clusterParentDir('stint-e2e-idc'), 'pg'),
    pgPort: await freePort(),
    port: 0,
    scheduleEveryMs: 1000,
    env: aws.env,
  });
  for (const name of Object.keys(people) as Person[]) tokens[name] = await stint.token(people[name]);

  const put = await call(stint.url, 'PUT', `/integrations/${INTEGRATION}`, {
    token: tokens.root,
    body: integrationBody([
      {
        id: ACCOUNT,
        description: 'Production',
        permissions: [
          { id: 'readonly', grants: [PS_READONLY] },
          { id: 'poweruser', grants: [PS_POWER] },
        ],
      },
    ]),
  });
  expect(put.status, put.text).toBe(200);
  await putFlow('idc-approved', {
    approval: {
      mode: 'manual',
      sets: [{ users: [], groups: ['aws-approvers'] }],
      rule: { type: 'anyOf' },
      timeoutMinutes: 30,
      reasonRequired: false,
    },
  });
  await putFlow('idc-auto', {});
  await putFlow('idc-power', {
    targets: [{ integrationId: INTEGRATION, resource: ACCOUNT, permission: 'poweruser' }],
  });
}, 180_000);

afterAll(async () => {
  await stint?.stop();
  await aws?.close();
});

describe.concurrent('IAM Identity Center through the local runtime', { timeout: 240_000 }, () => {
  it('stays GRANTING while the assignment is IN_PROGRESS, turns ACTIVE once it SUCCEEDED, and shows the account', async () => {
    hold('create', 'alice');
    const { id } = await create('alice', 'idc-approved');
    expect((await get('alice', id)).status).toBe('PENDING');
    expect((await act('approver', id, 'approve')).status).toBe(200);

    // Stint has created the assignment and been told IN_PROGRESS twice: the request waits in GRANTING.
    await until(
      async () => answers('create', 'alice').length,
      (n) => n >= 2,
      60_000,
    );
    const whileInProgress = await get('alice', id);
    expect(whileInProgress.status).toBe('GRANTING');
    expect(has('alice')).toBe(false);
    expect((await call(stint.url, 'GET', `/requests/${id}/access`, { token: tokens.alice })).status).toBe(409);

    release('create', 'alice');
    const seen: string[] = [];
    await until(
      async () => {
        const r = await get('alice', id);
        seen.push(r.status);
        return r;
      },
      (r) => r.status === 'ACTIVE',
      60_000,
    );
    expect(seen.slice(0, -1).filter((status) => status !== 'GRANTING')).toEqual([]);
    expect(answers('create', 'alice').at(-1)).toBe('SUCCEEDED');
    expect(answers('create', 'alice').slice(0, 2)).toEqual(['IN_PROGRESS', 'IN_PROGRESS']);
    expect(has('alice')).toBe(true);

    const access = await call(stint.url, 'GET', `/requests/${id}/access`, { token: tokens.alice });
    expect(access.status, access.text).toBe(200);
    expect(access.json).toMatchObject({
      kind: 'aws-account',
      accountId: ACCOUNT,
      permissionSet: 'ReadOnly',
      portalUrl: PORTAL,
    });

    await revoke('alice', id);
    await reach('alice', id, 'REVOKED');
    expect(has('alice')).toBe(false);
  });

  it("fails the request with AWS's FailureReason when the assignment's creation FAILED", async () => {
    const reason = 'Received a 404 status error: Not supported policy arn:aws:iam::aws:policy/NoSuchManagedPolicy.';
    failFor.set(userId('bob'), reason);
    const { id } = await create('bob', 'idc-auto');
    const failed = await reach('bob', id, 'FAILED');
    expect(failed.failureReason).toContain(reason);
    expect(answers('create', 'bob').at(-1)).toBe('FAILED');
    expect(has('bob')).toBe(false);
  });

  it('keeps a shared assignment until the last of two overlapping requests ends', async () => {
    const first = await create('carol', 'idc-auto');
    await reach('carol', first.id, 'ACTIVE');
    const second = await create('carol', 'idc-auto');
    await reach('carol', second.id, 'ACTIVE');
    expect(callsFor('CreateAccountAssignment', 'carol')).toHaveLength(1);

    await revoke('carol', first.id);
    await reach('carol', first.id, 'REVOKED');
    expect(has('carol')).toBe(true);
    expect(callsFor('DeleteAccountAssignment', 'carol')).toHaveLength(0);
    expect((await get('carol', second.id)).status).toBe('ACTIVE');

    await revoke('carol', second.id);
    await reach('carol', second.id, 'REVOKED');
    expect(has('carol')).toBe(false);
    expect(callsFor('DeleteAccountAssignment', 'carol')).toHaveLength(1);
  });

  it('never deletes an assignment that existed before the request', async () => {
    const { id } = await create('dave', 'idc-auto', 1);
    await reach('dave', id, 'ACTIVE');
    await reach('dave', id, 'EXPIRED');
    expect(has('dave')).toBe(true);
    expect(callsFor('CreateAccountAssignment', 'dave')).toHaveLength(0);
    expect(callsFor('DeleteAccountAssignment', 'dave')).toHaveLength(0);
    expect(aws.sso.inlinePolicy(PS_READONLY) ?? '').not.toContain(userId('dave'));
  });

  it('lists the accounts and permission sets the instance offers to admins (GET /integrations/{id}/discover)', async () => {
    const res = await call(stint.url, 'GET', `/integrations/${INTEGRATION}/discover`, { token: tokens.root });
    expect(res.status, res.text).toBe(200);
    const listed = DiscoverAnswer.parse(res.json);
    expect(listed.resources.map((r) => r.id)).toEqual([ACCOUNT]);
    expect(listed.resources[0]?.permissions.map((p) => p.grants).sort()).toEqual([[PS_POWER], [PS_READONLY]].sort());
    const refused = await call(stint.url, 'GET', `/integrations/${INTEGRATION}/discover`, { token: tokens.alice });
    expect(refused.status).toBe(403);
  });

  it('converges when a revoke races an assignment creation still in flight', async () => {
    hold('create', 'erin');
    const { id } = await create('erin', 'idc-auto');
    await until(
      async () => answers('create', 'erin').length,
      (n) => n >= 1,
      60_000,
    );
    expect((await get('erin', id)).status).toBe('GRANTING');
    await revoke('erin', id);
    // The revoke waits for the creation AWS accepted (it finishes whether or not anyone asks): not REVOKED yet.
    const waiting = await until(
      () => get('erin', id),
      (r) => r.unitDetails?.[0]?.progress?.action === 'revoke',
      60_000,
    );
    expect(waiting.status).toBe('REVOKING');
    expect(waiting.unitDetails?.[0]?.progress?.reason).toMatch(/being created to finish/);

    release('create', 'erin');
    const [creation] = requestIdsOf('create', 'erin');
    expect(creation).toBeDefined();
    expect(finishOnAws('create', creation ?? '')).toBe('SUCCEEDED');
    const ended = await reach('erin', id, 'REVOKED');
    expect(ended.status).toBe('REVOKED');
    // Nobody holds erin's access any more: the assignment the creation made is deleted, none is left behind.
    expect(has('erin')).toBe(false);
  });

  it("waits for the previous holder's deletion before granting the same assignment again", async () => {
    const first = await create('frank', 'idc-auto');
    await reach('frank', first.id, 'ACTIVE');
    hold('delete', 'frank');
    await revoke('frank', first.id);
    await until(
      async () => answers('delete', 'frank').length,
      (n) => n >= 1,
      60_000,
    );
    const second = await create('frank', 'idc-auto');
    await until(
      () => get('frank', second.id),
      (r) => r.status === 'GRANTING',
      60_000,
    );
    expect((await get('frank', first.id)).status).toBe('REVOKING');

    release('delete', 'frank');
    await reach('frank', first.id, 'REVOKED');
    await reach('frank', second.id, 'ACTIVE');
    expect(has('frank')).toBe(true);
    expect(callsFor('CreateAccountAssignment', 'frank').length).toBeGreaterThanOrEqual(2);

    await revoke('frank', second.id);
    await reach('frank', second.id, 'REVOKED');
    expect(has('frank')).toBe(false);
  });

  it("retries a creation refused with ConflictException while another actor's change is in flight", async () => {
    const foreign = aws.sso.startForeignOperation('delete', ACCOUNT, PS_READONLY, userId('gina'));
    const { id } = await create('gina', 'idc-auto');
    await until(
      async () => callsFor('CreateAccountAssignment', 'gina').length,
      (n) => n >= 1,
      60_000,
    );
    expect((await get('gina', id)).status).toBe('GRANTING');
    expect(requestIdsOf('create', 'gina')).toEqual([]); // refused: no creation started
    expect(finishOnAws('delete', foreign)).toBe('SUCCEEDED');

    await reach('gina', id, 'ACTIVE');
    expect(has('gina')).toBe(true);
    expect(requestIdsOf('create', 'gina')).toHaveLength(1);
    await revoke('gina', id);
    await reach('gina', id, 'REVOKED');
    expect(has('gina')).toBe(false);
  });

  it('expires: deletes the assignment, denies the sessions issued before, re-provisions and schedules the cleanup', async () => {
    const { id } = await create('hank', 'idc-power', 1);
    await reach('hank', id, 'ACTIVE');
    expect(has('hank', PS_POWER)).toBe(true);
    const done = await reach('hank', id, 'EXPIRED');
    expect(has('hank', PS_POWER)).toBe(false);

    const hankId = userId('hank');
    const policy = JSON.parse(aws.sso.inlinePolicy(PS_POWER) ?? '{"Statement":[]}') as {
      Statement: Record<string, unknown>[];
    };
    const deny = policy.Statement.find((s) => s.Sid === denySid(hankId));
    expect(deny).toMatchObject({
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: { StringEquals: { 'identitystore:userId': hankId } },
    });
    const issuedBefore = (deny as { Condition: { DateLessThan: { 'aws:TokenIssueTime': string } } }).Condition
      .DateLessThan['aws:TokenIssueTime'];
    expect(Date.parse(issuedBefore)).toBeGreaterThanOrEqual(Date.parse(done.expiresAt ?? ''));
    expect(Date.parse(issuedBefore)).toBeLessThanOrEqual(Date.parse(done.revokedAt ?? ''));
    // Re-provisioned after the statement was written: the account's role holds it.
    expect(aws.sso.provisionedPolicy(PS_POWER, ACCOUNT)?.policy).toContain(denySid(hankId));
    expect(aws.sso.provisioningRequests()).toContainEqual({
      accountId: ACCOUNT,
      permissionSetArn: PS_POWER,
      status: 'SUCCEEDED',
    });

    const item = await stored(id);
    const cleanup = item?.grants[0]?.cleanup;
    expect(cleanup?.state).toMatchObject({
      userId: hankId,
      accountId: ACCOUNT,
      permissionSetArn: PS_POWER,
      sid: denySid(hankId),
      issuedBefore,
    });
    // Due once no session issued before the revoke can be valid: SessionDuration (PT2H) + 300 s of propagation.
    const dueInSeconds = (Date.parse(cleanup?.dueAt ?? '') - Date.parse(issuedBefore)) / 1000;
    expect(dueInSeconds).toBeGreaterThanOrEqual(7200 + 300);
    expect(dueInSeconds).toBeLessThan(7200 + 300 + 60);
  });

  it('refuses an integration whose account id is not 12 digits, naming the field', async () => {
    const res = await call(stint.url, 'PUT', '/integrations/idc-bad', {
      token: tokens.root,
      body: integrationBody([{ id: '2222333344', permissions: [{ id: 'readonly', grants: [PS_READONLY] }] }]),
    });
    expect(res.status, res.text).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.json).toMatchObject({ status: 400, field: 'body.resources.0.id' });
    expect((res.json as { detail: string }).detail).toContain('12-digit');
    expect((await call(stint.url, 'GET', '/integrations/idc-bad', { token: tokens.root })).status).toBe(404);
  });
});

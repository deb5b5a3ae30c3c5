import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CreateRequestInput } from '#lib/domain/create-request.ts';
import {
  ForbiddenError,
  InvalidTransitionError,
  NotApproverError,
  NotFoundError,
  PolicyError,
  ValidationError,
} from '#lib/domain/errors.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { sealSecret } from '#lib/secrets/seal.ts';
import { RequestService } from '#lib/services/requests.ts';
import { WorkflowService } from '#lib/services/workflow.ts';
import { Store } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aFlow, anIdentity, anIntegration, aRequest } from '../../support/fixtures.ts';
import { RecordingExecutions } from '../../support/recording-executions.ts';
import { ROLES, seedFlow, seedIntegration, TestClock } from '../../support/services.ts';

const KEY = 'a-fixed-sealing-key-for-tests-0123456789';

const alice = anIdentity({ sub: 'alice' });
const approver1 = anIdentity({ sub: 'approver-1' });
const dba = (n: number) => anIdentity({ sub: `dba-${n}`, groups: ['dba'] });
const admin = anIdentity({ sub: 'root', groups: [ROLES.adminGroup] });
const auditor = anIdentity({ sub: 'watcher', groups: [ROLES.auditorGroup] });
const stranger = anIdentity({ sub: 'mallory', groups: ['sales'] });

const manualFlow = aFlow();
const autoFlow = aFlow({ id: 'self-serve', approval: { mode: 'auto' }, maxExtensions: 1 });
const quorumFlow = aFlow({
  id: 'db-quorum',
  approval: {
    mode: 'manual',
    sets: [{ users: [], groups: ['dba'] }],
    rule: { type: 'quorum', count: 2 },
    timeoutMinutes: 60,
    reasonRequired: false,
  },
});

let table: LocalTable;
let store: Store;
let executions: RecordingExecutions;
let clock: TestClock;
let service: RequestService;

beforeEach(async () => {
  table = await startDynalite();
  clock = new TestClock('2030-01-15T10:00:00.000Z');
  store = new Store(table.doc, table.tableName, { now: clock.now });
  executions = new RecordingExecutions();
  service = new RequestService({
    store,
    executions,
    roles: ROLES,
    now: clock.now,
    credentialsKey: async () => KEY,
  });
  await seedIntegration(store, anIntegration());
  for (const flow of [manualFlow, autoFlow, quorumFlow]) await seedFlow(store, flow);
});
afterEach(async () => {
  await table.stop();
});

function input(overrides: Partial<CreateRequestInput> = {}): CreateRequestInput {
  return { flowId: manualFlow.id, durationMinutes: 30, justification: 'incident 42', ...overrides };
}

/** A request in the store as the workflow leaves it once granted. */
async function storedActive(overrides: Partial<AccessRequest> = {}): Promise<AccessRequest> {
  const request = aRequest({
    requester: alice,
    grantee: alice,
    status: 'ACTIVE',
    grantedAt: '2030-01-15T10:00:00.000Z',
    expiresAt: '2030-01-15T10:30:00.000Z',
    enforcedExpiresAt: '2030-01-15T10:30:00.000Z',
    activeToken: 'active-token',
    grants: [
      {
        unit: { integrationId: 'pg', resource: 'app', permission: 'readonly' },
        state: { role: 'stint_x' },
        access: { host: 'db.internal', port: 5432, database: 'app', username: 'stint_x' },
        sealedSecret: await sealSecret('the-password', KEY),
      },
    ],
    ...overrides,
  });
  await store.createRequest(request);
  return request;
}

/** Registers the approval wait's token as the workflow would after Load. */
async function registerApprovalToken(request: AccessRequest, token: string): Promise<void> {
  await store.updateRequest(request.id, (r) => ({ ...r, approvalToken: token }));
  executions.live(token);
}

describe('create', () => {
  it('approves a self-serve request at once and starts its execution once, attempt 0', async () => {
    const request = await service.create(input({ flowId: autoFlow.id }), alice, 'api');

    expect(request.status).toBe('APPROVED');
    expect(request.decision?.outcome).toBe('auto');
    expect((await store.getRequest(request.id))?.status).toBe('APPROVED');
    expect(executions.starts).toEqual([{ requestId: request.id, attempt: 0 }]);
    // The route of what it wrote: the execution goes straight to the grant, no Load.
    expect(executions.startRoutes).toEqual([
      {
        next: 'grant',
        waitSeconds: 1,
        version: request.version,
        driver: 'postgresql',
        branch: 'grant:postgresql',
        integrationIds: ['pg'],
      },
    ]);
  });

  it('leaves a manual request PENDING and visible to its approvers, user and group', async () => {
    const request = await service.create(input(), alice, 'api');

    expect(request.status).toBe('PENDING');
    expect(request.approvalDeadline).toBe('2030-01-15T11:00:00.000Z');
    expect(executions.starts).toEqual([{ requestId: request.id, attempt: 0 }]);
    expect(executions.startRoutes).toEqual([
      {
        next: 'await-approval',
        waitSeconds: 3600,
        version: 1,
        driver: 'postgresql',
        branch: 'await-approval',
        integrationIds: [],
      },
    ]);
    const forUser = await service.list(approver1, { scope: 'approvals' });
    const forGroup = await service.list(dba(1), { scope: 'approvals' });
    expect(forUser.items.map((r) => r.id)).toEqual([request.id]);
    expect(forGroup.items.map((r) => r.id)).toEqual([request.id]);
    expect((await service.list(stranger, { scope: 'approvals' })).items).toEqual([]);
  });

  it('refuses an unknown flow with NotFoundError on flowId and starts nothing', async () => {
    const error = await service.create(input({ flowId: 'no-such-flow' }), alice, 'api').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ field: 'flowId' });
    expect(executions.starts).toEqual([]);
    expect((await service.list(alice, { scope: 'mine' })).items).toEqual([]);
  });

  it('keeps the request when starting its execution fails (the reconciler starts it later)', async () => {
    executions.failStarts = true;

    const request = await service.create(input({ flowId: autoFlow.id }), alice, 'api');

    expect(request.status).toBe('APPROVED');
    expect((await store.getRequest(request.id))?.attempt).toBe(0);
    expect(executions.starts).toEqual([]);
  });
});

describe('decide', () => {
  it('needs two distinct approvers under a quorum of 2, and resumes the wait only on the second', async () => {
    const request = await service.create(input({ flowId: quorumFlow.id }), alice, 'api');
    await registerApprovalToken(request, 'approval-token');

    const first = await service.decide(request.id, dba(1), { vote: 'approve', channel: 'api' });
    expect(first.status).toBe('PENDING');
    expect(first.votes.map((v) => v.by)).toEqual(['dba-1']);
    expect(executions.resumes).toEqual([]);

    const again = await service.decide(request.id, dba(1), { vote: 'approve', channel: 'api' });
    expect(again.status).toBe('PENDING');
    expect(executions.resumes).toEqual([]);

    const second = await service.decide(request.id, dba(2), { vote: 'approve', channel: 'slack' });
    expect(second.status).toBe('APPROVED');
    expect(second.decision).toMatchObject({ outcome: 'approved', by: 'dba-2', channel: 'slack' });
    expect(executions.resumes).toEqual([{ token: 'approval-token', live: true }]);
    // The wait's result is the route of the decision's write: on to the grant.
    expect(executions.resumeRoutes).toEqual([
      {
        next: 'grant',
        waitSeconds: 1,
        version: second.version,
        driver: 'postgresql',
        branch: 'grant:postgresql',
        integrationIds: ['pg'],
      },
    ]);
  });

  it('resumes the registered approval token exactly once when ten approvers approve at once', async () => {
    const request = await service.create(input(), alice, 'api');
    await registerApprovalToken(request, 'approval-token');
    const before = await store.getRequest(request.id);

    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => service.decide(request.id, dba(i), { vote: 'approve', channel: 'api' })),
    );

    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(9);
    for (const reason of rejected) expect(reason).toBeInstanceOf(InvalidTransitionError);
    const after = await store.getRequest(request.id);
    expect(after?.status).toBe('APPROVED');
    expect(after?.version).toBe((before?.version ?? 0) + 1);
    expect(after?.votes).toHaveLength(1);
    expect(after?.decision?.by).toBe(after?.votes[0]?.by);
    expect(executions.resumes).toEqual([{ token: 'approval-token', live: true }]);
    expect(executions.fails).toEqual([]);
  });

  it('fails the approval wait with Rejected on a reject', async () => {
    const request = await service.create(input(), alice, 'api');
    await registerApprovalToken(request, 'approval-token');

    const rejected = await service.decide(request.id, approver1, { vote: 'reject', reason: 'not now', channel: 'api' });

    expect(rejected.status).toBe('REJECTED');
    expect(rejected.decision).toMatchObject({ outcome: 'rejected', by: 'approver-1', reason: 'not now' });
    expect(executions.fails).toEqual([
      { token: 'approval-token', error: 'Rejected', cause: 'The request was rejected', live: true },
    ]);
    expect(executions.resumes).toEqual([]);
  });

  it('refuses self-approval even by an admin who is in the approver group', async () => {
    const adminDba = anIdentity({ sub: 'boss', groups: ['dba', ROLES.adminGroup] });
    const request = await service.create(input(), adminDba, 'api');
    await registerApprovalToken(request, 'approval-token');

    await expect(service.decide(request.id, adminDba, { vote: 'approve', channel: 'api' })).rejects.toBeInstanceOf(
      NotApproverError,
    );
    expect((await store.getRequest(request.id))?.status).toBe('PENDING');
    expect(executions.resumes).toEqual([]);
  });

  it('refuses a vote by someone who is not an approver (a stranger does not even see the request)', async () => {
    const request = await service.create(input(), alice, 'api');

    await expect(service.decide(request.id, stranger, { vote: 'approve', channel: 'api' })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(service.decide(request.id, admin, { vote: 'reject', channel: 'api' })).rejects.toBeInstanceOf(
      NotApproverError,
    );
    expect((await store.getRequest(request.id))?.votes).toEqual([]);
  });

  it('resumes nothing before a token is registered; registering afterwards resumes the new token at once', async () => {
    const request = await service.create(input(), alice, 'api');
    const workflow = new WorkflowService({
      store,
      executions,
      // Loading and token registration touch no target: neither secrets nor sealing are needed.
      resolveSecret: async () => {
        throw new Error('no secret needed');
      },
      seal: async () => {
        throw new Error('no sealing needed');
      },
      now: clock.now,
    });
    const loaded = await workflow.load(request.id);
    expect(loaded.next).toBe('await-approval');

    const approved = await service.decide(request.id, approver1, { vote: 'approve', channel: 'api' });
    expect(approved.status).toBe('APPROVED');
    expect(executions.resumes).toEqual([]);

    executions.live('late-token');
    await workflow.registerToken({
      requestId: request.id,
      attempt: 0,
      kind: 'approval',
      taskToken: 'late-token',
      ...(loaded.version === undefined ? {} : { version: loaded.version }),
    });

    expect(executions.resumes).toEqual([{ token: 'late-token', live: true }]);
    expect((await store.getRequest(request.id))?.approvalToken).toBeUndefined();
  });
});

describe('decide racing the token registration', () => {
  it('resumes exactly one token whichever of the decision and the registration lands first', async () => {
    const workflow = new WorkflowService({
      store,
      executions,
      // Loading and token registration touch no target: neither secrets nor sealing are needed.
      resolveSecret: async () => {
        throw new Error('no secret needed');
      },
      seal: async () => {
        throw new Error('no sealing needed');
      },
      now: clock.now,
    });
    const ids: string[] = [];
    for (let round = 0; round < 8; round++) {
      const request = await service.create(input(), alice, 'api');
      ids.push(request.id);
      const token = `token-${round}`;
      executions.live(token);
      await Promise.all([
        service.decide(request.id, approver1, { vote: 'approve', channel: 'api' }),
        workflow.registerToken({ requestId: request.id, attempt: 0, kind: 'approval', taskToken: token, version: 1 }),
      ]);
    }

    expect(executions.resumes.map((r) => r.token).sort()).toEqual(ids.map((_, round) => `token-${round}`).sort());
    expect(executions.resumes.every((r) => r.live)).toBe(true);
    for (const id of ids) expect((await store.getRequest(id))?.status).toBe('APPROVED');
  });
});

describe('cancel', () => {
  it('lets the requester cancel a pending request and fails its wait with Cancelled', async () => {
    const request = await service.create(input(), alice, 'api');
    await registerApprovalToken(request, 'approval-token');

    const cancelled = await service.cancel(request.id, alice, { reason: 'no longer needed', channel: 'api' });

    expect(cancelled.status).toBe('CANCELLED');
    expect(cancelled.lastChange).toMatchObject({ by: 'alice', action: 'cancel', reason: 'no longer needed' });
    expect(executions.fails.map((f) => [f.token, f.error])).toEqual([['approval-token', 'Cancelled']]);
  });

  it('refuses a cancel by anyone but the requester, admins included', async () => {
    const request = await service.create(input(), alice, 'api');
    await registerApprovalToken(request, 'approval-token');

    await expect(service.cancel(request.id, admin, { channel: 'api' })).rejects.toBeInstanceOf(ForbiddenError);
    await expect(service.cancel(request.id, approver1, { channel: 'api' })).rejects.toBeInstanceOf(ForbiddenError);
    expect((await store.getRequest(request.id))?.status).toBe('PENDING');
    expect(executions.fails).toEqual([]);
  });

  it('refuses to cancel a request that is no longer pending', async () => {
    const request = await service.create(input({ flowId: autoFlow.id }), alice, 'api');

    await expect(service.cancel(request.id, alice, { channel: 'api' })).rejects.toBeInstanceOf(InvalidTransitionError);
    expect((await store.getRequest(request.id))?.status).toBe('APPROVED');
  });
});

describe('revoke', () => {
  it('lets the grantee end the grant early and resumes the expiry wait', async () => {
    executions.live('active-token');
    const request = await storedActive({ unitTypes: ['postgresql'] });

    const revoking = await service.revoke(request.id, alice, { reason: 'done', channel: 'api' });

    expect(revoking.status).toBe('REVOKING');
    expect(revoking.endReason).toBe('revoked');
    expect(executions.resumes).toEqual([{ token: 'active-token', live: true }]);
    expect(executions.resumeRoutes).toEqual([
      {
        next: 'revoke',
        waitSeconds: 1,
        version: revoking.version,
        driver: 'postgresql',
        branch: 'revoke:postgresql',
        integrationIds: ['pg'],
      },
    ]);
  });

  it('resumes without a route a request whose unit types are not recorded (the execution loads first)', async () => {
    executions.live('active-token');
    const request = await storedActive({ unitTypes: undefined });

    await service.revoke(request.id, alice, { channel: 'api' });

    expect(executions.resumes).toEqual([{ token: 'active-token', live: true }]);
    expect(executions.resumeRoutes).toEqual([undefined]);
  });

  it.each([
    ['an admin', admin],
    ['an approver of the request', approver1],
  ])('lets %s revoke', async (_who, who) => {
    const request = await storedActive();

    expect((await service.revoke(request.id, who, { channel: 'api' })).status).toBe('REVOKING');
  });

  it('refuses a revoke by someone unrelated to the request, as if it did not exist', async () => {
    const request = await storedActive();

    await expect(service.revoke(request.id, stranger, { channel: 'api' })).rejects.toBeInstanceOf(NotFoundError);
    expect((await store.getRequest(request.id))?.status).toBe('ACTIVE');
    expect(executions.resumes).toEqual([]);
  });
});

describe('extend', () => {
  it('moves expiresAt by the minutes asked and resumes the expiry wait so the target follows', async () => {
    executions.live('active-token');
    const request = await storedActive({ flow: autoFlow, flowId: autoFlow.id });

    const extended = await service.extend(request.id, alice, { minutes: 15, channel: 'api' });

    expect(extended.expiresAt).toBe('2030-01-15T10:45:00.000Z');
    expect(extended.enforcedExpiresAt).toBe('2030-01-15T10:30:00.000Z');
    expect(extended.extensions).toHaveLength(1);
    expect(executions.resumes).toEqual([{ token: 'active-token', live: true }]);
  });

  it('refuses an extension past maxExtensions with PolicyError and leaves the expiry alone', async () => {
    const request = await storedActive({ flow: autoFlow, flowId: autoFlow.id });
    await service.extend(request.id, alice, { minutes: 15, channel: 'api' });

    const error = await service.extend(request.id, alice, { minutes: 15, channel: 'api' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PolicyError);
    expect(error).toMatchObject({ field: 'minutes' });
    expect((await store.getRequest(request.id))?.expiresAt).toBe('2030-01-15T10:45:00.000Z');
    expect(executions.resumes).toHaveLength(1);
  });

  it('refuses an extension by someone who neither holds nor asked for the grant', async () => {
    const request = await storedActive({ flow: autoFlow, flowId: autoFlow.id });

    await expect(service.extend(request.id, stranger, { minutes: 5, channel: 'api' })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(service.extend(request.id, auditor, { minutes: 5, channel: 'api' })).rejects.toBeInstanceOf(
      ForbiddenError,
    );
  });
});

describe('access', () => {
  it('gives the grantee the connection details and the password opened from the sealed secret', async () => {
    const request = await storedActive();

    const access = await service.access(request.id, alice);

    expect(access).toEqual({
      integrationId: 'pg',
      resource: 'app',
      permission: 'readonly',
      host: 'db.internal',
      port: 5432,
      database: 'app',
      username: 'stint_x',
      password: 'the-password',
      expiresAt: '2030-01-15T10:30:00.000Z',
    });
  });

  it('refuses anyone but the grantee: an admin is forbidden, a stranger does not see the request', async () => {
    const request = await storedActive();

    await expect(service.access(request.id, admin)).rejects.toBeInstanceOf(ForbiddenError);
    await expect(service.access(request.id, stranger)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses while the request is not ACTIVE', async () => {
    const request = await storedActive({ status: 'REVOKING', endReason: 'revoked' });

    await expect(service.access(request.id, alice)).rejects.toBeInstanceOf(InvalidTransitionError);
  });
});

describe('get and list', () => {
  it('hides a request from people unrelated to it', async () => {
    const request = await service.create(input(), alice, 'api');

    expect((await service.get(request.id, approver1)).id).toBe(request.id);
    expect((await service.get(request.id, auditor)).id).toBe(request.id);
    await expect(service.get(request.id, stranger)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lists my own requests only under scope=mine, filtered by status', async () => {
    const mine = await service.create(input(), alice, 'api');
    const auto = await service.create(input({ flowId: autoFlow.id }), alice, 'api');
    await service.create(input(), stranger, 'api');

    expect((await service.list(alice, { scope: 'mine' })).items.map((r) => r.id).sort()).toEqual(
      [mine.id, auto.id].sort(),
    );
    expect((await service.list(alice, { scope: 'mine', status: 'APPROVED' })).items.map((r) => r.id)).toEqual([
      auto.id,
    ]);
  });

  it('lists only pending requests under scope=approvals and refuses another status', async () => {
    const pending = await service.create(input(), alice, 'api');
    const decided = await service.create(input(), stranger, 'api');
    await service.decide(decided.id, approver1, { vote: 'approve', channel: 'api' });

    expect((await service.list(approver1, { scope: 'approvals' })).items.map((r) => r.id)).toEqual([pending.id]);
    await expect(service.list(approver1, { scope: 'approvals', status: 'APPROVED' })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('lists everyone’s requests under scope=all for admins and auditors only', async () => {
    const a = await service.create(input(), alice, 'api');
    const b = await service.create(input(), stranger, 'api');

    for (const who of [admin, auditor]) {
      expect((await service.list(who, { scope: 'all' })).items.map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
    }
    const error = await service.list(approver1, { scope: 'all' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error).toMatchObject({ field: 'query.scope' });
  });
});

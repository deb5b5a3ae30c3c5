import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AccessUnit } from '#lib/domain/bundle.ts';
import type { IntegrationType } from '#lib/domain/integration.ts';
import { requestRevoke } from '#lib/domain/lifecycle.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import {
  type DriverContext,
  type DriverState,
  type GrantOutcome,
  GrantPermanentError,
  type IntegrationDriver,
  type RevokeOutcome,
} from '#lib/integrations/types.ts';
import { Reconciler } from '#lib/services/reconciler.ts';
import { LEASE_BUSY_POLL_SECONDS, MAX_POLLS, WorkflowService } from '#lib/services/workflow.ts';
import { Store } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aFlow, anIdentity, anIntegration, aRequest } from '../../support/fixtures.ts';
import { RecordingExecutions } from '../../support/recording-executions.ts';
import { seedIntegration, TestClock } from '../../support/services.ts';

/**
 * The workflow against drivers that answer "pending", share target-side things through leases and ask for
 * cleanups: an in-memory target stands in for Identity Center-like behaviour, so each rule of the driver contract
 * (lib/integrations/types.ts) is visible.
 */

type Call = { op: 'grant' | 'revoke' | 'cleanup'; requestId: string; soleHolder?: boolean; owned?: boolean };

/** A target where grants and revokes take `polls` calls each, and one thing per key is shared by requests. */
class FakeTarget {
  readonly present = new Set<string>();
  /** Things that were there before any request (someone's standing access). */
  readonly standing = new Set<string>();
  readonly calls: Call[] = [];
  grantPolls = 0;
  revokePolls = 0;
  cleanupAfterSeconds: number | undefined;
  failGrant: string | undefined;

  driver(type: IntegrationType, shared: boolean): IntegrationDriver {
    const target = this;
    const thing = (ctx: Pick<DriverContext, 'unit' | 'grantee'>) =>
      `${ctx.grantee.sub}/${ctx.unit.resource}/${ctx.unit.permission}`;
    return {
      type,
      configSchema: { safeParse: () => ({ success: true }) } as never,
      needsSecret: false,
      capabilities: {
        endsLiveSessions: true,
        residualSessionSeconds: 0,
        targetEnforcesExpiry: false,
        issuesCredentials: false,
      },
      leaseKeys: (ctx) => (shared ? [`fake/${thing(ctx)}`] : []),
      async grant(ctx, progress): Promise<GrantOutcome> {
        target.calls.push({
          op: 'grant',
          requestId: ctx.requestId,
          ...(ctx.lease === undefined ? {} : { soleHolder: ctx.lease.soleHolder }),
          ...(ctx.lease?.owned === undefined ? {} : { owned: ctx.lease.owned }),
        });
        if (target.failGrant !== undefined) throw new GrantPermanentError(target.failGrant);
        const key = thing(ctx);
        const owned = ctx.lease?.owned ?? !target.standing.has(key);
        const polls = typeof progress?.polls === 'number' ? progress.polls : 0;
        if (polls < target.grantPolls) {
          return { status: 'pending', state: { polls: polls + 1 }, pollAfterSeconds: 2, reason: 'IN_PROGRESS', owned };
        }
        target.present.add(key);
        return {
          status: 'done',
          state: { thing: key },
          access: { kind: 'custom', fields: { thing: key } },
          secret: 'only-for-the-grantee',
          owned,
        };
      },
      async revoke(ctx, state: DriverState): Promise<RevokeOutcome> {
        target.calls.push({
          op: 'revoke',
          requestId: ctx.requestId,
          ...(ctx.lease === undefined ? {} : { soleHolder: ctx.lease.soleHolder }),
          ...(ctx.lease?.owned === undefined ? {} : { owned: ctx.lease.owned }),
        });
        if (ctx.lease?.owned === false) return { status: 'done' }; // not Stint's: leave it
        const polls = typeof state.revokePolls === 'number' ? state.revokePolls : 0;
        if (polls < target.revokePolls) {
          return {
            status: 'pending',
            state: { ...state, revokePolls: polls + 1 },
            pollAfterSeconds: 3,
            reason: 'DELETING',
          };
        }
        target.present.delete(thing(ctx));
        return target.cleanupAfterSeconds === undefined
          ? { status: 'done' }
          : { status: 'done', cleanup: { afterSeconds: target.cleanupAfterSeconds, state: { deny: thing(ctx) } } };
      },
      async extend() {},
      async cleanup(ctx) {
        target.calls.push({ op: 'cleanup', requestId: ctx.requestId });
      },
    };
  }
}

const alice = anIdentity({ sub: 'alice' });
const unitA: AccessUnit = { integrationId: 'idc', resource: '111122223333', permission: 'admin' };
const unitB: AccessUnit = { integrationId: 'kv', resource: 'cache', permission: 'read' };
const flow = aFlow({ id: 'aws', approval: { mode: 'auto' }, targets: [unitA, unitB] });

let table: LocalTable;
let store: Store;
let clock: TestClock;
let workflow: WorkflowService;
let target: FakeTarget;
let shared: IntegrationDriver;
let other: IntegrationDriver;
let sequence = 0;

beforeEach(async () => {
  table = await startDynalite();
  clock = new TestClock('2030-01-15T10:00:00.000Z');
  store = new Store(table.doc, table.tableName, { now: clock.now });
  workflow = new WorkflowService({
    store,
    executions: new RecordingExecutions(),
    resolveSecret: async () => 'unused',
    seal: async (plain) => `sealed:${plain}`,
    now: clock.now,
  });
  target = new FakeTarget();
  shared = target.driver('aws-identity-center', true);
  other = target.driver('lambda', false);
  for (const [id, type, unit] of [
    ['idc', 'aws-identity-center', unitA],
    ['kv', 'lambda', unitB],
  ] as const) {
    await seedIntegration(
      store,
      anIntegration({
        id,
        type,
        config: {},
        secretRef: undefined,
        resources: [{ id: unit.resource, owners: [], permissions: [{ id: unit.permission, grants: ['x'] }] }],
      }),
    );
  }
});
afterEach(async () => {
  await table.stop();
});

async function approved(units: AccessUnit[] = [unitA], types: IntegrationType[] = ['aws-identity-center']) {
  sequence += 1;
  const at = clock.now().toISOString();
  const request = aRequest({
    id: `01JWORKFLOWDRIVERS${String(sequence).padStart(8, '0')}`,
    requester: alice,
    grantee: alice,
    flow,
    units,
    unitTypes: types,
    status: 'APPROVED',
    createdAt: at,
    approvalDeadline: undefined,
    decision: { outcome: 'auto', by: 'stint:system', channel: 'api', at },
    durationMinutes: 30,
  });
  await store.createRequest(request);
  return request;
}

async function stored(id: string): Promise<AccessRequest> {
  const request = await store.getRequest(id);
  if (request === undefined) throw new Error(`request ${id} is gone`);
  return request;
}

/** Runs the execution as the state machine would until it waits for a person, the expiry, or ends. */
async function run(id: string, drivers: IntegrationDriver[] = [shared, other], maxSteps = 200): Promise<string[]> {
  const trace: string[] = [];
  for (let step = 0; step < maxSteps; step++) {
    const load = await workflow.load(id);
    trace.push(load.next === 'poll' ? `poll ${load.waitSeconds}s` : `${load.next}:${load.driver}`);
    const driver = drivers.find((d) => d.type === load.driver);
    switch (load.next) {
      case 'poll':
        clock.advanceMinutes(load.waitSeconds / 60);
        continue;
      case 'grant':
        if (driver === undefined) throw new Error(`no driver ${load.driver}`);
        await workflow.grant(id, driver).catch(async (error: unknown) => {
          if (!(error instanceof GrantPermanentError)) throw error;
          await workflow.grantFailed(id, { Error: error.name, Cause: error.message });
        });
        continue;
      case 'revoke':
        if (driver === undefined) throw new Error(`no driver ${load.driver}`);
        await workflow.revoke(id, driver);
        continue;
      case 'apply-extension':
        if (driver === undefined) throw new Error(`no driver ${load.driver}`);
        await workflow.applyExtension(id, driver);
        continue;
      case 'cleanup':
        if (driver === undefined) throw new Error(`no driver ${load.driver}`);
        await workflow.cleanup(id, driver);
        continue;
      default:
        return trace;
    }
  }
  throw new Error(`no wait or end after ${maxSteps} steps: ${trace.join(', ')}`);
}

describe('asynchronous grants and revokes', () => {
  it('stays GRANTING while the target answers pending, waiting in Poll, and activates once it is done', async () => {
    target.grantPolls = 2;
    const request = await approved();

    await workflow.grant(request.id, shared);
    const granting = await stored(request.id);
    expect(granting.status).toBe('GRANTING');
    expect(granting.grants[0]?.pending).toMatchObject({ action: 'grant', reason: 'IN_PROGRESS', polls: 1 });
    expect(await workflow.load(request.id)).toMatchObject({ next: 'poll', waitSeconds: 2 });

    const trace = await run(request.id);

    expect(trace).toEqual([
      'poll 2s',
      'grant:aws-identity-center',
      'poll 2s',
      'grant:aws-identity-center',
      'await-expiry:aws-identity-center',
    ]);
    const active = await stored(request.id);
    expect(active.status).toBe('ACTIVE');
    expect(active.grants[0]).toMatchObject({
      state: { thing: 'alice/111122223333/admin' },
      sealedSecret: 'sealed:only-for-the-grantee',
    });
    expect(active.grants[0]?.pending).toBeUndefined();
    expect(target.present.has('alice/111122223333/admin')).toBe(true);
  });

  it('gives up a grant still pending after MAX_POLLS checks, and the revoke path undoes it', async () => {
    target.grantPolls = MAX_POLLS + 5;
    const request = await approved();

    const trace = await run(request.id);

    const failed = await stored(request.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.failureReason).toMatch(new RegExp(`did not finish granting after ${MAX_POLLS} checks`));
    expect(trace.filter((t) => t.startsWith('grant')).length).toBe(MAX_POLLS + 1);
    expect(target.calls.at(-1)).toMatchObject({ op: 'revoke', requestId: request.id });
  });

  it('reports REVOKED only once the target confirms the revoke', async () => {
    target.revokePolls = 2;
    const request = await approved();
    await run(request.id);
    await store.updateRequest(request.id, (r) =>
      requestRevoke(r, { who: alice, channel: 'api', now: clock.now(), isAdmin: false }),
    );

    await workflow.revoke(request.id, shared);
    const revoking = await stored(request.id);
    expect(revoking.status).toBe('REVOKING');
    expect(revoking.grants[0]?.pending).toMatchObject({ action: 'revoke', reason: 'DELETING' });
    expect(target.present.size).toBe(1);

    const trace = await run(request.id);

    expect(trace).toEqual([
      'poll 3s',
      'revoke:aws-identity-center',
      'poll 3s',
      'revoke:aws-identity-center',
      'done:aws-identity-center',
    ]);
    const revoked = await stored(request.id);
    expect(revoked.status).toBe('REVOKED');
    expect(revoked.grants[0]).toMatchObject({ revoked: true });
    expect(revoked.grants[0]?.sealedSecret).toBeUndefined();
    expect(target.present.size).toBe(0);
  });

  it('undoes a failed grant through the revoke path, including a unit the driver never reported', async () => {
    target.failGrant = 'no such permission set';
    const request = await approved();

    await run(request.id);

    const failed = await stored(request.id);
    expect([failed.status, failed.failureReason]).toEqual(['FAILED', 'GrantPermanentError: no such permission set']);
    expect(target.calls.map((c) => c.op)).toEqual(['grant', 'revoke']);
  });
});

describe('shared target-side things (leases)', () => {
  it('takes the shared thing away only when the last overlapping request ends', async () => {
    const first = await approved();
    const second = await approved();
    await run(first.id);
    await run(second.id);
    expect(target.calls.filter((c) => c.op === 'grant').map((c) => c.soleHolder)).toEqual([true, false]);

    clock.advanceMinutes(31);
    await run(first.id);
    expect((await stored(first.id)).status).toBe('EXPIRED');
    expect(target.present.has('alice/111122223333/admin')).toBe(true);
    expect(target.calls.filter((c) => c.op === 'revoke')).toEqual([]);

    await run(second.id);
    expect((await stored(second.id)).status).toBe('EXPIRED');
    expect(target.present.has('alice/111122223333/admin')).toBe(false);
    expect(target.calls.filter((c) => c.op === 'revoke')).toEqual([
      { op: 'revoke', requestId: second.id, soleHolder: true, owned: true },
    ]);
  });

  it('never takes away a thing that was there before (owned: false), and forgets that once freed', async () => {
    target.standing.add('alice/111122223333/admin');
    const request = await approved();
    await run(request.id);
    clock.advanceMinutes(31);

    await run(request.id);

    expect((await stored(request.id)).status).toBe('EXPIRED');
    expect(target.calls.filter((c) => c.op === 'revoke')).toEqual([
      { op: 'revoke', requestId: request.id, soleHolder: true, owned: false },
    ]);
    expect(await store.getLease('fake/alice/111122223333/admin')).toMatchObject({ requestIds: [] });
    expect((await store.getLease('fake/alice/111122223333/admin'))?.owned).toBeUndefined();
  });

  it('holds a new grant back (pending, busy) while another request revokes the same thing, then grants it', async () => {
    target.revokePolls = 1;
    const first = await approved();
    await run(first.id);
    clock.advanceMinutes(31);
    await workflow.revoke(first.id, shared); // last holder: the lease is marked revoking, the delete is in flight
    expect(await store.getLease('fake/alice/111122223333/admin')).toMatchObject({ revoking: first.id });

    const second = await approved();
    await workflow.grant(second.id, shared);

    const waiting = await stored(second.id);
    expect(waiting.status).toBe('GRANTING');
    expect(waiting.grants[0]?.pending).toMatchObject({ reason: expect.stringMatching(/revoking the same access/) });
    expect(await workflow.load(second.id)).toMatchObject({ next: 'poll', waitSeconds: LEASE_BUSY_POLL_SECONDS });
    expect(target.calls.filter((c) => c.op === 'grant' && c.requestId === second.id)).toEqual([]);

    await run(first.id);
    expect(target.present.size).toBe(0);
    await run(second.id);

    expect((await stored(second.id)).status).toBe('ACTIVE');
    expect(target.present.has('alice/111122223333/admin')).toBe(true);
    expect(await store.getLease('fake/alice/111122223333/admin')).toMatchObject({
      requestIds: [second.id],
      owned: true,
    });
  });
});

describe('several integration types in one request', () => {
  it('grants each type through its own driver, ACTIVE only once all are granted; revokes both', async () => {
    target.grantPolls = 1;
    const request = await approved([unitA, unitB], ['aws-identity-center', 'lambda']);

    const trace = await run(request.id);

    expect(trace).toEqual([
      'grant:aws-identity-center',
      'grant:lambda',
      'poll 2s',
      'grant:aws-identity-center',
      'grant:lambda',
      'await-expiry:aws-identity-center',
    ]);
    expect((await stored(request.id)).status).toBe('ACTIVE');
    clock.advanceMinutes(31);

    expect(await run(request.id)).toEqual(['revoke:aws-identity-center', 'revoke:lambda', 'done:aws-identity-center']);
    expect((await stored(request.id)).status).toBe('EXPIRED');
    expect(target.present.size).toBe(0);
  });
});

describe('cleanup after revoke', () => {
  it('runs the cleanup a revoke asked for once it is due, after the request ended', async () => {
    target.cleanupAfterSeconds = 3600;
    const request = await approved();
    await run(request.id);
    clock.advanceMinutes(31);

    const trace = await run(request.id);

    expect(trace).toEqual([
      'revoke:aws-identity-center',
      'poll 3600s',
      'cleanup:aws-identity-center',
      'done:aws-identity-center',
    ]);
    const ended = await stored(request.id);
    expect(ended.status).toBe('EXPIRED');
    expect(ended.grants[0]?.cleanup).toBeUndefined();
    expect(target.calls.filter((c) => c.op === 'cleanup')).toEqual([{ op: 'cleanup', requestId: request.id }]);
  });

  it('has the reconciler start a new execution for a due cleanup whose execution is gone, and not before', async () => {
    target.cleanupAfterSeconds = 3600;
    const request = await approved();
    await run(request.id);
    clock.advanceMinutes(31);
    await workflow.revoke(request.id, shared); // EXPIRED, cleanup due in an hour; say the execution died here
    const executions = new RecordingExecutions();
    const reconciler = new Reconciler({ store, executions, now: clock.now });

    await reconciler.run();
    expect(executions.starts).toEqual([]);

    clock.advanceMinutes(61);
    await reconciler.run();
    expect(executions.starts).toEqual([{ requestId: request.id, attempt: 1 }]);
    await reconciler.run(); // running now: not started twice
    expect(executions.starts).toHaveLength(1);

    expect(await run(request.id)).toEqual(['cleanup:aws-identity-center', 'done:aws-identity-center']);
    expect(target.calls.filter((c) => c.op === 'cleanup')).toHaveLength(1);
    executions.stop(request.id, 1);
    await reconciler.run(); // the cleanup is done: the request left the index
    expect(executions.starts).toHaveLength(1);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { AccessRequest, RequestStatus } from '#lib/domain/request.ts';
import type { DriverContext, IntegrationDriver } from '#lib/integrations/types.ts';
import { MAX_RESTARTS, type ReconcileReport, Reconciler } from '#lib/services/reconciler.ts';
import { WorkflowService } from '#lib/services/workflow.ts';
import { Store } from '#lib/store/store.ts';
import type { StepFunction } from '#lib/workflow/contract.ts';

/** The generic steps, and the driver function's grant and revoke. */
type StepName = StepFunction | 'grant' | 'revoke';

import type { Executions } from '#lib/workflow/executions.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aFlow, anIntegration, aRequest } from '../../support/fixtures.ts';
import { seedIntegration, TestClock } from '../../support/services.ts';

/**
 * Requests whose executions keep failing (a driver that always throws, a step Lambda that fails every time) end
 * up somewhere final through the reconciler, with nothing left on the target. Executions run in process, routed
 * as the state machine routes them (infra/constructs/workflow.ts): Load → Grant (Catch → GrantFailed) | Revoke
 * (Catch → RevokeFailed) → Load …; a step that throws in its Catch handler fails the execution. Retries are left
 * out: a step that fails every time fails its retries too.
 */

const T0 = '2030-01-15T10:00:00.000Z';
const LEASE_OF = (grantee: string) => `stand-in/${grantee}/pg/app/readonly`;

/** A target that records the principals Stint created on it; each operation can be made to throw. */
class TargetStandIn {
  readonly principals = new Set<string>();
  grantThrows = false;
  revokeThrows = false;

  readonly driver: IntegrationDriver = {
    type: 'postgresql',
    configSchema: z.object({}),
    needsSecret: true,
    capabilities: {
      endsLiveSessions: true,
      residualSessionSeconds: 0,
      targetEnforcesExpiry: true,
      issuesCredentials: false,
    },
    // A lease per unit, so the tests also see that nothing is left holding it.
    leaseKeys: (ctx) => [LEASE_OF(ctx.grantee.sub)],
    grant: async (ctx: DriverContext) => {
      const principal = `stint_${ctx.requestId}`;
      this.principals.add(principal);
      // As a driver that created the role and then failed on the next statement.
      if (this.grantThrows) throw new Error('permission denied to grant role app_readonly');
      return { status: 'done', state: { principal } };
    },
    revoke: async (ctx: DriverContext) => {
      if (this.revokeThrows) throw new Error('connection refused');
      this.principals.delete(`stint_${ctx.requestId}`);
      return { status: 'done' };
    },
    extend: async () => {},
  };
}

/** Executions that run to their end inside `start`, so none is ever running when the reconciler looks. */
class InProcessExecutions implements Executions {
  readonly starts: { requestId: string; attempt: number }[] = [];
  readonly outcomes: ('succeeded' | 'failed' | 'waiting')[] = [];
  /** Step Lambdas that throw every time (a bug, a poisoned input). */
  readonly failingSteps = new Set<StepName>();
  workflow: WorkflowService | undefined;

  async start(requestId: string, attempt: number): Promise<void> {
    this.starts.push({ requestId, attempt });
    this.outcomes.push(await this.run(requestId));
  }

  async resume(): Promise<boolean> {
    return false;
  }

  async fail(): Promise<boolean> {
    return false;
  }

  async isRunning(): Promise<boolean> {
    return false;
  }

  private async step(name: StepName, call: () => Promise<unknown>): Promise<void> {
    if (this.failingSteps.has(name)) throw new Error(`the ${name} step Lambda fails every time`);
    await call();
  }

  private async run(requestId: string): Promise<'succeeded' | 'failed' | 'waiting'> {
    const workflow = this.workflow;
    if (workflow === undefined) throw new Error('no workflow wired');
    for (let transitions = 0; transitions < 20; transitions++) {
      let next: string | undefined;
      try {
        await this.step('load', async () => {
          next = (await workflow.load(requestId)).next;
        });
      } catch {
        return 'failed';
      }
      if (next === 'done') return 'succeeded';
      const [main, onError] =
        next === 'grant'
          ? (['grant', 'grant-failed'] as const)
          : next === 'revoke'
            ? (['revoke', 'revoke-failed'] as const)
            : [undefined, undefined];
      if (main === undefined || onError === undefined) return 'waiting'; // a wait on a token: not in these tests
      try {
        const driver = target.driver;
        await this.step(main, () =>
          main === 'grant' ? workflow.grant(requestId, driver) : workflow.revoke(requestId, driver),
        );
      } catch (error) {
        const caught = {
          Error: error instanceof Error ? error.name : 'Error',
          Cause: JSON.stringify({ errorMessage: String(error instanceof Error ? error.message : error) }),
        };
        try {
          await this.step(onError, () =>
            onError === 'grant-failed'
              ? workflow.grantFailed(requestId, caught)
              : workflow.revokeFailed(requestId, caught),
          );
        } catch {
          return 'failed';
        }
      }
    }
    throw new Error(`execution of ${requestId} did not end`);
  }
}

let table: LocalTable;
let store: Store;
let clock: TestClock;
let target: TargetStandIn;
let executions: InProcessExecutions;
let reconciler: Reconciler;

beforeEach(async () => {
  table = await startDynalite();
  clock = new TestClock(T0);
  store = new Store(table.doc, table.tableName, { now: clock.now });
  target = new TargetStandIn();
  executions = new InProcessExecutions();
  executions.workflow = new WorkflowService({
    store,
    executions,
    resolveSecret: async () => 'admin-secret',
    seal: async (plain) => `sealed:${plain.length}`,
    now: clock.now,
  });
  reconciler = new Reconciler({ store, executions, now: clock.now });
  await seedIntegration(store, anIntegration());
});
afterEach(async () => {
  await table.stop();
});

async function stored(id: string): Promise<AccessRequest> {
  const request = await store.getRequest(id);
  if (request === undefined) throw new Error(`request ${id} is gone`);
  return request;
}

async function leaseHolders(): Promise<string[]> {
  return (await store.getLease(LEASE_OF('alice')))?.requestIds ?? [];
}

/** An auto-approved request of alice, its first execution started as the API starts it. */
async function approvedRequest(): Promise<AccessRequest> {
  const alice = { sub: 'alice', email: 'alice@example.com', groups: [] };
  const request = aRequest({
    requester: alice,
    grantee: alice,
    flow: aFlow({ approval: { mode: 'auto' } }),
    status: 'APPROVED',
    lastChange: { by: 'alice', channel: 'api', action: 'request.create', at: T0 },
  });
  await store.createRequest(request);
  await executions.start(request.id, request.attempt);
  return request;
}

/** Runs the reconciler every 5 minutes (the default schedule) until the request is in `until` or `runs` ran out. */
async function reconcileEvery5Minutes(id: string, runs: number, until: RequestStatus[]): Promise<ReconcileReport[]> {
  const reports: ReconcileReport[] = [];
  for (let run = 0; run < runs && !until.includes((await stored(id)).status); run++) {
    clock.advanceMinutes(5);
    reports.push(await reconciler.run());
  }
  return reports;
}

const total = (reports: ReconcileReport[], key: keyof ReconcileReport) => reports.reduce((sum, r) => sum + r[key], 0);

describe('a grant whose executions keep failing', () => {
  it('ends FAILED with a reason after MAX_RESTARTS restarts, nothing left on the target', async () => {
    // The driver creates the role, then throws; GrantFailed fails every time, so every execution fails.
    target.grantThrows = true;
    executions.failingSteps.add('grant-failed');
    const request = await approvedRequest();
    expect((await stored(request.id)).status).toBe('GRANTING');
    expect(target.principals.size).toBe(1);

    const reports = await reconcileEvery5Minutes(request.id, 12, ['FAILED']);

    const failed = await stored(request.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.failureReason).toBe(
      `stuck in GRANTING: ${MAX_RESTARTS} restarted executions ended without moving the request`,
    );
    expect(failed.lastChange).toMatchObject({ by: 'stint:system', channel: 'workflow', action: 'fail' });
    expect(failed.restarts).toBeUndefined();
    expect(target.principals).toEqual(new Set());
    expect(await leaseHolders()).toEqual([]);
    // The first execution, MAX_RESTARTS restarts that failed, then the one that undid the grant.
    expect(executions.outcomes).toEqual([...Array(1 + MAX_RESTARTS).fill('failed'), 'succeeded']);
    expect(total(reports, 'restarted')).toBe(MAX_RESTARTS);
    expect(total(reports, 'gaveUp')).toBe(1);
  });

  it('goes through REVOKE_FAILED while the undo fails too, and ends FAILED once the target is clean', async () => {
    target.grantThrows = true;
    target.revokeThrows = true;
    const request = await approvedRequest();

    // GrantFailed could not undo: the revoke path took over, and its retries ended in REVOKE_FAILED (the alarm).
    const revokeFailed = await stored(request.id);
    expect(revokeFailed.status).toBe('REVOKE_FAILED');
    expect(revokeFailed.endReason).toBe('failed');
    expect(revokeFailed.failureReason).toBe('Error: permission denied to grant role app_readonly');
    expect(revokeFailed.lastChange.reason).toBe('Error: connection refused');
    expect(target.principals.size).toBe(1);

    // The reconciler keeps retrying for as long as the target refuses.
    const whileBroken = await reconcileEvery5Minutes(request.id, 3, []);
    expect(total(whileBroken, 'retriedRevokes')).toBe(3);
    expect((await stored(request.id)).status).toBe('REVOKE_FAILED');

    target.revokeThrows = false;
    await reconcileEvery5Minutes(request.id, 1, []);

    const failed = await stored(request.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.failureReason).toBe('Error: permission denied to grant role app_readonly');
    expect(target.principals).toEqual(new Set());
    expect(await leaseHolders()).toEqual([]);
  });
});

describe('a revoke whose executions keep failing', () => {
  it('moves to REVOKE_FAILED with a reason after MAX_RESTARTS restarts, then is retried until it succeeds', async () => {
    const request = await approvedRequest();
    expect((await stored(request.id)).status).toBe('ACTIVE');
    await store.updateRequest(request.id, (current) => ({
      ...current,
      status: 'REVOKING',
      endReason: 'revoked',
      lastChange: { by: 'alice', channel: 'api', action: 'revoke', at: clock.now().toISOString() },
    }));
    executions.failingSteps.add('load');

    const reports = await reconcileEvery5Minutes(request.id, 12, ['REVOKE_FAILED']);

    const revokeFailed = await stored(request.id);
    expect(revokeFailed.status).toBe('REVOKE_FAILED');
    expect(revokeFailed.failureReason).toBe(
      `stuck in REVOKING: ${MAX_RESTARTS} restarted executions ended without moving the request`,
    );
    expect(revokeFailed.lastChange).toMatchObject({
      by: 'stint:system',
      channel: 'reconciler',
      action: 'revoke-failed',
    });
    expect(total(reports, 'restarted')).toBe(MAX_RESTARTS);
    expect(reports.at(-1)).toMatchObject({ gaveUp: 1, failedRevokes: 1 });
    expect(target.principals.size).toBe(1);

    executions.failingSteps.delete('load');
    const retry = await reconcileEvery5Minutes(request.id, 1, []);

    expect(retry[0]).toMatchObject({ retriedRevokes: 1 });
    expect((await stored(request.id)).status).toBe('REVOKED');
    expect(target.principals).toEqual(new Set());
  });
});

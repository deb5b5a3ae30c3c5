import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AccessRequest } from '#lib/domain/request.ts';
import { MAX_RESTARTS, Reconciler } from '#lib/services/reconciler.ts';
import { Store } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aFlow, aRequest } from '../../support/fixtures.ts';
import { RecordingExecutions } from '../../support/recording-executions.ts';
import { TestClock } from '../../support/services.ts';

const T0 = '2030-01-15T10:00:00.000Z';
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();

let table: LocalTable;
let store: Store;
let executions: RecordingExecutions;
let clock: TestClock;
let reconciler: Reconciler;

beforeEach(async () => {
  table = await startDynalite();
  clock = new TestClock(T0);
  store = new Store(table.doc, table.tableName, { now: clock.now });
  executions = new RecordingExecutions();
  reconciler = new Reconciler({ store, executions, now: clock.now });
});
afterEach(async () => {
  await table.stop();
});

async function seed(overrides: Partial<AccessRequest>): Promise<AccessRequest> {
  const request = aRequest({ lastChange: { by: 'alice', channel: 'api', action: 'test', at: T0 }, ...overrides });
  await store.createRequest(request);
  return request;
}

/** ACTIVE, granted at T0 for 30 minutes. */
const activeFields = (overrides: Partial<AccessRequest> = {}): Partial<AccessRequest> => ({
  status: 'ACTIVE',
  grantedAt: T0,
  expiresAt: at(30),
  enforcedExpiresAt: at(30),
  ...overrides,
});

async function stored(id: string): Promise<AccessRequest> {
  const request = await store.getRequest(id);
  if (request === undefined) throw new Error(`request ${id} is gone`);
  return request;
}

describe('overdue ACTIVE grants', () => {
  it('starts a new attempt for a grant past expiresAt with no running execution', async () => {
    const request = await seed(activeFields());
    clock.advanceMinutes(31);

    const report = await reconciler.run();

    expect(executions.starts).toEqual([{ requestId: request.id, attempt: 1 }]);
    expect((await stored(request.id)).attempt).toBe(1);
    expect(report).toMatchObject({ restarted: 1, resumed: 0 });
  });

  it('resumes the expiry wait of a running execution instead of starting another', async () => {
    const request = await seed(activeFields({ activeToken: 'active-token' }));
    executions.markRunning(request.id, 0).live('active-token');
    clock.advanceMinutes(31);

    const report = await reconciler.run();

    expect(executions.resumes).toEqual([{ token: 'active-token', live: true }]);
    expect(executions.starts).toEqual([]);
    expect((await stored(request.id)).attempt).toBe(0);
    expect(report).toMatchObject({ resumed: 1, restarted: 0 });
  });

  it('leaves a grant alone until it is due', async () => {
    await seed(activeFields());
    clock.advanceMinutes(19);

    const report = await reconciler.run();

    expect(executions.starts).toEqual([]);
    expect(executions.isRunningCalls).toEqual([]);
    expect(report.checked).toBe(0);
  });

  it('only reminds a grant in its last 10 minutes, without touching its execution', async () => {
    const request = await seed(activeFields({ activeToken: 'active-token' }));
    clock.advanceMinutes(29);

    const report = await reconciler.run();

    expect(executions.starts).toEqual([]);
    expect(executions.resumes).toEqual([]);
    expect(executions.isRunningCalls).toEqual([]);
    expect(report).toMatchObject({ checked: 1, reminded: 1, restarted: 0, resumed: 0 });
    expect((await stored(request.id)).remindedAt).toBe(at(29));
  });
});

describe('REVOKE_FAILED', () => {
  it('moves it back to REVOKING under a new attempt and starts that attempt', async () => {
    const request = await seed({ status: 'REVOKE_FAILED', attempt: 2, failureReason: 'Error: connection refused' });
    clock.advanceMinutes(1);

    const report = await reconciler.run();

    const retried = await stored(request.id);
    expect(retried.status).toBe('REVOKING');
    expect(retried.attempt).toBe(3);
    expect(retried.lastChange).toMatchObject({ by: 'stint:system', channel: 'reconciler', action: 'retry-revoke' });
    expect(executions.starts).toEqual([{ requestId: request.id, attempt: 3 }]);
    expect(report.retriedRevokes).toBe(1);
  });
});

describe('stuck work states', () => {
  it('restarts an APPROVED request that has not moved for a while, not one that just moved', async () => {
    const stuck = await seed({ status: 'APPROVED' });
    clock.advanceMinutes(5);
    await seed({ status: 'APPROVED', lastChange: { by: 'alice', channel: 'api', action: 'test', at: at(5) } });
    clock.advanceMinutes(6);

    await reconciler.run();

    expect(executions.starts).toEqual([{ requestId: stuck.id, attempt: 1 }]);
  });

  it('resumes the approval wait of an APPROVED request whose decision could not resume it', async () => {
    // The decision was written, then SendTaskSuccess failed: the execution still waits on the approval token.
    const request = await seed({ status: 'APPROVED', approvalToken: 'approval-token' });
    executions.markRunning(request.id, 0).live('approval-token');
    clock.advanceMinutes(11);

    await reconciler.run();

    expect(executions.resumes).toEqual([{ token: 'approval-token', live: true }]);
    expect(executions.starts).toEqual([]);
  });
});

describe('requests stuck in one status', () => {
  const stuckFor = (minutes: number) => ({ by: 'alice', channel: 'api' as const, action: 'test', at: at(-minutes) });

  it('counts each restart in the status, however many attempts the request had before', async () => {
    // Nine earlier attempts (restarts in other statuses, outages): only restarts since the last change count.
    const request = await seed({ status: 'GRANTING', attempt: 9, lastChange: stuckFor(11) });

    const report = await reconciler.run();

    const restarted = await stored(request.id);
    expect(restarted).toMatchObject({ status: 'GRANTING', attempt: 10, restarts: 1 });
    expect(executions.starts).toEqual([{ requestId: request.id, attempt: 10 }]);
    expect(report).toMatchObject({ restarted: 1, gaveUp: 0 });
  });

  it('restarts a request one restart short of the bound', async () => {
    const request = await seed({ status: 'GRANTING', restarts: MAX_RESTARTS - 1, lastChange: stuckFor(30) });

    await reconciler.run();

    expect((await stored(request.id)).restarts).toBe(MAX_RESTARTS);
    expect(executions.starts).toEqual([{ requestId: request.id, attempt: 1 }]);
  });

  it.each(['APPROVED', 'GRANTING'] as const)(
    'gives up a grant stuck in %s: REVOKING to undo it, with the reason, in a new execution',
    async (status) => {
      const request = await seed({ status, restarts: MAX_RESTARTS, lastChange: stuckFor(30) });

      const report = await reconciler.run();

      const given = await stored(request.id);
      const reason = `stuck in ${status}: ${MAX_RESTARTS} restarted executions ended without moving the request`;
      expect(given).toMatchObject({ status: 'REVOKING', endReason: 'failed', failureReason: reason, attempt: 1 });
      expect(given.restarts).toBeUndefined();
      expect(given.lastChange).toEqual({
        by: 'stint:system',
        channel: 'reconciler',
        action: 'abandon-grant',
        reason,
        at: T0,
      });
      expect(executions.starts).toEqual([{ requestId: request.id, attempt: 1 }]);
      expect(report).toMatchObject({ gaveUp: 1, failedRevokes: 0, restarted: 0 });
    },
  );

  it('gives up a stuck revoke: REVOKE_FAILED with the reason, retried by the next run', async () => {
    const request = await seed(
      activeFields({ status: 'REVOKING', endReason: 'revoked', restarts: MAX_RESTARTS, lastChange: stuckFor(30) }),
    );

    const report = await reconciler.run();

    const given = await stored(request.id);
    expect(given).toMatchObject({
      status: 'REVOKE_FAILED',
      endReason: 'revoked',
      failureReason: `stuck in REVOKING: ${MAX_RESTARTS} restarted executions ended without moving the request`,
    });
    expect(executions.starts).toEqual([]);
    expect(report).toMatchObject({ gaveUp: 1, failedRevokes: 1 });

    clock.advanceMinutes(5);
    expect(await reconciler.run()).toMatchObject({ retriedRevokes: 1, gaveUp: 0 });
    expect((await stored(request.id)).status).toBe('REVOKING');
  });

  it('keeps the reason of the grant while undoing it fails', async () => {
    const request = await seed({
      status: 'REVOKING',
      endReason: 'failed',
      failureReason: 'Error: permission denied',
      restarts: MAX_RESTARTS,
      lastChange: stuckFor(30),
    });

    await reconciler.run();

    const given = await stored(request.id);
    expect(given).toMatchObject({ status: 'REVOKE_FAILED', failureReason: 'Error: permission denied' });
    expect(given.lastChange.reason).toBe(
      `stuck in REVOKING: ${MAX_RESTARTS} restarted executions ended without moving the request`,
    );
  });

  it('gives up an overdue grant whose executions never revoke it: REVOKING, in a new execution', async () => {
    const request = await seed(activeFields({ restarts: MAX_RESTARTS }));
    clock.advanceMinutes(31);

    const report = await reconciler.run();

    expect(await stored(request.id)).toMatchObject({ status: 'REVOKING', endReason: 'expired', attempt: 1 });
    expect(executions.starts).toEqual([{ requestId: request.id, attempt: 1 }]);
    expect(report).toMatchObject({ gaveUp: 1, restarted: 0 });
  });

  it('gives up an overdue approval whose executions never time it out: TIMED_OUT, no new execution', async () => {
    const request = await seed({ status: 'PENDING', restarts: MAX_RESTARTS });
    clock.advanceMinutes(61);

    const report = await reconciler.run();

    expect((await stored(request.id)).status).toBe('TIMED_OUT');
    expect(executions.starts).toEqual([]);
    expect(report).toMatchObject({ gaveUp: 1, restarted: 0 });
  });

  it('gives up a request once when two reconcilers race', async () => {
    const requests = await Promise.all(
      Array.from({ length: 4 }, () => seed({ status: 'GRANTING', restarts: MAX_RESTARTS, lastChange: stuckFor(30) })),
    );
    const other = new Reconciler({ store, executions, now: clock.now });

    const reports = await Promise.all([reconciler.run(), other.run()]);

    expect(reports.reduce((sum, r) => sum + r.gaveUp, 0)).toBe(4);
    const started = executions.starts.map((s) => `${s.requestId}/${s.attempt}`).sort();
    expect(started).toEqual(requests.map((r) => `${r.id}/1`).sort());
  });

  it('neither counts nor gives up on a resume after a local runtime restart', async () => {
    const request = await seed({ status: 'GRANTING', restarts: MAX_RESTARTS, lastChange: stuckFor(30) });

    const report = await reconciler.run({ resumeAll: true });

    expect(await stored(request.id)).toMatchObject({ status: 'GRANTING', restarts: MAX_RESTARTS, attempt: 1 });
    expect(report).toMatchObject({ restarted: 1, gaveUp: 0 });
  });
});

describe('resumeAll', () => {
  it('starts an execution for every non-terminal request without a running one, whatever its due time', async () => {
    const pending = await seed({ status: 'PENDING' });
    const approved = await seed({ status: 'APPROVED' });
    const granting = await seed({ status: 'GRANTING' });
    const active = await seed(activeFields({ expiresAt: at(600), enforcedExpiresAt: at(600) }));
    const revoking = await seed(activeFields({ status: 'REVOKING', endReason: 'revoked' }));
    const revokeFailed = await seed({ status: 'REVOKE_FAILED' });
    const running = await seed(activeFields({ activeToken: 'live-token' }));
    executions.markRunning(running.id, 0).live('live-token');
    await seed({ status: 'EXPIRED' });
    await seed({ status: 'REJECTED' });

    await reconciler.run({ resumeAll: true });

    const started = executions.starts.map((s) => `${s.requestId}/${s.attempt}`).sort();
    expect(started).toEqual(
      [pending, approved, granting, active, revoking, revokeFailed].map((r) => `${r.id}/1`).sort(),
    );
    expect((await stored(revokeFailed.id)).status).toBe('REVOKING');
    expect((await stored(running.id)).attempt).toBe(0);
  });
});

describe('two reconcilers at once', () => {
  it('start one execution per request between them', async () => {
    const overdue = await Promise.all(Array.from({ length: 6 }, () => seed(activeFields())));
    const failed = await seed({ status: 'REVOKE_FAILED' });
    clock.advanceMinutes(31);
    const other = new Reconciler({ store, executions, now: clock.now });

    await Promise.all([reconciler.run(), other.run()]);

    const started = executions.starts.map((s) => `${s.requestId}/${s.attempt}`).sort();
    expect(started).toEqual([...overdue, failed].map((r) => `${r.id}/1`).sort());
    for (const request of overdue) expect((await stored(request.id)).attempt).toBe(1);
  });
});

describe('escalation and expiry reminders', () => {
  /** Tier 1 (user tier-1) after 10 minutes, tier 2 (group leads) after 20; deadline at 60. */
  const escalating = () =>
    aRequest({
      lastChange: { by: 'alice', channel: 'api', action: 'test', at: T0 },
      flow: aFlow({
        approval: {
          mode: 'manual',
          sets: [{ users: ['approver-1'], groups: [] }],
          rule: { type: 'anyOf' },
          timeoutMinutes: 60,
          reasonRequired: false,
          escalation: {
            everyMinutes: 10,
            tiers: [
              { users: ['tier-1'], groups: [] },
              { users: [], groups: ['leads'] },
            ],
          },
        },
      }),
    });

  it('records the next tier when it is due, and not before', async () => {
    const request = escalating();
    await store.createRequest(request);
    clock.advanceMinutes(9);
    expect((await reconciler.run()).checked).toBe(0);

    clock.advanceMinutes(2);
    const report = await reconciler.run();

    const after = await stored(request.id);
    expect(after.escalation).toEqual({ tier: 1, notifiedAt: at(11) });
    expect(after.lastChange).toMatchObject({ by: 'stint:system', channel: 'reconciler', action: 'escalate' });
    expect(report).toMatchObject({ checked: 1, escalated: 1, restarted: 0, resumed: 0 });
    expect(executions.starts).toEqual([]);
    expect(executions.isRunningCalls).toEqual([]);

    clock.advanceMinutes(5);
    expect((await reconciler.run()).checked).toBe(0);
    clock.advanceMinutes(5);
    await reconciler.run();
    expect((await stored(request.id)).escalation).toEqual({ tier: 2, notifiedAt: at(21) });
  });

  it('advances a tier exactly once when two reconcilers race', async () => {
    const requests = Array.from({ length: 4 }, escalating);
    for (const request of requests) await store.createRequest(request);
    clock.advanceMinutes(11);
    const other = new Reconciler({ store, executions, now: clock.now });

    const reports = await Promise.all([reconciler.run(), other.run()]);

    expect(reports.reduce((sum, r) => sum + r.escalated, 0)).toBe(4);
    for (const request of requests) {
      const after = await stored(request.id);
      expect(after.escalation?.tier).toBe(1);
      expect(after.version).toBe(request.version + 1);
    }
  });

  it('reminds a grant once when two reconcilers race, and again after an extension', async () => {
    const request = await seed(activeFields());
    clock.advanceMinutes(21);
    const other = new Reconciler({ store, executions, now: clock.now });

    const reports = await Promise.all([reconciler.run(), other.run()]);
    await reconciler.run();

    expect(reports.reduce((sum, r) => sum + r.reminded, 0)).toBe(1);
    const reminded = await stored(request.id);
    expect(reminded.remindedAt).toBe(at(21));
    expect(reminded.version).toBe(request.version + 1);

    await store.updateRequest(request.id, (current) => ({ ...current, expiresAt: at(60) }));
    clock.advanceMinutes(29);
    expect((await reconciler.run()).reminded).toBe(0);
    clock.advanceMinutes(1);
    expect((await reconciler.run()).reminded).toBe(1);
    expect((await stored(request.id)).remindedAt).toBe(at(51));
  });

  it('still times out an escalating request past its deadline (restart, no escalation)', async () => {
    const request = escalating();
    await store.createRequest(request);
    clock.advanceMinutes(61);

    const report = await reconciler.run();

    expect(report).toMatchObject({ escalated: 0, restarted: 1 });
    expect(executions.starts).toEqual([{ requestId: request.id, attempt: 1 }]);
    expect((await stored(request.id)).escalation).toBeUndefined();
  });
});

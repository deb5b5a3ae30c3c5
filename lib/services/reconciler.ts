import { onCallChange, onCallSets } from '#lib/domain/approvals.ts';
import { dueEscalationTier, escalate, REMINDER_LEAD_MINUTES, remind, reminderDue } from '#lib/domain/escalation.ts';
import { SYSTEM_SUBJECT } from '#lib/domain/identity.ts';
import { abandonGrant, changeStatus, failRevoke } from '#lib/domain/lifecycle.ts';
import type { AccessRequest, RequestStatus } from '#lib/domain/request.ts';
import { isTerminal } from '#lib/domain/transitions.ts';
import { logger } from '#lib/observability/logger.ts';
import { CLEANUP_STATUS } from '#lib/store/keys.ts';
import type { Store } from '#lib/store/store.ts';
import type { Executions } from '#lib/workflow/executions.ts';
import { type OnCallProviders, onCallAnswersFor } from './oncall.ts';

export type ReconcilerDeps = {
  store: Store;
  executions: Executions;
  now?: () => Date;
  /** The configured on-call providers: pending requests of on-call approver sets are checked for a shift change. */
  oncall?: OnCallProviders;
};

export type ReconcileReport = {
  checked: number;
  resumed: number;
  restarted: number;
  retriedRevokes: number;
  escalated: number;
  reminded: number;
  /** Pending requests whose on-call approvers changed (someone new is on call and is to be asked). */
  onCallChanged: number;
  /** Requests given up after MAX_RESTARTS restarts in one status (the StuckRequests metric). */
  gaveUp: number;
  /** Of those, REVOKING requests moved to REVOKE_FAILED (the RevokeFailed metric, as the revoke-failed step). */
  failedRevokes: number;
};

const NON_TERMINAL: readonly RequestStatus[] = [
  'PENDING',
  'APPROVED',
  'GRANTING',
  'ACTIVE',
  'REVOKING',
  'REVOKE_FAILED',
];
/** Work states (APPROVED, GRANTING, REVOKING) older than this are considered stuck. */
const STUCK_AFTER_MS = 10 * 60_000;
/**
 * How many times the reconciler restarts a request's execution in one status (each restart counted in `restarts`,
 * cleared by every status change) before it gives up on that status: the restarted executions all ended without
 * moving the request, so a new one would too (a poisoned input, a bug, a step that always fails). Three covers a
 * transient outage of Lambda or Step Functions without keeping a broken request in a work state for long: with
 * the default 5-minute schedule, restarts come about 10, 15 and 20 minutes after the last change and the request is
 * given up at about 25 minutes (later when a restarted execution runs for longer: a running one is never counted).
 * A restart whose StartExecution failed counts too (an outage that long gives up the grant, cleanly).
 */
export const MAX_RESTARTS = 3;

/**
 * The safety net (scheduled every few minutes in AWS, every few seconds locally):
 * - ACTIVE grants past expiresAt and PENDING requests past their deadline: nudge the execution, or start a
 *   new one when none is running (the new execution revokes / times out as the data says);
 * - APPROVED / GRANTING / REVOKING requests that have not moved for a while: restart when not running;
 * - REVOKE_FAILED: back to REVOKING and a new execution, for as long as it takes;
 * - a request whose execution was restarted MAX_RESTARTS times in its status (each ended without moving it) is
 *   given up rather than restarted again (see giveUp): a grant is undone on the revoke path and ends FAILED, a
 *   revoke goes to REVOKE_FAILED (the alarm; retried as above), an overdue grant to REVOKING, an overdue
 *   approval to TIMED_OUT. Each counts in `gaveUp` (the StuckRequests metric and its alarm);
 * - PENDING requests whose next escalation tier is due (gsi2 orders them by it, see dueAt): record the reached tier
 *   (lib/domain/escalation.ts) with one conditional write; the stream yields `request.escalated` and Slack notify
 *   DMs the new tier (no direct notification from here: the item change is the event);
 * - ACTIVE grants ending within REMINDER_LEAD_MINUTES: record `remindedAt` once (one conditional write); the stream
 *   yields `grant.expiring` and Slack notify DMs the requester.
 * A request listed only for an escalation or a reminder (its deadline or expiry not reached) is not nudged.
 * With `resumeAll` (the local runtime after a restart, where executions lived in memory) every non-terminal
 * request without a running execution gets one.
 */
export class Reconciler {
  private readonly now: () => Date;

  constructor(private readonly deps: ReconcilerDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async run(options: { resumeAll?: boolean } = {}): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      checked: 0,
      resumed: 0,
      restarted: 0,
      retriedRevokes: 0,
      escalated: 0,
      reminded: 0,
      onCallChanged: 0,
      gaveUp: 0,
      failedRevokes: 0,
    };
    const now = this.now();
    for (const status of NON_TERMINAL) {
      const dueBefore = options.resumeAll ? undefined : this.dueBefore(status, now);
      let cursor: string | undefined;
      do {
        const page = await this.deps.store.listRequestsByStatus(status, {
          limit: 100,
          ...(dueBefore === undefined ? {} : { dueBefore }),
          ...(cursor === undefined ? {} : { cursor }),
        });
        for (const request of page.items) {
          report.checked++;
          try {
            await this.reconcile(request, report, now, options.resumeAll === true);
          } catch (error) {
            logger.error('reconcile failed for a request', {
              requestId: request.id,
              error: error instanceof Error ? error.name : 'unknown',
            });
          }
        }
        cursor = page.cursor;
      } while (cursor !== undefined);
    }
    await this.runCleanups(report, now);
    await this.checkOnCall(report, now);
    const acted =
      report.resumed +
      report.restarted +
      report.retriedRevokes +
      report.escalated +
      report.reminded +
      report.onCallChanged +
      report.gaveUp;
    if (acted > 0) logger.info('reconciled', report);
    return report;
  }

  /**
   * A shift change before a decision: every PENDING request whose pinned flow has on-call approver sets is checked
   * against who is on call now (the providers are asked once per distinct query per run: their cache holds the
   * answer), and whoever has come on call since is recorded in `onCallNotified` with one conditional write
   * (lib/domain/approvals.ts onCallChange). The stream yields `request.oncall_changed` and Slack/Teams notify DM the
   * new person; nobody recorded is added again, so nobody is asked twice. A provider that cannot answer changes
   * nothing. Lists every PENDING request (no due time: a shift can change at any moment), only when a provider is
   * configured.
   */
  private async checkOnCall(report: ReconcileReport, now: Date): Promise<void> {
    const providers = this.deps.oncall;
    if (providers === undefined || providers.size === 0) return;
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.listRequestsByStatus('PENDING', {
        limit: 100,
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const request of page.items) {
        if (onCallSets(request).length === 0) continue;
        try {
          const answers = await onCallAnswersFor(providers, request, now);
          if (onCallChange(request, answers, now) === null) continue;
          const result = await this.deps.store.updateRequest(request.id, (current) =>
            onCallChange(current, answers, now),
          );
          if (result.changed) report.onCallChanged++;
        } catch (error) {
          logger.error('on-call check failed for a request', {
            requestId: request.id,
            error: error instanceof Error ? error.name : 'unknown',
          });
        }
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  private dueBefore(status: RequestStatus, now: Date): string {
    // ACTIVE grants are listed REMINDER_LEAD_MINUTES ahead of their expiry, for the reminder.
    if (status === 'ACTIVE') return new Date(now.getTime() + REMINDER_LEAD_MINUTES * 60_000).toISOString();
    if (status === 'PENDING' || status === 'REVOKE_FAILED') return now.toISOString();
    return new Date(now.getTime() - STUCK_AFTER_MS).toISOString();
  }

  private async reconcile(
    request: AccessRequest,
    report: ReconcileReport,
    now: Date,
    resumeAll: boolean,
  ): Promise<void> {
    const { executions, store } = this.deps;
    // `seen` is the item as this pass last wrote or read it: the restart claim below compares versions against it.
    let seen = request;
    if (dueEscalationTier(request, now) !== undefined) {
      // Re-judged on the fresh item inside the conditional write: of two racing reconcilers, one records the tier.
      const result = await store.updateRequest(request.id, (current) => {
        const tier = dueEscalationTier(current, now);
        return tier === undefined ? null : escalate(current, tier, now);
      });
      if (result.changed) {
        report.escalated++;
        seen = result.request;
      }
    }
    if (reminderDue(request, now)) {
      const result = await store.updateRequest(request.id, (current) => remind(current, now));
      if (result.changed) {
        report.reminded++;
        seen = result.request;
      }
    }
    if (!resumeAll && !pastDue(request, now)) return;
    if (request.status === 'REVOKE_FAILED') {
      const { request: retried, changed } = await store.updateRequest(request.id, (current) =>
        current.status === 'REVOKE_FAILED'
          ? changeStatus(
              current,
              'REVOKING',
              { by: SYSTEM_SUBJECT, channel: 'reconciler', action: 'retry-revoke', at: this.now() },
              { attempt: current.attempt + 1 },
            )
          : null,
      );
      if (changed) {
        await executions.start(retried.id, retried.attempt);
        report.retriedRevokes++;
      }
      return;
    }
    if (await executions.isRunning(request.id, request.attempt)) {
      // Running but past due: it is waiting on a token; resume it so it re-loads and acts. An APPROVED request
      // still running may wait on its approval token when the decision's resume failed (else it waits until the
      // approval deadline); resuming a token that is no longer live is a no-op.
      const token =
        request.status === 'PENDING' || request.status === 'APPROVED'
          ? request.approvalToken
          : request.status === 'ACTIVE'
            ? request.activeToken
            : undefined;
      if (token !== undefined && (await executions.resume(token))) report.resumed++;
      return;
    }
    // No execution: claim the next attempt with a conditional write so two reconcilers never both start one. A
    // restart after a local runtime restart (resumeAll: executions were lost, not failed) is not counted.
    const stuck = !resumeAll && (seen.restarts ?? 0) >= MAX_RESTARTS;
    const { request: claimed, changed } = await store.updateRequest(request.id, (current) => {
      if (current.version !== seen.version) return null;
      const next = { ...current, attempt: current.attempt + 1 };
      if (stuck) return this.giveUp(next);
      return resumeAll ? next : { ...next, restarts: (current.restarts ?? 0) + 1 };
    });
    if (!changed) return;
    if (stuck) {
      report.gaveUp++;
      logger.warn('request stuck: gave up after restarts', {
        requestId: claimed.id,
        from: request.status,
        to: claimed.status,
        restarts: MAX_RESTARTS,
      });
      if (claimed.status === 'REVOKE_FAILED') {
        report.failedRevokes++;
        return; // retried by the next run, like every REVOKE_FAILED request
      }
      if (isTerminal(claimed.status)) return;
      await executions.start(claimed.id, claimed.attempt);
      return;
    }
    await executions.start(claimed.id, claimed.attempt);
    report.restarted++;
  }

  /**
   * Ended requests whose cleanup is due (e.g. an IAM role's deny, once no session it denies can still be valid)
   * and whose execution is gone (it ended at a failed cleanup, or the local runtime restarted): a new execution
   * runs the cleanup. A cleanup that keeps failing gives itself up (lib/services/workflow.ts MAX_CLEANUP_ATTEMPTS).
   */
  private async runCleanups(report: ReconcileReport, now: Date): Promise<void> {
    const { executions, store } = this.deps;
    let cursor: string | undefined;
    do {
      const page = await store.listRequestsByStatus(CLEANUP_STATUS, {
        limit: 100,
        dueBefore: now.toISOString(),
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const request of page.items) {
        report.checked++;
        try {
          if (await executions.isRunning(request.id, request.attempt)) continue;
          const { request: claimed, changed } = await store.updateRequest(request.id, (current) =>
            current.version === request.version ? { ...current, attempt: current.attempt + 1 } : null,
          );
          if (!changed) continue;
          await executions.start(claimed.id, claimed.attempt);
          report.restarted++;
        } catch (error) {
          logger.error('starting a cleanup failed for a request', {
            requestId: request.id,
            error: error instanceof Error ? error.name : 'unknown',
          });
        }
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  /** The status change that ends a stuck status (the reason names it); see MAX_RESTARTS. */
  private giveUp(current: AccessRequest): AccessRequest {
    const reason = `stuck in ${current.status}: ${MAX_RESTARTS} restarted executions ended without moving the request`;
    const actor = { by: SYSTEM_SUBJECT, channel: 'reconciler' as const, at: this.now(), reason };
    switch (current.status) {
      case 'APPROVED':
      case 'GRANTING':
        return abandonGrant(current, { ...actor, action: 'abandon-grant' });
      case 'REVOKING':
        return failRevoke(current, { ...actor, action: 'revoke-failed' });
      case 'ACTIVE':
        return changeStatus(current, 'REVOKING', { ...actor, action: 'revoke' }, { endReason: 'expired' });
      case 'PENDING':
        return changeStatus(current, 'TIMED_OUT', { ...actor, action: 'time-out' });
      default:
        // Terminal statuses are never listed; REVOKE_FAILED is retried before any restart.
        throw new Error(`no stuck handling for status ${current.status}`);
    }
  }
}

/** Whether a PENDING request is past its approval deadline or an ACTIVE grant past its expiry (the nudge is due). */
function pastDue(request: AccessRequest, now: Date): boolean {
  const due =
    request.status === 'PENDING'
      ? request.approvalDeadline
      : request.status === 'ACTIVE'
        ? request.expiresAt
        : undefined;
  return due === undefined || Date.parse(due) <= now.getTime();
}

import { dueEscalationTier, escalate, REMINDER_LEAD_MINUTES, remind, reminderDue } from '#lib/domain/escalation.ts';
import { SYSTEM_SUBJECT } from '#lib/domain/identity.ts';
import { changeStatus } from '#lib/domain/lifecycle.ts';
import type { AccessRequest, RequestStatus } from '#lib/domain/request.ts';
import { logger } from '#lib/observability/logger.ts';
import type { Store } from '#lib/store/store.ts';
import type { Executions } from '#lib/workflow/executions.ts';

export type ReconcilerDeps = { store: Store; executions: Executions; now?: () => Date };

export type ReconcileReport = {
  checked: number;
  resumed: number;
  restarted: number;
  retriedRevokes: number;
  escalated: number;
  reminded: number;
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
 * The safety net (scheduled every few minutes in AWS, every few seconds locally):
 * - ACTIVE grants past expiresAt and PENDING requests past their deadline: nudge the execution, or start a
 *   new one when none is running (the new execution revokes / times out as the data says);
 * - APPROVED / GRANTING / REVOKING requests that have not moved for a while: restart when not running;
 * - REVOKE_FAILED: back to REVOKING and a new execution, for as long as it takes;
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
    const acted = report.resumed + report.restarted + report.retriedRevokes + report.escalated + report.reminded;
    if (acted > 0) logger.info('reconciled', report);
    return report;
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
    // No execution: claim the next attempt with a conditional write so two reconcilers never both start one.
    const { request: claimed, changed } = await store.updateRequest(request.id, (current) =>
      current.version === seen.version ? { ...current, attempt: current.attempt + 1 } : null,
    );
    if (!changed) return;
    await executions.start(claimed.id, claimed.attempt);
    report.restarted++;
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

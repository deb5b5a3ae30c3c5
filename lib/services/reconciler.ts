import { SYSTEM_SUBJECT } from '#lib/domain/identity.ts';
import { changeStatus } from '#lib/domain/lifecycle.ts';
import type { AccessRequest, RequestStatus } from '#lib/domain/request.ts';
import { logger } from '#lib/observability/logger.ts';
import type { Store } from '#lib/store/store.ts';
import type { Executions } from '#lib/workflow/executions.ts';

export type ReconcilerDeps = { store: Store; executions: Executions; now?: () => Date };

export type ReconcileReport = { checked: number; resumed: number; restarted: number; retriedRevokes: number };

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
 * - REVOKE_FAILED: back to REVOKING and a new execution, for as long as it takes.
 * With `resumeAll` (the local runtime after a restart, where executions lived in memory) every non-terminal
 * request without a running execution gets one.
 */
export class Reconciler {
  private readonly now: () => Date;

  constructor(private readonly deps: ReconcilerDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async run(options: { resumeAll?: boolean } = {}): Promise<ReconcileReport> {
    const report: ReconcileReport = { checked: 0, resumed: 0, restarted: 0, retriedRevokes: 0 };
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
            await this.reconcile(request, report);
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
    if (report.resumed + report.restarted + report.retriedRevokes > 0) logger.info('reconciled', report);
    return report;
  }

  private dueBefore(status: RequestStatus, now: Date): string {
    if (status === 'ACTIVE' || status === 'PENDING' || status === 'REVOKE_FAILED') return now.toISOString();
    return new Date(now.getTime() - STUCK_AFTER_MS).toISOString();
  }

  private async reconcile(request: AccessRequest, report: ReconcileReport): Promise<void> {
    const { executions, store } = this.deps;
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
      current.version === request.version ? { ...current, attempt: current.attempt + 1 } : null,
    );
    if (!changed) return;
    await executions.start(claimed.id, claimed.attempt);
    report.restarted++;
  }
}

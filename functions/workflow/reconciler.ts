import { logger } from '#lib/observability/logger.ts';
import { addReconcileMetrics, stintMetrics } from '#lib/observability/metrics.ts';
import type { ReconcileReport } from '#lib/services/reconciler.ts';
import { reconciler } from '#lib/services/wiring.ts';

/** `Stint/StuckRequests` (and `Stint/RevokeFailed`) drive the alarms (infra/stint-stack.ts, infra/constructs/workflow.ts). */
const metrics = stintMetrics();

/** Scheduled (every few minutes in AWS). `{ "resumeAll": true }` resumes every non-terminal request. */
export const handler = async (event: unknown): Promise<ReconcileReport> => {
  const resumeAll = typeof event === 'object' && event !== null && 'resumeAll' in event && event.resumeAll === true;
  const report = await reconciler().run({ resumeAll });
  logger.debug('reconciler run', report);
  if (addReconcileMetrics(metrics, report)) metrics.publishStoredMetrics();
  return report;
};

import * as z from 'zod';
import { logger } from '#lib/observability/logger.ts';
import { addReconcileMetrics, addSweepMetrics, stintMetrics } from '#lib/observability/metrics.ts';
import type { ReconcileReport } from '#lib/services/reconciler.ts';
import type { SweepReport } from '#lib/services/sweep.ts';
import { reconciler, sweep } from '#lib/services/wiring/reconciler.ts';

/**
 * `Stint/StuckRequests` (and `Stint/RevokeFailed`, `Stint/SweepFailures`) drive the alarms (infra/stint-stack.ts,
 * infra/constructs/workflow.ts).
 */
const metrics = stintMetrics();

const Flags = z.object({ resumeAll: z.boolean().optional(), sweep: z.boolean().optional() });
const flag = (event: unknown, name: 'resumeAll' | 'sweep'): boolean => Flags.safeParse(event).data?.[name] === true;

/**
 * Scheduled (every few minutes in AWS). `{ "resumeAll": true }` resumes every non-terminal request; `{ "sweep": true }`
 * (its own, slower schedule: infra/constructs/reconciler.ts) runs the orphan sweep and drift check instead.
 */
export const handler = async (event: unknown): Promise<ReconcileReport | SweepReport> => {
  if (flag(event, 'sweep')) {
    const report = await sweep().run();
    logger.debug('orphan sweep run', report);
    if (addSweepMetrics(metrics, report)) metrics.publishStoredMetrics();
    return report;
  }
  const report = await reconciler().run({ resumeAll: flag(event, 'resumeAll') });
  logger.debug('reconciler run', report);
  if (addReconcileMetrics(metrics, report)) metrics.publishStoredMetrics();
  return report;
};

import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * The metrics Stint functions emit (Powertools Metrics, CloudWatch embedded metric format) and the stack alarms on
 * (infra/constructs/): namespace `Stint`, dimension `service` = `stint`, as every function's POWERTOOLS_* settings.
 */
export const METRIC = {
  /** A revoke kept failing: the request is REVOKE_FAILED and access may still be live on the target. */
  revokeFailed: 'RevokeFailed',
  /** The reconciler gave up on a request stuck in one status (lib/services/reconciler.ts, MAX_RESTARTS). */
  stuckRequests: 'StuckRequests',
  /** The orphan sweep could not read a target, remove an orphan or publish a finding, or read the live requests. */
  sweepFailures: 'SweepFailures',
} as const;

/** One Metrics instance per function, at module scope. */
export function stintMetrics(): Metrics {
  return new Metrics({ namespace: 'Stint', serviceName: 'stint' });
}

/**
 * Adds what a reconciler run gave up on: StuckRequests for every request, and RevokeFailed for the revokes it moved
 * to REVOKE_FAILED (the same alarm as a revoke whose retries ran out). Returns whether there is anything to publish.
 */
export function addReconcileMetrics(metrics: Metrics, report: { gaveUp: number; failedRevokes: number }): boolean {
  if (report.gaveUp > 0) metrics.addMetric(METRIC.stuckRequests, MetricUnit.Count, report.gaveUp);
  if (report.failedRevokes > 0) metrics.addMetric(METRIC.revokeFailed, MetricUnit.Count, report.failedRevokes);
  return metrics.hasStoredMetrics();
}

/** Adds what an orphan sweep could not do (SweepFailures; an aborted sweep counts one). */
export function addSweepMetrics(metrics: Metrics, report: { failed: number; aborted?: string }): boolean {
  const failures = report.failed + (report.aborted === undefined ? 0 : 1);
  if (failures > 0) metrics.addMetric(METRIC.sweepFailures, MetricUnit.Count, failures);
  return metrics.hasStoredMetrics();
}

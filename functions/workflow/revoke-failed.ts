import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC, stintMetrics } from '#lib/observability/metrics.ts';
import { workflow } from '#lib/services/wiring/workflow.ts';
import { FailedStepInput } from '#lib/workflow/contract.ts';

/** `Stint/RevokeFailed` drives the alarm (infra/constructs/workflow.ts); the reconciler keeps retrying. */
const metrics = stintMetrics();

export const handler = async (event: unknown): Promise<void> => {
  const input = FailedStepInput.parse(event);
  await workflow().revokeFailed(input.requestId, input.error);
  metrics.addMetric(METRIC.revokeFailed, MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
};

import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { workflow } from '#lib/services/wiring.ts';
import { FailedStepInput } from '#lib/workflow/contract.ts';

/** `Stint/RevokeFailed` drives the alarm (infra/constructs/workflow.ts); the reconciler keeps retrying. */
const metrics = new Metrics({ namespace: 'Stint', serviceName: 'stint' });

export const handler = async (event: unknown): Promise<void> => {
  const input = FailedStepInput.parse(event);
  await workflow().revokeFailed(input.requestId, input.error);
  metrics.addMetric('RevokeFailed', MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
};

import { describe, expect, it } from 'vitest';
import { addReconcileMetrics, METRIC, stintMetrics } from '#lib/observability/metrics.ts';

describe('addReconcileMetrics', () => {
  it('counts the requests a reconciler run gave up on, and the revokes among them, in the Stint namespace', () => {
    const metrics = stintMetrics();

    const toPublish = addReconcileMetrics(metrics, { gaveUp: 2, failedRevokes: 1 });

    expect(toPublish).toBe(true);
    const emf = metrics.serializeMetrics();
    expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'Stint',
      Dimensions: [['service']],
      Metrics: [
        { Name: METRIC.stuckRequests, Unit: 'Count' },
        { Name: METRIC.revokeFailed, Unit: 'Count' },
      ],
    });
    expect(emf).toMatchObject({ service: 'stint', StuckRequests: 2, RevokeFailed: 1 });
  });

  it('adds nothing to publish for a run that gave up on nothing', () => {
    const metrics = stintMetrics();

    expect(addReconcileMetrics(metrics, { gaveUp: 0, failedRevokes: 0 })).toBe(false);
    expect(metrics.hasStoredMetrics()).toBe(false);
  });
});

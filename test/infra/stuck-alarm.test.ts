import { beforeAll, describe, expect, it } from 'vitest';
import { METRIC } from '#lib/observability/metrics.ts';
import { type CfnTemplate, functionByEntry, onlyResourceOfType, resourcesOfType, synth } from './synth.ts';

/** The reconciler emits StuckRequests when it gives up on a stuck request; an alarm must say so at once. */
let cfn: CfnTemplate;

beforeAll(() => {
  ({ cfn } = synth({ stackName: 'StintTest' }));
});

const alarmsOnMetric = (name: string) =>
  resourcesOfType(cfn, 'AWS::CloudWatch::Alarm')
    .map(([, alarm]) => alarm.Properties)
    .filter((p) => p.MetricName === name);

describe('the stuck-requests alarm', () => {
  it('alarms to the alarm topic as soon as the reconciler reports one stuck request', () => {
    const [topic] = onlyResourceOfType(cfn, 'AWS::SNS::Topic');

    const alarms = alarmsOnMetric(METRIC.stuckRequests);

    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({
      Namespace: 'Stint',
      Dimensions: [{ Name: 'service', Value: 'stint' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: topic }],
      OKActions: [{ Ref: topic }],
    });
  });

  it('watches the namespace and service dimension the reconciler function publishes under', () => {
    const reconciler = functionByEntry(cfn, 'functions/workflow/reconciler.ts');

    expect(reconciler.Environment.Variables).toMatchObject({
      POWERTOOLS_SERVICE_NAME: 'stint',
      POWERTOOLS_METRICS_NAMESPACE: 'Stint',
    });
  });
});

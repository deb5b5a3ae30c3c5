import { beforeAll, describe, expect, it } from 'vitest';
import type { StintStack } from '#infra/stint-stack.ts';
import { type CfnTemplate, resourcesOfType, synth } from './synth.ts';

/** Notifications that failed every retry land in a dead-letter queue; an alarm must say so at once. */
let stack: StintStack;
let cfn: CfnTemplate;

beforeAll(() => {
  ({ stack, cfn } = synth({
    stackName: 'StintTest',
    slack: {
      signingSecretRef: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/slack-signing-AbCdEf',
      botTokenRef: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/slack-bot-GhIjKl',
    },
    teams: {
      appId: '6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a6b',
      tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      appPasswordRef: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/teams-app-MnOpQr',
    },
  }));
});

/** Alarms whose metric is about this queue (its name, as CloudFormation resolves it, in the dimensions). */
function alarmsOn(queueName: unknown) {
  return resourcesOfType(cfn, 'AWS::CloudWatch::Alarm')
    .map(([, alarm]) => alarm.Properties)
    .filter((p) => JSON.stringify(p.Dimensions ?? []) === JSON.stringify([{ Name: 'QueueName', Value: queueName }]));
}

describe('alarms on the notification dead-letter queues', () => {
  it.each([
    ['Slack', () => stack.slack?.deadLetters],
    ['Teams', () => stack.teams?.deadLetters],
  ])('alarms to the alarm topic as soon as the %s notify dead-letter queue holds a message', (_channel, queueOf) => {
    const queue = queueOf();
    if (queue === undefined) throw new Error('no notify dead-letter queue');
    const alarms = alarmsOn(stack.resolve(queue.queueName));

    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: stack.resolve(stack.alerts.topic.topicArn).Ref }],
    });
  });
});

import { RemovalPolicy } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { StintConfig } from '#infra/config.ts';

/** The SNS topic every Stint alarm notifies (and emails, when `alarmEmail` is configured). */
export class Alerts extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: { readonly config: StintConfig }) {
    super(scope, id);
    // A customer managed key: CloudWatch alarms cannot publish to a topic encrypted with the AWS managed SNS key.
    const key = new kms.Key(this, 'Key', {
      description: 'Stint: encrypts the alarm topic',
      enableKeyRotation: true,
      removalPolicy: props.config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'Stint alarms',
      masterKey: key,
      enforceSSL: true,
    });
    if (props.config.alarmEmail !== undefined) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.config.alarmEmail));
    }
  }

  /** Sends the alarm's ALARM and OK transitions to the topic. */
  notify(alarm: cloudwatch.Alarm): void {
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    alarm.addOkAction(new actions.SnsAction(this.topic));
  }
}

import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { StintConfig } from '#infra/config.ts';
import type { Alerts } from '#infra/constructs/alerts.ts';
import { StintFunction } from '#infra/constructs/stint-function.ts';
import { PUBLISHER_FILTERS } from '#lib/events/stream-filter.ts';

export type EventsProps = {
  readonly config: StintConfig;
  readonly table: dynamodb.TableV2;
  readonly alerts: Alerts;
};

/** Publisher stream settings (exported for the local runtime's stream emulation). */
export const PUBLISHER_STREAM = {
  batchSize: 100,
  retryAttempts: 10,
  maxRecordAgeHours: 24,
} as const;

/**
 * Audit events: the table's stream feeds the publisher, which puts one event per state change on the `stint`
 * bus (the item change is the event: docs/architecture.md); the bus is archived. Records the publisher cannot handle after its retries
 * land in a dead-letter queue, which raises an alarm.
 */
export class Events extends Construct {
  readonly bus: events.EventBus;
  readonly archive: events.Archive;
  readonly publisher: StintFunction;
  readonly deadLetters: sqs.Queue;

  constructor(scope: Construct, id: string, props: EventsProps) {
    super(scope, id);
    const { config } = props;
    const removalPolicy = config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.bus = new events.EventBus(this, 'Bus', {
      eventBusName: config.events.busName,
      description: 'Stint audit events (source "stint")',
    });
    this.archive = this.bus.archive('Archive', {
      description: 'Every Stint audit event, for replay',
      eventPattern: { account: [Stack.of(this).account] },
      retention: Duration.days(config.events.archiveRetentionDays),
    });

    this.deadLetters = new sqs.Queue(this, 'PublisherDeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy,
    });
    Validations.of(this.deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter destination (on-failure) of the publisher’s stream event source; ' +
        'a dead-letter queue of a dead-letter queue adds nothing. Its depth raises an alarm.',
    });

    this.publisher = new StintFunction(this, 'Publisher', {
      entry: 'functions/events/publisher.ts',
      description: 'Stint: turns table stream records into audit events',
      memorySize: 512,
      timeout: Duration.seconds(60),
      config,
    }).grantPutEvents(this.bus);
    this.publisher.fn.addEventSource(
      new DynamoEventSource(props.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: PUBLISHER_STREAM.batchSize,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        retryAttempts: PUBLISHER_STREAM.retryAttempts,
        maxRecordAge: Duration.hours(PUBLISHER_STREAM.maxRecordAgeHours),
        // One batch per shard at a time: the events of one request stay in order.
        parallelizationFactor: 1,
        // Records that are no audit event (leases, pointers, task tokens, TTL removals) are not delivered.
        filters: PUBLISHER_FILTERS.map((pattern) => lambda.FilterCriteria.filter(pattern)),
        onFailure: new SqsDlq(this.deadLetters),
      }),
    );
    Validations.of(this.publisher).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'dynamodb:ListStreams (added by the stream event source), X-Ray and Lambda ENI actions support no ' +
        'resource-level permissions.',
    });

    const dlqAlarm = new cloudwatch.Alarm(this, 'DeadLettersAlarm', {
      alarmDescription:
        'Stint: stream records the publisher could not turn into audit events are in the dead-letter queue.',
      metric: this.deadLetters.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    props.alerts.notify(dlqAlarm);
  }
}

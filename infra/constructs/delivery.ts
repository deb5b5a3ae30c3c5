import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import * as z from 'zod';
import {
  type DeployedTarget,
  deadLetterQueueName,
  ruleDeadLetterQueueName,
  type StintConfig,
  targetQueueName,
  targetsEnvironment,
} from '#infra/config.ts';
import type { Alerts } from '#infra/constructs/alerts.ts';
import { StintFunction } from '#infra/constructs/stint-function.ts';
import { REQUEST_UPDATE } from '#lib/store/access.ts';
import { eventPatternFor, isItsm, type TargetKind } from '#lib/targets/config.ts';

/** The source of every Stint audit event (docs/events.md). */
export const EVENT_SOURCE = 'stint';

/** Delivery settings (exported for the tests and the local runtime's bus, which retries the same way). */
export const DELIVERY = {
  /** Timeout of a delivery function: a few vendor calls per batch, each bounded by outbound's timeouts. */
  functionTimeoutSeconds: 60,
  functionMemorySize: 512,
  /** Messages per invocation for ITSM (FIFO maximum); lib/targets/deliver.ts chunks by the kind's own limit. */
  batchSize: 10,
  /** Messages per invocation for SIEM kinds (standard queues, with the batching window), so vendors get real batches. */
  siemBatchSize: 100,
  /** SIEM kinds gather events this long before an invocation, so vendors receive batches. */
  siemBatchingWindowSeconds: 5,
  /** Queue and dead-letter queue retention: a stalled target loses nothing for two weeks. */
  retentionDays: 14,
  /** EventBridge → queue: retry for a day, as often as EventBridge allows, then the target's dead-letter queue. */
  ruleMaxEventAgeHours: 24,
  ruleRetryAttempts: 185,
} as const;

/**
 * Visibility timeout of a target queue: AWS asks for at least six times the function timeout (so a message is
 * not received again while throttled invocations retry), plus the batching window.
 */
export const VISIBILITY_TIMEOUT_SECONDS = 6 * DELIVERY.functionTimeoutSeconds + DELIVERY.siemBatchingWindowSeconds;

export type DeliveryProps = {
  readonly config: StintConfig;
  readonly bus: events.IEventBus;
  readonly table: dynamodb.TableV2;
  readonly alerts: Alerts;
};

/** What one configured target deploys. */
export type TargetResources = {
  readonly target: DeployedTarget;
  /** `<stack>-target-<name>`, `.fifo` for ITSM kinds. */
  readonly queue: sqs.Queue;
  /** `<stack>-target-<name>-dlq[.fifo]`: the queue's redrive target and where delivery puts refused events. */
  readonly deadLetters: sqs.Queue;
  /**
   * Where EventBridge puts events it could not send to the queue. EventBridge accepts only standard queues
   * as a target's dead-letter queue ("SQS FIFO is not supported by Dead Letter Queues"), so an ITSM target
   * gets a standard `<stack>-target-<name>-dlq` next to its `-dlq.fifo`; otherwise it is `deadLetters`.
   */
  readonly ruleDeadLetters: sqs.Queue;
  readonly rule: events.Rule;
};

/**
 * SIEM and ITSM fan-out: per target, an EventBridge rule on the Stint bus whose pattern is the
 * target's filter, sending to the target's queue (retry policy, dead-letter queue); the queue feeds the
 * delivery function of the target's kind, and redrives to the target's dead-letter queue, which raises an
 * alarm. One delivery function per kind in use, allowed exactly its own targets' queues and secrets.
 * No targets, no resources.
 */
export class Delivery extends Construct {
  readonly targets: TargetResources[] = [];
  readonly functions = new Map<TargetKind, StintFunction>();

  constructor(scope: Construct, id: string, props: DeliveryProps) {
    super(scope, id);
    const { config } = props;
    if (config.targets.length === 0) return;
    const removalPolicy = config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const environment = targetsEnvironment(config.targets);

    for (const target of config.targets) {
      const resources = this.targetResources(target, props, removalPolicy);
      this.targets.push(resources);
      this.deliveryFunction(target.kind, config, props.table).fn.addEnvironment('STINT_TARGETS', environment);
    }

    for (const [kind, fn] of this.functions) {
      const own = this.targets.filter((t) => t.target.kind === kind);
      for (const { queue, target } of own) {
        fn.fn.addEventSource(
          new SqsEventSource(queue, {
            batchSize: isItsm(target.kind) ? DELIVERY.batchSize : DELIVERY.siemBatchSize,
            reportBatchItemFailures: true,
            // FIFO queues take no batching window; ITSM events go one request's story at a time anyway.
            ...(isItsm(target.kind) ? {} : { maxBatchingWindow: Duration.seconds(DELIVERY.siemBatchingWindowSeconds) }),
          }),
        );
      }
      // lib/targets/deliver.ts puts refused events in the target's dead-letter queue itself.
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['sqs:GetQueueUrl', 'sqs:SendMessage'],
          resources: own.map((t) => t.deadLetters.queueArn),
        }),
      );
      const secretArns = [...new Set(own.map((t) => t.target.secretRef).filter((ref) => ref.startsWith('arn:')))];
      if (secretArns.length > 0) {
        fn.role.addToPrincipalPolicy(
          new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secretArns }),
        );
      }
    }
  }

  /** The delivery function of a kind, created with its first target: `functions/delivery/<kind>.ts`. */
  private deliveryFunction(kind: TargetKind, config: StintConfig, table: dynamodb.TableV2): StintFunction {
    const existing = this.functions.get(kind);
    if (existing !== undefined) return existing;
    const fn = new StintFunction(this, `Function-${kind}`, {
      entry: `functions/delivery/${kind}.ts`,
      description: `Stint: delivers audit events to ${kind} targets`,
      memorySize: DELIVERY.functionMemorySize,
      timeout: Duration.seconds(DELIVERY.functionTimeoutSeconds),
      config,
    });
    // ITSM kinds keep the ticket of each request on the request item (lib/targets/tickets.ts): they read and
    // update request items, nothing else.
    if (isItsm(kind)) fn.grantTable(table, REQUEST_UPDATE, { leadingKeys: ['REQUEST#*'] });
    this.functions.set(kind, fn);
    return fn;
  }

  private targetResources(target: DeployedTarget, props: DeliveryProps, removalPolicy: RemovalPolicy): TargetResources {
    const { config } = props;
    const scope = new Construct(this, `Target-${target.name}`);
    const fifo = isItsm(target.kind);
    const common = {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(DELIVERY.retentionDays),
      removalPolicy,
    };

    const deadLetters = new sqs.Queue(scope, 'DeadLetters', {
      ...common,
      queueName: deadLetterQueueName(config.stackName, target),
      ...(fifo ? { fifo: true } : {}),
    });
    Validations.of(deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is the dead-letter queue of the target’s queue (and where delivery puts refused events); ' +
        'it raises an alarm when it holds a message and `npm run redrive` moves its messages back.',
    });

    const queue = new sqs.Queue(scope, 'Queue', {
      ...common,
      queueName: targetQueueName(config.stackName, target),
      visibilityTimeout: Duration.seconds(VISIBILITY_TIMEOUT_SECONDS),
      deadLetterQueue: { queue: deadLetters, maxReceiveCount: target.maxReceiveCount },
      // EventBridge sets no deduplication id: a FIFO target queue must deduplicate by content (the event,
      // whose id is unique), which also drops EventBridge's own retries of one event.
      ...(fifo ? { fifo: true, contentBasedDeduplication: true } : {}),
    });

    let ruleDeadLetters = deadLetters;
    if (fifo) {
      ruleDeadLetters = new sqs.Queue(scope, 'RuleDeadLetters', {
        ...common,
        queueName: ruleDeadLetterQueueName(config.stackName, target),
      });
      Validations.of(ruleDeadLetters).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason:
          'This queue is the dead-letter queue of the target’s EventBridge rule (EventBridge takes no FIFO ' +
          'dead-letter queue); it raises an alarm when it holds a message and `npm run redrive` empties it.',
      });
    }

    const rule = new events.Rule(scope, 'Rule', {
      eventBus: props.bus,
      description: `Stint: audit events for target ${target.name} (${target.kind})`,
      eventPattern: toCdkPattern(eventPatternFor(target.filter, EVENT_SOURCE)),
    });
    rule.addTarget(
      new targets.SqsQueue(queue, {
        ...(fifo ? { messageGroupId: target.name } : {}),
        deadLetterQueue: ruleDeadLetters,
        maxEventAge: Duration.hours(DELIVERY.ruleMaxEventAgeHours),
        retryAttempts: DELIVERY.ruleRetryAttempts,
      }),
    );

    const alarmed: [string, sqs.Queue][] = [['DeadLettersAlarm', deadLetters]];
    if (ruleDeadLetters !== deadLetters) alarmed.push(['RuleDeadLettersAlarm', ruleDeadLetters]);
    for (const [id, dlq] of alarmed) {
      props.alerts.alarmOnDeadLetters(
        scope,
        id,
        dlq,
        `Stint: audit events for target ${target.name} (${target.kind}) are in its dead-letter queue; ` +
          `fix the target, then run: npm run redrive -- ${target.name}`,
      );
    }

    return { target, queue, deadLetters, ruleDeadLetters, rule };
  }
}

/** lib/targets/config.ts's pattern, in CDK's shape (CDK renders `detailType` back to `detail-type`). */
const EventBridgePattern = z.strictObject({
  source: z.array(z.string()),
  'detail-type': z.array(z.string()).optional(),
  detail: z.record(z.string(), z.unknown()).optional(),
});

function toCdkPattern(pattern: Record<string, unknown>): events.EventPattern {
  const parsed = EventBridgePattern.parse(pattern);
  return {
    source: parsed.source,
    ...(parsed['detail-type'] === undefined ? {} : { detailType: parsed['detail-type'] }),
    ...(parsed.detail === undefined ? {} : { detail: parsed.detail }),
  };
}

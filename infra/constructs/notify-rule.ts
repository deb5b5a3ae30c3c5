import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * Retries of a chat notify function. EventBridge invokes a Lambda target asynchronously: the rule's retries and DLQ
 * cover only the invocation itself (throttling, Lambda unavailable); a failed run (the function threw: the chat service
 * was rate limited or down) is retried by Lambda's asynchronous invocation, twice (about 1 and 2 minutes later), then
 * sent to the same queue. Either way the event is kept.
 */
export const NOTIFY_ASYNC = { retryAttempts: 2, maxEventAgeHours: 6 } as const;
export const NOTIFY_RULE = { retryAttempts: 8, maxEventAgeHours: 2 } as const;

/**
 * Routes the chat event types to a notify function (rule `NotifyRule`), with one dead-letter queue
 * (`NotifyDeadLetters`) for both the rule's failed invocations and the function's failed runs. Returns the queue.
 */
export function routeToNotify(
  scope: Construct,
  props: { bus: events.IEventBus; fn: lambda.Function; channel: string; eventTypes: readonly string[] },
): sqs.Queue {
  const deadLetters = new sqs.Queue(scope, 'NotifyDeadLetters', {
    enforceSSL: true,
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(deadLetters).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: `This queue is itself the dead-letter queue of the ${props.channel} notification rule target and function.`,
  });
  props.fn.configureAsyncInvoke({
    retryAttempts: NOTIFY_ASYNC.retryAttempts,
    maxEventAge: Duration.hours(NOTIFY_ASYNC.maxEventAgeHours),
    onFailure: new SqsDestination(deadLetters),
  });
  new events.Rule(scope, 'NotifyRule', {
    eventBus: props.bus,
    description: `Stint: request and grant events for ${props.channel}`,
    eventPattern: { source: ['stint'], detailType: [...props.eventTypes] },
    targets: [
      new targets.LambdaFunction(props.fn, {
        deadLetterQueue: deadLetters,
        retryAttempts: NOTIFY_RULE.retryAttempts,
        maxEventAge: Duration.hours(NOTIFY_RULE.maxEventAgeHours),
      }),
    ],
  });
  return deadLetters;
}

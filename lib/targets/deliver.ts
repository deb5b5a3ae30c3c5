import { GetQueueUrlCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import { StintEvent } from '#events/schemas.ts';
import { logger } from '#lib/observability/logger.ts';
import type { TargetConfig } from './config.ts';
import {
  type DeliveryContext,
  type Outbound,
  PermanentDeliveryError,
  RetryableDeliveryError,
  type TargetDriver,
  type TicketStore,
} from './types.ts';

export type DeliveryDeps = {
  targets: readonly TargetConfig[];
  sqs: SQSClient;
  resolveSecret: (ref: string) => Promise<string>;
  outbound: (target: TargetConfig) => Outbound;
  tickets: () => TicketStore;
  now?: () => Date;
};

/** The EventBridge event as the rule's SQS target puts it in the message body. */
const BusEvent = z.object({ id: z.string(), 'detail-type': z.string(), detail: z.unknown() });

/** Queue names are `<stack>-target-<name>[.fifo]`; the DLQ is `<stack>-target-<name>-dlq[.fifo]`. */
export function targetOfQueueArn(arn: string): { name: string; queue: string; fifo: boolean } | undefined {
  const queue = arn.split(':').pop() ?? '';
  const match = /-target-([a-z][a-z0-9-]*?)(\.fifo)?$/.exec(queue);
  if (match?.[1] === undefined) return undefined;
  return { name: match[1], queue, fifo: match[2] !== undefined };
}

export function dlqNameOf(queue: string): string {
  return queue.endsWith('.fifo') ? `${queue.slice(0, -'.fifo'.length)}-dlq.fifo` : `${queue}-dlq`;
}

type Parsed = { record: SQSRecord; event: StintEvent } | { record: SQSRecord; error: string };

function parse(record: SQSRecord): Parsed {
  try {
    const bus = BusEvent.parse(JSON.parse(record.body));
    const event = StintEvent.safeParse(bus.detail);
    if (!event.success) return { record, error: `not a Stint event: ${event.error.issues[0]?.message ?? 'invalid'}` };
    return { record, event: event.data };
  } catch {
    return { record, error: 'the message body is not an EventBridge event' };
  }
}

/**
 * One SQS batch for one kind's delivery function: events go to their target in order, in chunks of the
 * kind's batch limit. A retryable failure leaves that chunk and everything after it for the same target in
 * the queue (SQS retries, then its redrive policy moves them to the DLQ); a permanent failure puts the
 * events in the target's DLQ at once, with the target's answer, and the batch moves on. Nothing is dropped.
 */
export class Delivery {
  private readonly dlqUrls = new Map<string, string>();

  constructor(
    private readonly driver: TargetDriver,
    private readonly deps: DeliveryDeps,
  ) {}

  async handle(event: SQSEvent): Promise<SQSBatchResponse> {
    const failures: string[] = [];
    const byTarget = new Map<string, SQSRecord[]>();
    for (const record of event.Records) {
      const key = record.eventSourceARN;
      byTarget.set(key, [...(byTarget.get(key) ?? []), record]);
    }
    for (const [arn, records] of byTarget) {
      const queue = targetOfQueueArn(arn);
      const target = queue === undefined ? undefined : this.deps.targets.find((t) => t.name === queue.name);
      if (queue === undefined || target === undefined || target.kind !== this.driver.kind) {
        // Configuration and infrastructure disagree: keep the messages (retried, then the DLQ) and say why.
        logger.error('no target configured for this queue', { queueArn: arn, kind: this.driver.kind });
        failures.push(...records.map((r) => r.messageId));
        continue;
      }
      failures.push(...(await this.deliverTo(target, queue.queue, records)));
    }
    return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
  }

  private async deliverTo(target: TargetConfig, queue: string, records: SQSRecord[]): Promise<string[]> {
    const parsed = records.map(parse);
    let ctx: DeliveryContext;
    try {
      ctx = {
        target,
        secret: await this.deps.resolveSecret(target.secretRef),
        http: this.deps.outbound(target),
        // Built when an ITSM driver first reads or writes a ticket: only those functions are given the table.
        tickets: {
          get: (requestId, target) => this.deps.tickets().get(requestId, target),
          put: (requestId, target, ticket) => this.deps.tickets().put(requestId, target, ticket),
        },
        now: this.deps.now ?? (() => new Date()),
      };
    } catch (error) {
      logger.error('target secret unavailable', {
        target: target.name,
        error: error instanceof Error ? error.name : 'unknown',
      });
      return records.map((r) => r.messageId);
    }
    for (let i = 0; i < parsed.length; ) {
      const head = parsed[i];
      if (head === undefined) break;
      if ('error' in head) {
        await this.deadLetter(target, queue, [head.record], { error: head.error });
        i++;
        continue;
      }
      const chunk: { record: SQSRecord; event: StintEvent }[] = [];
      while (chunk.length < this.driver.maxBatch) {
        const next = parsed[i];
        if (next === undefined || 'error' in next) break;
        chunk.push(next);
        i++;
      }
      try {
        await this.driver.deliver(
          chunk.map((c) => c.event),
          ctx,
        );
        logger.info('delivered', { target: target.name, events: chunk.length });
      } catch (error) {
        if (error instanceof PermanentDeliveryError) {
          logger.warn('target refused events; moved to its DLQ', {
            target: target.name,
            status: error.status,
            events: chunk.length,
          });
          await this.deadLetter(
            target,
            queue,
            chunk.map((c) => c.record),
            {
              error: error.message,
              ...(error.status === undefined ? {} : { status: error.status }),
              ...(error.answer === undefined ? {} : { answer: error.answer }),
            },
          );
          continue;
        }
        const status = error instanceof RetryableDeliveryError ? error.status : undefined;
        logger.warn('delivery failed; will retry', {
          target: target.name,
          status,
          error: error instanceof Error ? error.name : 'unknown',
        });
        // Keep order: this chunk and everything after it for this target stay in the queue.
        const rest = parsed.slice(i - chunk.length);
        return rest.map((p) => p.record.messageId);
      }
    }
    return [];
  }

  private async dlqUrl(queue: string): Promise<string> {
    const name = dlqNameOf(queue);
    let url = this.dlqUrls.get(name);
    if (url === undefined) {
      const out = await this.deps.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      if (out.QueueUrl === undefined) throw new Error(`no queue URL for ${name}`);
      url = out.QueueUrl;
      this.dlqUrls.set(name, url);
    }
    return url;
  }

  /** The original message body, with why the target refused it (redrive sends the body back to the queue). */
  private async deadLetter(
    target: TargetConfig,
    queue: string,
    records: SQSRecord[],
    why: { error: string; status?: number; answer?: string },
  ): Promise<void> {
    const url = await this.dlqUrl(queue);
    for (const record of records) {
      await this.deps.sqs.send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: record.body,
          MessageAttributes: {
            'stint-target': { DataType: 'String', StringValue: target.name },
            'stint-error': { DataType: 'String', StringValue: why.error.slice(0, 1000) },
            ...(why.status === undefined
              ? {}
              : { 'stint-status': { DataType: 'Number', StringValue: String(why.status) } }),
            ...(why.answer === undefined || why.answer === ''
              ? {}
              : { 'stint-answer': { DataType: 'String', StringValue: why.answer.slice(0, 4000) } }),
          },
          ...(url.endsWith('.fifo') ? { MessageGroupId: target.name, MessageDeduplicationId: record.messageId } : {}),
        }),
      );
    }
  }
}

import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { config } from '#lib/config.ts';
import { lazy } from '#lib/lazy.ts';
import { resolveSecret } from '#lib/secrets/resolve.ts';
import { createDocumentClient } from '#lib/store/client.ts';
import { Store } from '#lib/store/store.ts';
import { targetsOf } from './config.ts';
import { Delivery } from './deliver.ts';
import { createOutbound } from './outbound.ts';
import { RequestTicketStore } from './tickets.ts';
import type { TargetDriver } from './types.ts';

/**
 * The Lambda entry of one kind's delivery function (functions/delivery/<kind>.ts): an SQS batch from the
 * queues of that kind's targets. Clients live across invocations; the table is only touched by ITSM kinds.
 */
export function deliveryHandler(driver: TargetDriver): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const sqs = new SQSClient({});
  const tickets = lazy(() => new RequestTicketStore(new Store(createDocumentClient(), config().tableName)));
  const delivery = lazy(
    () =>
      new Delivery(driver, {
        targets: targetsOf(config()),
        sqs,
        resolveSecret,
        outbound: (target) =>
          createOutbound({ local: config().local, allowPrivateNetwork: target.allowPrivateNetwork }),
        tickets,
      }),
  );
  return async (event) => delivery().handle(event);
}

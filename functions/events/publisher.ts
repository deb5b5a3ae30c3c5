/**
 * DynamoDB stream → EventBridge (the item change is the event: docs/architecture.md).
 *
 * Records of a shard are published in order: they are processed one after the other, and after the first
 * failure the rest of the batch is reported as failed without being published. Lambda (ReportBatchItemFailures)
 * then resumes the shard at the lowest failed sequence number, so no event overtakes an earlier one; the
 * event source mapping's bisect, retry limit and DLQ (infra) keep a poison record from blocking the shard.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { Context, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { config } from '#lib/config.ts';
import { publishRecord } from '#lib/events/publish.ts';
import { lazy } from '#lib/lazy.ts';

const eventBusName = lazy(() => config().eventBusName);
const eventBridge = new EventBridgeClient({});
const logger = new Logger({ serviceName: 'stint-publisher' });
const processor = new BatchProcessor(EventType.DynamoDBStreams);

class SkippedAfterFailureError extends Error {
  override readonly name = 'SkippedAfterFailureError';
}

export const handler = async (event: DynamoDBStreamEvent, context: Context) => {
  let failed = false;
  const recordHandler = async (record: DynamoDBRecord): Promise<void> => {
    const ids = { recordId: record.eventID, sequenceNumber: record.dynamodb?.SequenceNumber };
    if (failed) throw new SkippedAfterFailureError('an earlier record of this batch failed');
    try {
      const eventIds = await publishRecord(record, eventBridge, eventBusName());
      logger.debug('published', { ...ids, eventIds });
    } catch (error) {
      failed = true;
      // The message names fields and error codes, never values (see lib/events/from-stream.ts).
      logger.error('record not published', {
        ...ids,
        error: error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error',
      });
      throw error;
    }
  };
  return processPartialResponse(event, recordHandler, processor, {
    context,
    processInParallel: false,
    // Report every failure in batchItemFailures (a batch whose first record fails included) rather than throwing.
    throwOnFullBatchFailure: false,
  });
};

/**
 * Stream record → PutEvents entries, and sending them. The caller (functions/events/publisher.ts) owns the
 * client and the batch semantics.
 */
import { type EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { DynamoDBRecord } from 'aws-lambda';
import { EVENT_SOURCE, type StintEvent } from '#events/schemas.ts';
import { eventsFromChange } from './from-stream.ts';
import { changeFromStreamRecord } from './stream-record.ts';

/** PutEvents takes at most 10 entries per call. */
const MAX_ENTRIES = 10;

export class PublishError extends Error {
  override readonly name = 'PublishError';
}

export function entriesOf(events: StintEvent[], eventBusName: string): PutEventsRequestEntry[] {
  return events.map((event) => ({
    Source: EVENT_SOURCE,
    DetailType: event.type,
    Detail: JSON.stringify(event),
    EventBusName: eventBusName,
    Time: new Date(event.time),
  }));
}

/**
 * Publish the events of one stream record; returns their ids. Throws when the record cannot be read or when
 * EventBridge refuses any entry, so the record is reported as failed and retried (ids are deterministic, so
 * consumers drop the duplicates of entries that did go through).
 */
export async function publishRecord(
  record: DynamoDBRecord,
  client: EventBridgeClient,
  eventBusName: string,
): Promise<string[]> {
  const events = eventsFromChange(changeFromStreamRecord(record));
  await publishEvents(events, client, eventBusName);
  return events.map((e) => e.id);
}

/**
 * Sends events (already validated by their schemas) to the bus; throws when EventBridge refuses any entry. Used by
 * the publisher for stream records and by the orphan sweep for its findings (lib/services/sweep.ts).
 */
export async function publishEvents(
  events: StintEvent[],
  client: EventBridgeClient,
  eventBusName: string,
): Promise<void> {
  const entries = entriesOf(events, eventBusName);
  for (let i = 0; i < entries.length; i += MAX_ENTRIES) {
    const result = await client.send(new PutEventsCommand({ Entries: entries.slice(i, i + MAX_ENTRIES) }));
    const failed = result.FailedEntryCount ?? 0;
    if (failed > 0) {
      const codes = [...new Set((result.Entries ?? []).flatMap((e) => (e.ErrorCode ? [e.ErrorCode] : [])))];
      throw new PublishError(`EventBridge refused ${failed} event(s): ${codes.join(', ') || 'no error code'}`);
    }
  }
}

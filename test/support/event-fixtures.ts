/**
 * Stream-record builders for the events tests. Domain fixtures (stored items at every stage of a request, config
 * items) live in lib/events/samples.ts, which the sample generator shares.
 */
import type { AttributeValue, DynamoDBRecord } from 'aws-lambda';
import type { Image, StreamChange } from '#lib/events/from-stream.ts';

/** Plain value → DynamoDB JSON as the stream delivers it (undefined attributes are left out, as the store does). */
export function toAttribute(value: unknown): AttributeValue {
  if (value === null) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(toAttribute) };
  if (typeof value === 'object') return { M: toAttributeMap(Object.fromEntries(Object.entries(value))) };
  throw new Error(`cannot marshall a ${typeof value}`);
}

export function toAttributeMap(image: Image): Record<string, AttributeValue> {
  return Object.fromEntries(
    Object.entries(image)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, toAttribute(v)]),
  );
}

let sequence = 100;

/** A Lambda DynamoDB stream record for a change; sequence numbers increase with each call. */
export function streamRecord(change: StreamChange, sequenceNumber = String(sequence++)): DynamoDBRecord {
  return {
    eventID: `evt-${sequenceNumber}`,
    eventName: change.eventName,
    eventSource: 'aws:dynamodb',
    eventVersion: '1.1',
    awsRegion: 'eu-west-1',
    dynamodb: {
      SequenceNumber: sequenceNumber,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
      SizeBytes: 1024,
      ...(change.oldImage ? { OldImage: toAttributeMap(change.oldImage) } : {}),
      ...(change.newImage ? { NewImage: toAttributeMap(change.newImage) } : {}),
    },
    eventSourceARN: 'arn:aws:dynamodb:eu-west-1:123456789012:table/stint/stream/2026-03-03T00:00:00.000',
  };
}

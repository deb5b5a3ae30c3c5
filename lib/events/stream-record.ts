/**
 * A Lambda DynamoDB stream record → a StreamChange with plain-object images. The images arrive as DynamoDB JSON;
 * they are checked against the attribute-value grammar before `unmarshall` turns them into plain values.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import * as z from 'zod';
import { type Image, type StreamChange, StreamRecordError } from './from-stream.ts';

const Base64 = z.base64().transform((b) => Buffer.from(b, 'base64'));

const Attribute: z.ZodType<AttributeValue> = z.lazy(() =>
  z.union([
    z.strictObject({ S: z.string() }),
    z.strictObject({ N: z.string() }),
    z.strictObject({ B: Base64 }),
    z.strictObject({ BOOL: z.boolean() }),
    z.strictObject({ NULL: z.literal(true) }),
    z.strictObject({ SS: z.array(z.string()) }),
    z.strictObject({ NS: z.array(z.string()) }),
    z.strictObject({ BS: z.array(Base64) }),
    z.strictObject({ L: z.array(Attribute) }),
    z.strictObject({ M: z.record(z.string(), Attribute) }),
  ]),
);
const AttributeMap = z.record(z.string(), Attribute);
const EventName = z.enum(['INSERT', 'MODIFY', 'REMOVE']);

function image(raw: unknown, which: string): Image | undefined {
  if (raw === undefined) return undefined;
  const parsed = AttributeMap.safeParse(raw);
  if (!parsed.success) {
    const where = parsed.error.issues[0]?.path.join('.') ?? '';
    throw new StreamRecordError(`${which} is not a DynamoDB attribute map (at ${where || '(root)'})`);
  }
  try {
    return unmarshall(parsed.data);
  } catch (error) {
    const message = error instanceof Error ? error.message : 'unknown error';
    throw new StreamRecordError(`${which} cannot be unmarshalled: ${message}`);
  }
}

export function changeFromStreamRecord(record: DynamoDBRecord): StreamChange {
  const eventName = EventName.safeParse(record.eventName);
  if (!eventName.success) throw new StreamRecordError(`unknown stream event name ${String(record.eventName)}`);
  return {
    eventName: eventName.data,
    oldImage: image(record.dynamodb?.OldImage, 'OldImage'),
    newImage: image(record.dynamodb?.NewImage, 'NewImage'),
  };
}

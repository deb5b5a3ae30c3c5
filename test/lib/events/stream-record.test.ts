import { describe, expect, it } from 'vitest';
import { StreamRecordError } from '#lib/events/from-stream.ts';
import { changeFromStreamRecord } from '#lib/events/stream-record.ts';
import { streamRecord } from '../../support/event-fixtures.ts';

describe('changeFromStreamRecord', () => {
  it('unmarshalls both images of a MODIFY record into plain values', () => {
    const record = streamRecord({
      eventName: 'MODIFY',
      oldImage: { pk: 'REQ#1', version: 1, tags: ['a'], nested: { ok: true, none: null } },
      newImage: { pk: 'REQ#1', version: 2, tags: ['a', 'b'], nested: { ok: false, none: null } },
    });

    expect(changeFromStreamRecord(record)).toEqual({
      eventName: 'MODIFY',
      oldImage: { pk: 'REQ#1', version: 1, tags: ['a'], nested: { ok: true, none: null } },
      newImage: { pk: 'REQ#1', version: 2, tags: ['a', 'b'], nested: { ok: false, none: null } },
    });
  });

  it('reads string sets and a REMOVE record without new image', () => {
    const record = streamRecord({ eventName: 'REMOVE', oldImage: { pk: 'X' } });
    record.dynamodb = { ...record.dynamodb, OldImage: { pk: { S: 'X' }, groups: { SS: ['dba', 'ops'] } } };

    const change = changeFromStreamRecord(record);

    expect(change.eventName).toBe('REMOVE');
    expect(change.newImage).toBeUndefined();
    expect(change.oldImage).toEqual({ pk: 'X', groups: new Set(['dba', 'ops']) });
  });

  it('refuses an image that is not DynamoDB JSON, naming where', () => {
    const record = streamRecord({ eventName: 'INSERT', newImage: { pk: 'X' } });
    record.dynamodb = { ...record.dynamodb, NewImage: { pk: { S: 'X' }, version: { B: 'not base64!' } } };

    expect(() => changeFromStreamRecord(record)).toThrow(StreamRecordError);
    expect(() => changeFromStreamRecord(record)).toThrow(/NewImage is not a DynamoDB attribute map \(at version\.B\)/);
  });

  it('refuses an unknown event name', () => {
    const record = streamRecord({ eventName: 'INSERT', newImage: { pk: 'X' } });
    delete record.eventName;

    expect(() => changeFromStreamRecord(record)).toThrow(/unknown stream event name/);
  });
});

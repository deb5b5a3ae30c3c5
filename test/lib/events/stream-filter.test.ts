import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { eventsFromChange, type Image, type StreamChange } from '#lib/events/from-stream.ts';
import { ACTIVE_TOKEN, modify, requestItem, requestStages, sampleChanges } from '#lib/events/samples.ts';
import { PUBLISHER_FILTERS, SILENT_ENTITIES } from '#lib/events/stream-filter.ts';
import { matchesEventPattern } from '#lib/local/event-pattern.ts';
import { NO_EVENT_ATTRIBUTE } from '#lib/store/table.ts';

/** The change as the stream delivers it to the event source mapping (DynamoDB JSON images). */
function record(change: StreamChange) {
  const image = (i: Image | undefined) =>
    i === undefined ? {} : { NewImage: marshall(i, { removeUndefinedValues: true }) };
  const old =
    change.oldImage === undefined ? {} : { OldImage: marshall(change.oldImage, { removeUndefinedValues: true }) };
  return { eventName: change.eventName, dynamodb: { ...image(change.newImage), ...old } };
}
const delivered = (change: StreamChange) => PUBLISHER_FILTERS.some((f) => matchesEventPattern(f, record(change)));

describe('the publisher stream filter', () => {
  it.each(Object.entries(sampleChanges()))('delivers the change behind %s', (_type, change) => {
    expect(eventsFromChange(change)).not.toEqual([]);
    expect(delivered(change)).toBe(true);
  });

  it('drops a task token registration (Store.setRequestToken), which is no event', () => {
    const s = requestStages();
    const before = requestItem(s.active);
    const change = modify(before, {
      ...before,
      activeToken: ACTIVE_TOKEN,
      version: s.active.version + 1,
      [NO_EVENT_ATTRIBUTE]: true,
    });

    expect(eventsFromChange(change)).toEqual([]);
    expect(delivered(change)).toBe(false);
    // The next full write drops the mark: its record is delivered again.
    expect(delivered(modify(change.newImage ?? {}, requestItem(s.revoking)))).toBe(true);
  });

  it.each(SILENT_ENTITIES)('drops changes of %s items', (entity) => {
    const change: StreamChange = { eventName: 'INSERT', newImage: { pk: 'X#1', sk: 'X', entity } };

    expect(eventsFromChange(change)).toEqual([]);
    expect(delivered(change)).toBe(false);
  });

  it('drops removals (TTL expiry) and delivers an item without an entity, which the publisher reports as failed', () => {
    const removal: StreamChange = { eventName: 'REMOVE', oldImage: requestItem(requestStages().revoked) };
    const unreadable: StreamChange = { eventName: 'INSERT', newImage: { pk: 'X#1', sk: 'X' } };

    expect(delivered(removal)).toBe(false);
    expect(delivered(unreadable)).toBe(true);
    expect(() => eventsFromChange(unreadable)).toThrow();
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JiraState, REPLAY_TTL_SECONDS } from '#lib/channels/jira/state.ts';
import { eventsFromChange } from '#lib/events/from-stream.ts';
import { type LocalTable, startDynalite } from '../../../support/dynalite.ts';

let table: LocalTable;
beforeEach(async () => {
  table = await startDynalite();
});
afterEach(async () => {
  await table.stop();
});

describe('JiraState replay guard', () => {
  it('claims a signature once, and again after a release', async () => {
    const state = new JiraState(table.doc, table.tableName);
    const now = new Date('2030-01-15T10:00:00.000Z');
    expect(await state.claim('abc', now)).toBe(true);
    expect(await state.claim('abc', now)).toBe(false);
    expect(await state.claim('def', now)).toBe(true);
    await state.release('abc');
    expect(await state.claim('abc', now)).toBe(true);
  });

  it('is an item the stream publisher makes no event of', () => {
    const item = { pk: 'JIRA-REPLAY#abc', sk: 'REPLAY', entity: 'jira-replay', ttl: REPLAY_TTL_SECONDS };
    expect(eventsFromChange({ eventName: 'INSERT', newImage: item })).toEqual([]);
  });
});

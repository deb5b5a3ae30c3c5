import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError } from '#lib/domain/errors.ts';
import { eventsFromChange, type Image } from '#lib/events/from-stream.ts';
import { modify, REQUEST_ID, requestStages } from '#lib/events/samples.ts';
import { requestKey } from '#lib/store/keys.ts';
import { Store } from '#lib/store/store.ts';
import { RequestTicketStore } from '#lib/targets/tickets.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';

let table: LocalTable;
let store: Store;
let tickets: RequestTicketStore;

beforeEach(async () => {
  table = await startDynalite();
  store = new Store(table.doc, table.tableName);
  tickets = new RequestTicketStore(store);
  await store.createRequest(requestStages().pending);
});
afterEach(async () => {
  await table.stop();
});

async function rawItem(): Promise<Image> {
  const { Item } = await table.doc.send(new GetCommand({ TableName: table.tableName, Key: requestKey(REQUEST_ID) }));
  if (Item === undefined) throw new Error('request item missing');
  return Item;
}

describe('RequestTicketStore', () => {
  it('has no ticket for a new request', async () => {
    expect(await tickets.get(REQUEST_ID, 'jira-ops')).toBeUndefined();
  });

  it('stores the key on the request, per target, next to the other targets’ keys', async () => {
    await tickets.put(REQUEST_ID, 'jira-ops', 'OPS-7');
    await tickets.put(REQUEST_ID, 'snow', 'a'.repeat(32));

    expect(await tickets.get(REQUEST_ID, 'jira-ops')).toBe('OPS-7');
    expect(await tickets.get(REQUEST_ID, 'snow')).toBe('a'.repeat(32));
    const request = await store.getRequest(REQUEST_ID);
    expect(request?.tickets).toEqual({ 'jira-ops': 'OPS-7', snow: 'a'.repeat(32) });
    expect(request?.status).toBe('PENDING');
    expect(request?.version).toBe(3);
  });

  it('does not write again when the same key is put twice (a redelivery)', async () => {
    await tickets.put(REQUEST_ID, 'jira-ops', 'OPS-7');
    await tickets.put(REQUEST_ID, 'jira-ops', 'OPS-7');

    expect((await store.getRequest(REQUEST_ID))?.version).toBe(2);
  });

  it('yields no audit event from the stream for the ticket write', async () => {
    const before = await rawItem();
    await tickets.put(REQUEST_ID, 'jira-ops', 'OPS-7');
    const after = await rawItem();

    expect(after.tickets).toEqual({ 'jira-ops': 'OPS-7' });
    expect(after.version).toBe(2);
    expect(eventsFromChange(modify(before, after))).toEqual([]);
  });

  it('keeps a concurrent workflow write and the ticket (conditional write, re-read on conflict)', async () => {
    const s = requestStages();
    await Promise.all([
      tickets.put(REQUEST_ID, 'jira-ops', 'OPS-7'),
      store.updateRequest(REQUEST_ID, (r) => ({ ...r, votes: s.voted.votes, lastChange: s.voted.lastChange })),
    ]);

    const request = await store.getRequest(REQUEST_ID);
    expect(request?.tickets).toEqual({ 'jira-ops': 'OPS-7' });
    expect(request?.votes).toEqual(s.voted.votes);
    expect(request?.version).toBe(3);
  });

  it('refuses a ticket for an unknown request', async () => {
    await expect(tickets.put('01UNKNOWN', 'jira-ops', 'OPS-1')).rejects.toBeInstanceOf(NotFoundError);
    expect(await tickets.get('01UNKNOWN', 'jira-ops')).toBeUndefined();
  });
});

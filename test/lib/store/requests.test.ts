import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, InvalidTransitionError, NotFoundError } from '#lib/domain/errors.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { requestKey } from '#lib/store/keys.ts';
import { Store, VersionConflictError } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { anIntegration, aRequest } from '../../support/fixtures.ts';

const BASE = Date.parse('2030-01-15T10:00:00.000Z');
const at = (minutes: number) => new Date(BASE + minutes * 60_000).toISOString();

let table: LocalTable;
let store: Store;

beforeEach(async () => {
  table = await startDynalite();
  store = new Store(table.doc, table.tableName, { now: () => new Date(BASE) });
});
afterEach(async () => {
  await table.stop();
});

async function rawItem(id: string) {
  const result = await table.doc.send(new GetCommand({ TableName: table.tableName, Key: requestKey(id) }));
  return result.Item;
}

describe('requests by id', () => {
  it('stores a request and reads it back unchanged, without key attributes', async () => {
    const request = aRequest();
    await store.createRequest(request);

    expect(await store.getRequest(request.id)).toEqual(request);
    const item = await rawItem(request.id);
    expect(item?.entity).toBe('request');
    expect(item?.status).toBe('PENDING');
  });

  it('returns undefined for an unknown id', async () => {
    expect(await store.getRequest('nope')).toBeUndefined();
  });

  it('refuses to create the same request twice', async () => {
    const request = aRequest();
    await store.createRequest(request);

    await expect(store.createRequest({ ...request, justification: 'again' })).rejects.toBeInstanceOf(ConflictError);
    expect((await store.getRequest(request.id))?.justification).toBe(request.justification);
  });
});

describe('getRequestWithIntegrations', () => {
  const change = { by: 'admin-1', channel: 'api' as const, action: 'integration.put', at: at(0) };
  const inputOf = (overrides: Parameters<typeof anIntegration>[0] = {}) => {
    const { id: _id, version: _v, lastChange: _c, deleted: _d, ...input } = anIntegration(overrides);
    return input;
  };

  it('reads the request and every named integration in one BatchGetItem, deleted and absent ones marked', async () => {
    const request = aRequest();
    await store.createRequest(request);
    const pg = await store.putIntegration('pg', inputOf(), change);
    await store.putIntegration('old', inputOf({ name: 'Old database' }), change);
    const old = await store.deleteIntegration('old', change);
    const sent: string[] = [];
    table.doc.middlewareStack.add(
      (next, context) => async (args) => {
        sent.push(context.commandName ?? 'unknown');
        return next(args);
      },
      { step: 'initialize', name: 'recordCommands' },
    );

    const read = await store.getRequestWithIntegrations(request.id, ['pg', 'old', 'missing', 'pg']);

    expect(sent).toEqual(['BatchGetItemCommand']);
    expect(read.request).toEqual(request);
    expect([...read.integrations.entries()]).toEqual([
      ['pg', pg],
      ['old', old],
      ['missing', undefined],
    ]);
    expect(read.integrations.get('old')?.deleted).toBe(true);
  });

  it('answers no request for an unknown id, still with the integrations', async () => {
    const pg = await store.putIntegration('pg', inputOf(), change);

    const read = await store.getRequestWithIntegrations('nope', ['pg']);

    expect(read.request).toBeUndefined();
    expect(read.integrations.get('pg')).toEqual(pg);
  });

  it('reads what the request is now, not an earlier version', async () => {
    const request = aRequest();
    await store.createRequest(request);
    const saved = await store.saveRequest({ ...request, status: 'APPROVED' }, 1);

    const read = await store.getRequestWithIntegrations(request.id, []);

    expect(read.request).toEqual(saved);
    expect(read.request?.version).toBe(2);
  });
});

describe('saveRequest', () => {
  it('stores the next version and returns what it stored', async () => {
    const request = aRequest();
    await store.createRequest(request);

    const saved = await store.saveRequest({ ...request, status: 'APPROVED' }, 1);

    expect(saved.version).toBe(2);
    expect(await store.getRequest(request.id)).toEqual(saved);
  });

  it('lets exactly one of ten concurrent saves with the same expected version win', async () => {
    const request = aRequest();
    await store.createRequest(request);

    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => store.saveRequest({ ...request, justification: `writer ${i}` }, 1)),
    );

    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(9);
    for (const r of lost) expect(r.reason).toBeInstanceOf(VersionConflictError);
    const stored = await store.getRequest(request.id);
    expect(stored?.version).toBe(2);
    expect(stored?.justification).toBe(won[0]?.status === 'fulfilled' ? won[0].value.justification : undefined);
  });

  it('removes the status index entry when the request reaches a terminal status', async () => {
    const request = aRequest();
    await store.createRequest(request);
    expect((await rawItem(request.id))?.gsi2pk).toMatch(/^STATUS#PENDING#[0-7]$/);
    expect((await store.listRequestsByStatus('PENDING', {})).items.map((r) => r.id)).toEqual([request.id]);

    await store.saveRequest({ ...request, status: 'REJECTED' }, 1);

    const item = await rawItem(request.id);
    expect(item?.gsi2pk).toBeUndefined();
    expect(item?.gsi2sk).toBeUndefined();
    expect((await store.listRequestsByStatus('PENDING', {})).items).toEqual([]);
  });

  it('moves the status index entry to the new status, keyed by its due time', async () => {
    const request = aRequest();
    await store.createRequest(request);

    await store.saveRequest({ ...request, status: 'ACTIVE', grantedAt: at(5), expiresAt: at(35) }, 1);

    expect((await rawItem(request.id))?.gsi2sk).toBe(`${at(35)}#${request.id}`);
    expect((await store.listRequestsByStatus('ACTIVE', {})).items.map((r) => r.id)).toEqual([request.id]);
    expect((await store.listRequestsByStatus('PENDING', {})).items).toEqual([]);
  });
});

describe('updateRequest', () => {
  it('applies the change and bumps the version', async () => {
    const request = aRequest();
    await store.createRequest(request);

    const result = await store.updateRequest(request.id, (current) => ({ ...current, status: 'CANCELLED' }));

    expect(result.changed).toBe(true);
    expect(result.request.status).toBe('CANCELLED');
    expect(result.request.version).toBe(2);
  });

  it('re-reads and re-runs mutate after losing a race, keeping the other writer’s change', async () => {
    const request = aRequest();
    await store.createRequest(request);
    const racing = new RacingStore(table.doc, table.tableName, 1);
    const seen: { version: number; justification: string | undefined }[] = [];

    const result = await racing.updateRequest(request.id, (current) => {
      seen.push({ version: current.version, justification: current.justification });
      return { ...current, votes: [...current.votes, vote] };
    });

    expect(seen).toEqual([
      { version: 1, justification: request.justification },
      { version: 2, justification: 'edited concurrently' },
    ]);
    expect(result.changed).toBe(true);
    expect(result.request.version).toBe(3);
    const stored = await store.getRequest(request.id);
    expect(stored?.justification).toBe('edited concurrently');
    expect(stored?.votes).toEqual([vote]);
  });

  it('returns changed false and writes nothing when mutate returns null', async () => {
    const request = aRequest();
    await store.createRequest(request);

    const result = await store.updateRequest(request.id, () => null);

    expect(result).toEqual({ request, changed: false });
    expect((await store.getRequest(request.id))?.version).toBe(1);
  });

  it('throws NotFoundError naming id for an unknown request', async () => {
    const error = await store.updateRequest('missing', (r) => r).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ field: 'id' });
  });

  it('propagates a domain error thrown by mutate and writes nothing', async () => {
    const request = aRequest();
    await store.createRequest(request);

    await expect(
      store.updateRequest(request.id, () => {
        throw new InvalidTransitionError('no', 'status');
      }),
    ).rejects.toBeInstanceOf(InvalidTransitionError);
    expect((await store.getRequest(request.id))?.version).toBe(1);
  });

  it('gives up with a ConflictError after the given number of lost races', async () => {
    const request = aRequest();
    await store.createRequest(request);
    const racing = new RacingStore(table.doc, table.tableName, Number.POSITIVE_INFINITY);
    let calls = 0;

    const error = await racing
      .updateRequest(
        request.id,
        (current) => {
          calls++;
          return { ...current, votes: [vote] };
        },
        { attempts: 3 },
      )
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConflictError);
    expect(error).not.toBeInstanceOf(VersionConflictError);
    expect(calls).toBe(3);
    expect((await store.getRequest(request.id))?.votes).toEqual([]);
  });
});

const vote = {
  by: 'approver-1',
  email: 'approver-1@example.com',
  vote: 'approve' as const,
  channel: 'api' as const,
  sets: [0],
  at: at(0),
};

/** A store where another writer changes the request just before each of our first `races` saves lands. */
class RacingStore extends Store {
  constructor(
    doc: LocalTable['doc'],
    tableName: string,
    private races: number,
  ) {
    super(doc, tableName);
  }

  override async saveRequest(next: AccessRequest, expectedVersion: number): Promise<AccessRequest> {
    if (this.races > 0) {
      this.races--;
      const current = await this.getRequest(next.id);
      if (current === undefined) throw new Error('racing writer found no request');
      await super.saveRequest({ ...current, justification: 'edited concurrently' }, current.version);
    }
    return super.saveRequest(next, expectedVersion);
  }
}

import { AsyncLocalStorage } from 'node:async_hooks';
import type { Key } from './keys.ts';
import type { Item } from './query.ts';

/**
 * Items one invocation reads ahead: an API route names the items it reads first (the request it acts on, the flow it
 * creates under), and the caller's directory entry is read together with them in one strongly consistent BatchGetItem
 * (lib/http/identity.ts). The first read of each such item by key (Store, DirectoryStore) takes it from here instead
 * of sending a GetItem; every later read of it goes to the table again.
 *
 * Each invocation has its own scope (AsyncLocalStorage: the local runtime may run several invocations of one function
 * at once in one process), and nothing outlives it. An item read ahead is what a GetItem at that moment would have
 * answered; every write is conditional on the version it was computed from, so a copy that went stale meanwhile costs
 * a retry, never a lost change. A route names only items it reads before it writes them.
 *
 * No SDK import here: every API function's chain (lib/http/chain.ts) opens the scope, public routes included.
 */
type Scope = Map<string, Item | null>;

const scopes = new AsyncLocalStorage<Scope>();

const slot = (tableName: string, key: Key) => `${tableName}\u0000${key.pk}\u0000${key.sk}`;

/** Runs `fn` with a read-ahead scope of its own. */
export function withReadAhead<T>(fn: () => Promise<T>): Promise<T> {
  return scopes.run(new Map(), fn);
}

/**
 * Reads `keys` with `batchRead` (one strongly consistent BatchGetItem: lib/store/query.ts batchGet) into the current
 * scope; an absent item is remembered as absent. Outside a scope: no read at all.
 */
export async function readAhead(
  batchRead: (keys: Key[]) => Promise<Item[]>,
  tableName: string,
  keys: readonly Key[],
): Promise<void> {
  const scope = scopes.getStore();
  if (scope === undefined || keys.length === 0) return;
  const items = await batchRead([...keys]);
  for (const key of keys) scope.set(slot(tableName, key), null);
  for (const item of items) {
    const { pk, sk } = item;
    if (typeof pk === 'string' && typeof sk === 'string') scope.set(slot(tableName, { pk, sk }), item);
  }
}

/**
 * The item read ahead for `key`, taken (a second call answers `undefined`): the item, `null` when it was read and
 * absent, `undefined` when nothing was read ahead for it (read the table).
 */
export function takeReadAhead(tableName: string, key: Key): Item | null | undefined {
  const scope = scopes.getStore();
  if (scope === undefined) return undefined;
  const name = slot(tableName, key);
  if (!scope.has(name)) return undefined;
  const item = scope.get(name) ?? null;
  scope.delete(name);
  return item;
}

/**
 * A value built on first use and kept: module-scope singletons for Lambda entries (SDK clients, stores), so a
 * function needs only the configuration (and IAM) of what it touches, and clients live across invocations. A module
 * of its own, so that importing it brings nothing else into a function's bundle.
 *
 * Locally every function runs in one process, so the local runtime installs a hook (lib/local/sandbox.ts) naming the
 * sandbox of the handler running now: the value is then built and kept once per function, from that function's own
 * environment, as in AWS. In Lambda no hook is installed: one property read, and one value per process.
 */
const SCOPE_HOOK = Symbol.for('stint.local.scope');
type Hooks = { readonly [SCOPE_HOOK]?: () => object | undefined };

export function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  let perScope: WeakMap<object, T> | undefined;
  return () => {
    const scope = (globalThis as Hooks)[SCOPE_HOOK]?.();
    if (scope === undefined) {
      value ??= make();
      return value;
    }
    perScope ??= new WeakMap();
    let scoped = perScope.get(scope);
    if (scoped === undefined) {
      scoped = make();
      perScope.set(scope, scoped);
    }
    return scoped;
  };
}

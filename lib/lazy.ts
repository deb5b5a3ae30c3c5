/**
 * A value built on first use and kept: module-scope singletons for Lambda entries (SDK clients, stores), so a
 * function needs only the configuration (and IAM) of what it touches, and clients live across invocations. A module
 * of its own, so that importing it brings nothing else into a function's bundle.
 */
export function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}

/**
 * aws-local-stepfunctions needs `Promise.withResolvers` (Node 22); Node 20 lacks it.
 * Loaded first by the local runtime and the test setup; Lambda runs Node 22 where it is native.
 */
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export {};

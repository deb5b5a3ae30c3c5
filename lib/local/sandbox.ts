import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * One function's execution environment, locally. Every handler runs in this one process (tests and the local IAM
 * check rely on that), yet in AWS each function has a sandbox of its own: its own `process.env` (exactly what the
 * template gives it, plus what Lambda sets) and its own module-scope singletons. So while a handler runs (its module's
 * import, its invocations and whatever they start), `process.env` reads, writes, `in` and `Object.keys` go to its
 * sandbox's variables, and `lazy()` / `config()` (lib/lazy.ts) keep one value per sandbox. Outside any handler (tests,
 * the runtime itself) `process.env` is the process's own.
 *
 * A function that lacks a variable in the template therefore fails locally as it would in AWS.
 */
export type Sandbox = {
  /** The function's logical id (its DynamoDB calls are checked as this function: lib/local/iam.ts). */
  readonly functionId: string;
  /** Its variables; a handler may change them, as it may in Lambda (no other function sees the change). */
  readonly env: Record<string, string>;
};

/** The hook lib/lazy.ts reads: the current sandbox (a key for its singletons), undefined outside any handler. */
export const SCOPE_HOOK = Symbol.for('stint.local.scope');

const current = new AsyncLocalStorage<Sandbox>();

/** A sandbox for `functionId` holding a copy of `env`. */
export function createSandbox(functionId: string, env: Readonly<Record<string, string>>): Sandbox {
  return { functionId, env: Object.assign(Object.create(null) as Record<string, string>, env) };
}

/** Runs `work` (and everything it starts) in `sandbox`. */
export function inSandbox<R>(sandbox: Sandbox, work: () => R): R {
  installSandboxes();
  return current.run(sandbox, work);
}

/** The sandbox of the handler running now, undefined outside any handler. */
export function currentSandbox(): Sandbox | undefined {
  return current.getStore();
}

const PROXIED = Symbol('stint.local.sandboxed-env');
type Env = Record<string | symbol, unknown>;

/**
 * Installs the `process.env` view and the scope hook, once per process; again when something (a test) has replaced
 * `process.env` since, the replacement then being the process's own environment outside handlers.
 */
export function installSandboxes(): void {
  const hooks = globalThis as { [SCOPE_HOOK]?: () => object | undefined };
  hooks[SCOPE_HOOK] ??= () => current.getStore();
  const existing: unknown = process.env;
  if (typeof existing === 'object' && existing !== null && PROXIED in existing) return;
  process.env = sandboxedEnv(process.env);
}

function sandboxedEnv(outside: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const own = outside as Env;
  const store = (): Env => current.getStore()?.env ?? own;
  const target = Object.create(null) as Env;
  const handler: ProxyHandler<Env> = {
    get: (_t, key) => (key === PROXIED ? true : Reflect.get(store(), key)),
    has: (_t, key) => key === PROXIED || Reflect.has(store(), key),
    set: (_t, key, value) => {
      const env = store();
      // process.env keeps strings only: Node converts what is assigned, and so does a sandbox.
      if (env === own) return Reflect.set(own, key, value);
      if (typeof key === 'string') env[key] = String(value);
      return true;
    },
    deleteProperty: (_t, key) => Reflect.deleteProperty(store(), key),
    ownKeys: () => Reflect.ownKeys(store()),
    getOwnPropertyDescriptor: (_t, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(store(), key);
      // Reported as configurable: the proxy's target holds nothing, so nothing may be reported as fixed.
      return descriptor === undefined ? undefined : { ...descriptor, configurable: true };
    },
    defineProperty: (_t, key, descriptor) => {
      if (typeof key !== 'string' || !('value' in descriptor)) return false;
      return handler.set?.(target, key, descriptor.value, target) ?? false;
    },
  };
  return new Proxy(target, handler) as NodeJS.ProcessEnv;
}

import { randomUUID } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { asFunction } from './iam.ts';
import type { LocalTemplate } from './template.ts';

/**
 * Local Lambda: runs a function's `stint:entry` TypeScript module (the runtime runs under tsx, so a dynamic
 * import of .ts works) in this process. The handler code is the same as in AWS.
 */ /** Variables the Node.js process itself reads when it starts (NODE_OPTIONS, NODE_EXTRA_CA_CERTS…). */
const NODE_PROCESS_VARIABLES = new Set(['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS']);

export type LocalFunction = {
  readonly id: string;
  readonly arn: string;
  /** Repo-relative TypeScript entry exporting `handler`. */
  readonly entry: string;
  readonly timeoutMs: number;
  readonly memoryMb: number;
  readonly environment: Readonly<Record<string, string>>;
};

type Handler = (event: unknown, context: Context) => unknown;
const isHandler = (v: unknown): v is Handler => typeof v === 'function';
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

export class LambdaError extends Error {
  override readonly name = 'LambdaError';
}

/**
 * The invocation ran past the function's configured timeout. Lambda reports it as an unhandled function error
 * whose `errorType` is `Sandbox.Timedout` and whose message is `RequestId: <id> Error: Task timed out after
 * <n>.00 seconds`; this error carries the same name and message.
 */
export class LambdaTimeoutError extends Error {
  override readonly name = 'Sandbox.Timedout';
}

export type LambdaStats = {
  invocations: Record<string, number>;
  /** Milliseconds the first import of each function's module took (cold start). */
  coldImportMs: Record<string, number>;
  /** Milliseconds spent in each function's handler, summed over its invocations (what Lambda bills as duration). */
  durationMs: Record<string, number>;
};

export class LocalLambda {
  readonly #functions = new Map<string, LocalFunction>();
  readonly #handlers = new Map<string, Promise<Handler>>();
  readonly #invocations: Record<string, number> = {};
  readonly #coldImportMs: Record<string, number> = {};
  readonly #durationMs: Record<string, number> = {};

  constructor(
    private readonly template: LocalTemplate,
    private readonly repoRoot: string,
  ) {
    for (const [id, res] of template.ofType('AWS::Lambda::Function')) {
      const entry = res.Metadata?.['stint:entry'];
      // Functions without `stint:entry` (CDK's own custom-resource providers…) have no local counterpart.
      if (typeof entry !== 'string') continue;
      const env = template.resolve(res.Properties.Environment);
      const vars = isRecord(env) && isRecord(env.Variables) ? env.Variables : {};
      const environment: Record<string, string> = {};
      for (const [k, v] of Object.entries(vars)) environment[k] = String(v);
      this.#functions.set(id, {
        id,
        arn: template.functionArn(id),
        entry,
        timeoutMs: (typeof res.Properties.Timeout === 'number' ? res.Properties.Timeout : 3) * 1000,
        memoryMb: typeof res.Properties.MemorySize === 'number' ? res.Properties.MemorySize : 128,
        environment,
      });
    }
  }

  functions(): LocalFunction[] {
    return [...this.#functions.values()];
  }

  /** The function a logical id, function name, ARN or `stint:entry` path refers to. */
  /** Whether `ref` names one of the template's functions. */
  has(ref: string): boolean {
    try {
      this.find(ref);
      return true;
    } catch {
      return false;
    }
  }

  find(ref: string): LocalFunction {
    const id = this.template.functionId(ref);
    const fn =
      (id === undefined ? undefined : this.#functions.get(id)) ??
      this.functions().find((f) => f.entry === ref || f.entry === `${ref}.ts`);
    if (fn === undefined) throw new LambdaError(`No local function for ${ref} (does it have stint:entry metadata?)`);
    return fn;
  }

  /**
   * Every function's environment merged into one, for process.env: handlers parse their config once at cold
   * start and all of them share this process. Two functions giving one variable different values cannot both be
   * right in one process, so that fails loudly.
   */
  mergedEnvironment(): Record<string, string> {
    const merged: Record<string, string> = {};
    const owner: Record<string, string> = {};
    for (const fn of this.#functions.values()) {
      for (const [k, v] of Object.entries(fn.environment)) {
        // Node reads these at process start only: locally they would do nothing but leak into child processes.
        if (NODE_PROCESS_VARIABLES.has(k)) continue;
        const existing = merged[k];
        if (existing !== undefined && existing !== v) {
          throw new LambdaError(
            `Environment conflict: ${owner[k]} sets ${k}=${existing} but ${fn.id} sets ${k}=${v}; ` +
              'the local runtime runs every function in one process and needs one value per variable',
          );
        }
        merged[k] = v;
        owner[k] = fn.id;
      }
    }
    return merged;
  }

  async invoke(ref: string, event: unknown): Promise<unknown> {
    const fn = this.find(ref);
    const handler = await this.#load(fn);
    this.#invocations[fn.id] = (this.#invocations[fn.id] ?? 0) + 1;
    const deadline = Date.now() + fn.timeoutMs;
    const awsRequestId = randomUUID();
    const context: Context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: fn.id,
      functionVersion: '$LATEST',
      invokedFunctionArn: fn.arn,
      memoryLimitInMB: String(fn.memoryMb),
      awsRequestId,
      logGroupName: `/aws/lambda/${fn.id}`,
      logStreamName: 'local',
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: unsupported,
      fail: unsupported,
      succeed: unsupported,
    };
    // The handler cannot be stopped in-process: past the timeout the invocation fails as in AWS, the handler keeps
    // running in the background, and whatever it returns or throws later is discarded.
    const started = performance.now();
    const running = new Promise<unknown>((resolve) => resolve(handler(event, context)));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        running.catch(() => undefined);
        reject(
          new LambdaTimeoutError(
            `RequestId: ${awsRequestId} Error: Task timed out after ${(fn.timeoutMs / 1000).toFixed(2)} seconds`,
          ),
        );
      }, fn.timeoutMs);
    });
    try {
      return await Promise.race([running, timedOut]);
    } catch (err) {
      // Keep the handler's error (and its name) so Step Functions Retry/Catch and callers see what AWS shows.
      if (err instanceof Error) throw err;
      throw new LambdaError(`${fn.id} threw a non-Error value: ${String(err)}`);
    } finally {
      clearTimeout(timer);
      this.#durationMs[fn.id] = (this.#durationMs[fn.id] ?? 0) + (performance.now() - started);
    }
  }

  /**
   * Imports every function's module now (startup), so a broken entry fails at start, not on first call. One at
   * a time, so each cold-import figure is that module's own (modules shared with earlier ones are already loaded).
   */
  async loadAll(): Promise<void> {
    for (const fn of this.functions()) await this.#load(fn);
  }

  stats(): LambdaStats {
    return {
      invocations: { ...this.#invocations },
      coldImportMs: { ...this.#coldImportMs },
      durationMs: { ...this.#durationMs },
    };
  }

  #load(fn: LocalFunction): Promise<Handler> {
    let loading = this.#handlers.get(fn.id);
    if (loading === undefined) {
      loading = (async () => {
        const started = performance.now();
        const mod: unknown = await import(pathToFileURL(resolvePath(this.repoRoot, fn.entry)).href);
        this.#coldImportMs[fn.id] = Math.round(performance.now() - started);
        const handler = isRecord(mod) ? mod.handler : undefined;
        if (!isHandler(handler)) throw new LambdaError(`${fn.entry} does not export a handler function`);
        return asFunction(fn.id, handler); // its AWS calls are made, and checked, as this function (iam.ts)
      })();
      this.#handlers.set(fn.id, loading);
    }
    return loading;
  }
}

function unsupported(): never {
  throw new LambdaError('context.done/fail/succeed are not supported: return or throw from an async handler');
}

import { randomUUID } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { createSandbox, inSandbox, type Sandbox } from './sandbox.ts';
import type { LocalTemplate } from './template.ts';

/**
 * Local Lambda: runs a function's `stint:entry` TypeScript module (the runtime runs under tsx, so a dynamic
 * import of .ts works) in this process, in a sandbox of its own (lib/local/sandbox.ts): its module's import and its
 * invocations see exactly its environment. The handler code is the same as in AWS.
 */

/** Variables the Node.js process itself reads when it starts (NODE_OPTIONS, NODE_EXTRA_CA_CERTS…): not locally. */
const NODE_PROCESS_VARIABLES = new Set(['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS']);

/**
 * What a Lambda sandbox has besides the function's own variables and which this machine's values stand in for: the
 * search path, home, time zone, locale and temporary folder, and the log level knobs of `npm start` and the tests.
 */
const PROCESS_VARIABLES = ['PATH', 'HOME', 'TZ', 'LANG', 'TMPDIR', 'POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_DEV'];

export type LocalLambdaOptions = {
  /**
   * Variables every function has, after the ones Lambda sets (the runtime's endpoints, region and credentials, as
   * Lambda gives every function its region and role credentials).
   */
  base?: Readonly<Record<string, string>>;
  /**
   * Values that replace a template variable in the functions whose template sets it, and only there (what the template
   * names but does not exist locally, such as the Cognito issuer); `undefined` removes the variable.
   */
  replace?: Readonly<Record<string, string | undefined>>;
  /**
   * Local stand-ins (`LocalRuntimeOptions.env`): a variable some function's template sets is replaced in those
   * functions only; any other one (the value an `env:` secret reference names, a stand-in's endpoint) is given to
   * every function, as what AWS would resolve for it.
   */
  env?: Readonly<Record<string, string>>;
};

export type LocalFunction = {
  readonly id: string;
  readonly arn: string;
  /** Repo-relative TypeScript entry exporting `handler`. */
  readonly entry: string;
  readonly timeoutMs: number;
  readonly memoryMb: number;
  /** The variables the template gives the function (resolved). */
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
  readonly #sandboxes = new Map<string, Sandbox>();

  constructor(
    private readonly template: LocalTemplate,
    private readonly repoRoot: string,
    options: LocalLambdaOptions = {},
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
    const templateSets = new Set([...this.#functions.values()].flatMap((f) => Object.keys(f.environment)));
    const machine: Record<string, string> = {};
    for (const name of PROCESS_VARIABLES) {
      const value = process.env[name];
      if (value !== undefined) machine[name] = value;
    }
    for (const fn of this.#functions.values()) {
      const env: Record<string, string> = {
        ...machine,
        // What Lambda sets in every function's sandbox (the runtime reference's reserved variables).
        AWS_LAMBDA_FUNCTION_NAME: fn.id,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        ...options.base,
      };
      for (const [k, v] of Object.entries(fn.environment)) if (!NODE_PROCESS_VARIABLES.has(k)) env[k] = v;
      for (const [k, v] of Object.entries({ ...options.replace })) {
        if (!(k in fn.environment)) continue;
        if (v === undefined) delete env[k];
        else env[k] = v;
      }
      for (const [k, v] of Object.entries({ ...options.env })) {
        if (!templateSets.has(k) || k in fn.environment) env[k] = v;
      }
      this.#sandboxes.set(fn.id, createSandbox(fn.id, env));
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

  /** What the function sees as `process.env` when it runs: a copy of its sandbox's variables now. */
  environmentOf(ref: string): Record<string, string> {
    return { ...this.#sandbox(this.find(ref)).env };
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
    const sandbox = this.#sandbox(fn);
    const running = new Promise<unknown>((resolve) => resolve(inSandbox(sandbox, () => handler(event, context))));
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

  #sandbox(fn: LocalFunction): Sandbox {
    const sandbox = this.#sandboxes.get(fn.id);
    if (sandbox === undefined) throw new LambdaError(`No sandbox for ${fn.id}`);
    return sandbox;
  }

  #load(fn: LocalFunction): Promise<Handler> {
    let loading = this.#handlers.get(fn.id);
    if (loading === undefined) {
      loading = (async () => {
        const started = performance.now();
        // Module-scope code (cold start) runs in the function's sandbox too, seeing its own environment.
        const url = pathToFileURL(resolvePath(this.repoRoot, fn.entry)).href;
        const mod: unknown = await inSandbox(this.#sandbox(fn), () => import(url));
        this.#coldImportMs[fn.id] = Math.round(performance.now() - started);
        const handler = isRecord(mod) ? mod.handler : undefined;
        if (!isHandler(handler)) throw new LambdaError(`${fn.entry} does not export a handler function`);
        return handler;
      })();
      this.#handlers.set(fn.id, loading);
    }
    return loading;
  }
}

function unsupported(): never {
  throw new LambdaError('context.done/fail/succeed are not supported: return or throw from an async handler');
}

import './polyfills.ts';
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import * as z from 'zod';
import { type AwsResponse, type AwsService, awsError, awsJson } from './http.ts';
import { LambdaTimeoutError } from './lambda.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION, type LocalTemplate } from './template.ts';

/**
 * Step Functions, locally: aws-local-stepfunctions runs the template's definition; every Task state runs
 * through a local handler (keyed by state name) that invokes the local Lambda:
 * - `arn:aws:states:::lambda:invoke` calls the function with Parameters.Payload and returns AWS's
 *   `{ Payload, StatusCode, … }` shape, so ResultSelector/OutputPath behave as in AWS;
 * - `…lambda:invoke.waitForTaskToken` mints a token (put where the definition reads `$$.Task.Token`),
 *   invokes the function and waits in the token registry for SendTaskSuccess/SendTaskFailure;
 * - a plain Lambda ARN as Resource calls the function with the effective input.
 * Handler errors keep their name, so Retry/Catch on e.g. `GrantPermanentError` work as in AWS; a function that runs
 * past its timeout fails the task with `Lambda.Unknown`, as Step Functions reports it.
 *
 * Task timeouts (TimeoutSeconds, TimeoutSecondsPath) are enforced here, not by the library: the library
 * resolves TimeoutSecondsPath against the input after Parameters (AWS uses the state input) and its timers
 * overflow past 2^31 ms. TimeoutSecondsPath is resolved against the state input by injecting it
 * into Parameters (which are evaluated against that same input); timers are chunked. A timeout rejects with
 * `States.Timeout`. Difference from AWS: a `States.TaskFailed` catcher also catches these local timeouts.
 *
 * Executions live in memory only (a restart resumes from DynamoDB: the table is the source of truth).
 */
const JSON_10 = 'application/x-amz-json-1.0';
const TOKEN_PLACEHOLDER = '__stint_local_task_token__';
const TIMEOUT_PARAM = '__stintTimeoutSeconds';
/** The library's own task timer is pushed out of the way (its maximum before Node's timer overflows). */
const LIBRARY_TIMEOUT_SECONDS = 2_147_483;
const MAX_TIMER_MS = 2 ** 31 - 1;
const TOKEN_PREFIX = 'stint-local-';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An error whose name Step Functions Retry/Catch match on (`ErrorEquals`). */
export function namedError(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

/** setTimeout for any duration: waits over ~24.8 days are chained (Node's timer would fire at once). */
function longTimeout(ms: number, fn: () => void): { clear(): void } {
  let handle: NodeJS.Timeout;
  const deadline = Date.now() + ms;
  const arm = () => {
    const left = deadline - Date.now();
    if (left <= 0) return fn();
    handle = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
  };
  handle = setTimeout(arm, Math.min(Math.max(ms, 0), MAX_TIMER_MS));
  return { clear: () => clearTimeout(handle) };
}

type PendingTask = {
  execution: string;
  resolve: (output: Json) => void;
  reject: (error: Error) => void;
  timer: { clear(): void } | undefined;
};

export class TaskTokenError extends Error {
  constructor(
    readonly code: 'InvalidToken' | 'TaskDoesNotExist' | 'TaskTimedOut',
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

/** Task tokens of `.waitForTaskToken` states: who is waiting, and for how long. */
export class TaskTokenRegistry {
  readonly #pending = new Map<string, PendingTask>();
  readonly #finished = new Map<string, 'completed' | 'timed-out' | 'cancelled'>();

  /** Mints a token; the promise settles on success, failure, or `States.Timeout` after `timeoutMs`. */
  mint(execution: string, timeoutMs: number | undefined): { token: string; promise: Promise<Json> } {
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const promise = new Promise<Json>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : longTimeout(timeoutMs, () => {
              this.#finish(token, 'timed-out');
              reject(namedError('States.Timeout', 'Task timed out'));
            });
      this.#pending.set(token, { execution, resolve, reject, timer });
    });
    return { token, promise };
  }

  succeed(token: string, output: Json): void {
    this.#take(token).resolve(output);
  }

  fail(token: string, error: string, cause: string): void {
    this.#take(token).reject(namedError(error, cause));
  }

  heartbeat(token: string): void {
    this.#get(token);
  }

  /** Forgets the tokens of an execution that stopped (they answer TaskDoesNotExist from now on). */
  cancel(execution: string): void {
    for (const [token, p] of this.#pending) if (p.execution === execution) this.#finish(token, 'cancelled');
  }

  /** Cancels one token (its Lambda failed before anyone could use it). */
  drop(token: string): void {
    this.#finish(token, 'cancelled');
  }

  pendingCount(): number {
    return this.#pending.size;
  }

  clear(): void {
    for (const token of [...this.#pending.keys()]) this.#finish(token, 'cancelled');
  }

  #get(token: string): PendingTask {
    const p = this.#pending.get(token);
    if (p !== undefined) return p;
    if (!token.startsWith(TOKEN_PREFIX)) throw new TaskTokenError('InvalidToken', 'Invalid Token');
    if (this.#finished.get(token) === 'timed-out') throw new TaskTokenError('TaskTimedOut', 'Task Timed Out');
    throw new TaskTokenError('TaskDoesNotExist', 'Task does not exist anymore');
  }

  #take(token: string): PendingTask {
    const p = this.#get(token);
    this.#finish(token, 'completed');
    return p;
  }

  #finish(token: string, how: 'completed' | 'timed-out' | 'cancelled'): void {
    this.#pending.get(token)?.timer?.clear();
    this.#pending.delete(token);
    this.#finished.set(token, how);
  }
}

type TaskKind = 'invoke' | 'wait' | 'lambda-arn';
type TaskSpec = {
  kind: TaskKind;
  resource: string;
  timeoutSeconds: number | undefined;
  /** TimeoutSecondsPath when there are no Parameters to carry it: resolved against the effective input. */
  timeoutPath: string | undefined;
};

/** Rewrites Task states for local handlers and collects what each one does. */
function prepare(definition: unknown, specs: Map<string, TaskSpec>): void {
  if (!isRecord(definition) || !isRecord(definition.States)) throw new Error('State machine definition has no States');
  for (const [name, state] of Object.entries(definition.States)) {
    if (!isRecord(state)) continue;
    for (const b of Array.isArray(state.Branches) ? state.Branches : []) prepare(b, specs);
    if (isRecord(state.Iterator)) prepare(state.Iterator, specs);
    if (isRecord(state.ItemProcessor)) prepare(state.ItemProcessor, specs);
    if (state.Type !== 'Task') continue;
    const resource = String(state.Resource);
    const kind: TaskKind | undefined = /^arn:aws:states:::lambda:invoke$/.test(resource)
      ? 'invoke'
      : /^arn:aws:states:::lambda:invoke\.waitForTaskToken$/.test(resource)
        ? 'wait'
        : /^arn:aws:lambda:/.test(resource)
          ? 'lambda-arn'
          : undefined;
    if (kind === undefined) throw new Error(`Task ${name}: resource ${resource} is not supported by the local runtime`);
    if (specs.has(name)) throw new Error(`Task state name ${name} is used twice; local handlers are keyed by name`);
    const path = typeof state.TimeoutSecondsPath === 'string' ? state.TimeoutSecondsPath : undefined;
    let timeoutPath: string | undefined;
    if (path !== undefined) {
      if (isRecord(state.Parameters)) state.Parameters[`${TIMEOUT_PARAM}.$`] = path;
      else timeoutPath = path;
    }
    specs.set(name, {
      kind,
      resource,
      timeoutSeconds: typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : undefined,
      timeoutPath,
    });
    delete state.TimeoutSecondsPath;
    delete state.HeartbeatSeconds;
    delete state.HeartbeatSecondsPath;
    state.TimeoutSeconds = LIBRARY_TIMEOUT_SECONDS;
  }
}

/** A JSONPath reference path (`$.a.b`) into a value. */
function atPath(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path
    .replace(/^\$\.?/, '')
    .split('.')
    .filter((k) => k !== '')) {
    current = isRecord(current) ? current[key] : undefined;
  }
  return current;
}

function replaceToken(value: unknown, token: string): unknown {
  if (value === TOKEN_PLACEHOLDER) return token;
  if (Array.isArray(value)) return value.map((v) => replaceToken(v, token));
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceToken(v, token)]));
  return value;
}

const JsonValue: z.ZodType<Json> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(JsonValue), z.record(z.string(), JsonValue)]),
);
const toJson = (v: unknown): Json => {
  const parsed = JsonValue.safeParse(v === undefined ? null : JSON.parse(JSON.stringify(v)));
  if (!parsed.success) throw namedError('States.Runtime', 'A Lambda result is not JSON');
  return parsed.data;
};

type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
type Execution = {
  arn: string;
  machineArn: string;
  name: string;
  input: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  abort: () => void;
  done: Promise<void>;
};

type Machine = { arn: string; id: string; definition: StateMachineDefinition; specs: Map<string, TaskSpec> };

const StartExecution = z.object({
  stateMachineArn: z.string(),
  name: z.string().min(1).max(80).optional(),
  input: z.string().optional(),
});
const ByExecution = z.object({ executionArn: z.string() });
const StopExecution = ByExecution.extend({ error: z.string().optional(), cause: z.string().optional() });
const SendTaskSuccess = z.object({ taskToken: z.string(), output: z.string() });
const SendTaskFailure = z.object({ taskToken: z.string(), error: z.string().optional(), cause: z.string().optional() });
const SendTaskHeartbeat = z.object({ taskToken: z.string() });

export type LocalStepFunctionsOptions = {
  invoke: (functionRef: string, event: unknown) => Promise<unknown>;
  onError?: (message: string) => void;
};

export class LocalStepFunctions implements AwsService {
  readonly #machines = new Map<string, Machine>();
  readonly #executions = new Map<string, Execution>();
  readonly tokens = new TaskTokenRegistry();
  #transitions = 0;
  /** API calls that succeeded, by operation (a SendTaskSuccess on a used token is not counted). */
  #accepted: Record<string, number> = {};

  constructor(
    template: LocalTemplate,
    private readonly options: LocalStepFunctionsOptions,
  ) {
    for (const [id, res] of template.ofType('AWS::StepFunctions::StateMachine')) {
      const p = res.Properties;
      const text =
        p.DefinitionString !== undefined
          ? template.resolveString(p.DefinitionString, `${id}.DefinitionString`)
          : undefined;
      const raw: unknown = text !== undefined ? JSON.parse(text) : template.resolve(p.Definition);
      let substituted: unknown = raw;
      if (isRecord(p.DefinitionSubstitutions)) {
        const subs = template.resolve(p.DefinitionSubstitutions);
        let s = JSON.stringify(raw);
        if (isRecord(subs)) for (const [k, v] of Object.entries(subs)) s = s.replaceAll(`\${${k}}`, String(v));
        substituted = JSON.parse(s);
      }
      const specs = new Map<string, TaskSpec>();
      prepare(substituted, specs);
      const definition = z.custom<StateMachineDefinition>(isRecord).parse(substituted);
      // Validates the definition now, so a broken one fails at startup.
      new StateMachine(definition, { validationOptions: { checkPaths: true, checkArn: true } });
      const arn = template.stateMachineArn(id);
      this.#machines.set(arn, { arn, id, definition, specs });
    }
  }

  stateMachines(): string[] {
    return [...this.#machines.keys()];
  }

  /** State transitions (states entered) across all executions. */
  stateTransitions(): number {
    return this.#transitions;
  }

  /** Successful API calls by operation (StartExecution, SendTaskSuccess, …). */
  apiCalls(): Record<string, number> {
    return { ...this.#accepted };
  }

  async handle(target: string, body: Buffer, _headers: IncomingHttpHeaders): Promise<AwsResponse> {
    let json: unknown;
    try {
      json = JSON.parse(body.toString() || '{}');
    } catch {
      return awsError(JSON_10, 'SerializationException', 'Request body is not JSON');
    }
    const operation = target.split('.')[1] ?? '';
    try {
      const result = awsJson(JSON_10, this.#dispatch(operation, json));
      this.#accepted[operation] = (this.#accepted[operation] ?? 0) + 1;
      return result;
    } catch (err) {
      if (err instanceof z.ZodError) return awsError(JSON_10, 'ValidationException', err.message);
      if (err instanceof TaskTokenError) return awsError(JSON_10, err.code, err.message);
      if (err instanceof SfnApiError) return awsError(JSON_10, err.code, err.message);
      throw err;
    }
  }

  startExecution(
    machineArn: string,
    name: string | undefined,
    input: string | undefined,
  ): { executionArn: string; startDate: Date } {
    const machine = this.#machines.get(machineArn);
    if (machine === undefined)
      throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${machineArn}'`);
    const inputText = input ?? '{}';
    let inputJson: Json;
    try {
      inputJson = toJson(JSON.parse(inputText));
    } catch {
      throw new SfnApiError('InvalidExecutionInput', 'Invalid execution input: not JSON');
    }
    const execName = name ?? randomUUID();
    const arn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${machine.id}:${execName}`;
    const existing = this.#executions.get(arn);
    if (existing !== undefined) {
      // Standard workflows: same name and input while running → the same execution; otherwise an error.
      if (existing.status === 'RUNNING' && existing.input === inputText) {
        return { executionArn: arn, startDate: existing.startDate };
      }
      throw new SfnApiError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
    }
    const run = new StateMachine(machine.definition, {
      validationOptions: { noValidate: true },
    }).run(inputJson, {
      overrides: { taskResourceLocalHandlers: this.#handlers(machine, arn) },
      context: {
        Execution: { Id: arn, Name: execName },
        StateMachine: { Id: machine.arn, Name: machine.id },
        Task: { Token: TOKEN_PLACEHOLDER },
      },
      noThrowOnAbort: true,
    });
    const execution: Execution = {
      arn,
      machineArn: machine.arn,
      name: execName,
      input: inputText,
      status: 'RUNNING',
      startDate: new Date(),
      abort: run.abort,
      done: Promise.resolve(),
    };
    void (async () => {
      for await (const e of run.eventLogs) if (e.type === 'StateEntered') this.#transitions += 1;
    })();
    execution.done = run.result.then(
      (output) => {
        if (execution.status !== 'RUNNING') return;
        execution.status = 'SUCCEEDED';
        execution.output = JSON.stringify(output);
        execution.stopDate = new Date();
      },
      (err: unknown) => {
        if (execution.status !== 'RUNNING') return;
        const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
        execution.status = err instanceof Error && err.name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : 'FAILED';
        execution.error = execution.status === 'TIMED_OUT' ? 'States.Timeout' : (cause?.name ?? 'States.Runtime');
        execution.cause = cause?.message ?? (err instanceof Error ? err.message : String(err));
        execution.stopDate = new Date();
        this.options.onError?.(`execution ${execName} ${execution.status}: ${execution.error}`);
      },
    );
    void execution.done.finally(() => this.tokens.cancel(arn));
    this.#executions.set(arn, execution);
    return { executionArn: arn, startDate: execution.startDate };
  }

  describeExecution(arn: string) {
    const e = this.#executions.get(arn);
    if (e === undefined) throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return {
      executionArn: e.arn,
      stateMachineArn: e.machineArn,
      name: e.name,
      status: e.status,
      startDate: e.startDate.getTime() / 1000,
      ...(e.stopDate ? { stopDate: e.stopDate.getTime() / 1000 } : {}),
      input: e.input,
      inputDetails: { included: true },
      ...(e.output !== undefined ? { output: e.output, outputDetails: { included: true } } : {}),
      ...(e.error !== undefined ? { error: e.error } : {}),
      ...(e.cause !== undefined ? { cause: e.cause } : {}),
    };
  }

  /** Resolves when the execution has finished (tests). */
  async waitForExecution(arn: string): Promise<ReturnType<LocalStepFunctions['describeExecution']>> {
    const e = this.#executions.get(arn);
    if (e === undefined) throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    await e.done;
    return this.describeExecution(arn);
  }

  stopExecution(arn: string, error?: string, cause?: string): { stopDate: number } {
    const e = this.#executions.get(arn);
    if (e === undefined) throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    if (e.status === 'RUNNING') {
      e.status = 'ABORTED';
      e.stopDate = new Date();
      if (error !== undefined) e.error = error;
      if (cause !== undefined) e.cause = cause;
      e.abort();
      this.tokens.cancel(arn);
    }
    return { stopDate: (e.stopDate ?? new Date()).getTime() / 1000 };
  }

  /** Aborts every running execution (in memory only; a restart resumes from DynamoDB). */
  stop(): void {
    for (const e of this.#executions.values()) if (e.status === 'RUNNING') this.stopExecution(e.arn, 'Local.Shutdown');
    this.tokens.clear();
  }

  #dispatch(operation: string, json: unknown): unknown {
    switch (operation) {
      case 'StartExecution': {
        const r = StartExecution.parse(json);
        const out = this.startExecution(r.stateMachineArn, r.name, r.input);
        return { executionArn: out.executionArn, startDate: out.startDate.getTime() / 1000 };
      }
      case 'DescribeExecution':
        return this.describeExecution(ByExecution.parse(json).executionArn);
      case 'StopExecution': {
        const r = StopExecution.parse(json);
        return this.stopExecution(r.executionArn, r.error, r.cause);
      }
      case 'SendTaskSuccess': {
        const r = SendTaskSuccess.parse(json);
        let output: Json;
        try {
          output = toJson(JSON.parse(r.output));
        } catch {
          throw new SfnApiError('InvalidOutput', 'Invalid output: not JSON');
        }
        this.tokens.succeed(r.taskToken, output);
        return {};
      }
      case 'SendTaskFailure': {
        const r = SendTaskFailure.parse(json);
        this.tokens.fail(r.taskToken, r.error ?? '', r.cause ?? '');
        return {};
      }
      case 'SendTaskHeartbeat':
        this.tokens.heartbeat(SendTaskHeartbeat.parse(json).taskToken);
        return {};
      default:
        throw new SfnApiError('UnknownOperationException', `${operation} is not supported by the local runtime`);
    }
  }

  #handlers(machine: Machine, executionArn: string): Record<string, (input: Json) => Promise<Json>> {
    const handlers: Record<string, (input: Json) => Promise<Json>> = {};
    for (const [name, spec] of machine.specs) {
      handlers[name] = async (rawInput) => {
        const input = isRecord(rawInput) ? { ...rawInput } : rawInput;
        let seconds = spec.timeoutSeconds;
        if (isRecord(input) && TIMEOUT_PARAM in input) {
          seconds = Number(input[TIMEOUT_PARAM]);
          delete input[TIMEOUT_PARAM];
        } else if (spec.timeoutPath !== undefined) {
          seconds = Number(atPath(input, spec.timeoutPath));
        }
        if (seconds !== undefined && !(Number.isInteger(seconds) && seconds >= 1)) {
          throw namedError('States.Runtime', `Task ${name}: TimeoutSecondsPath does not resolve to a positive integer`);
        }
        const timeoutMs = seconds === undefined ? undefined : seconds * 1000;
        if (spec.kind === 'wait') return this.#waitForToken(executionArn, name, input, timeoutMs);
        const call =
          spec.kind === 'invoke'
            ? this.#invoke(name, input).then((payload) => ({
                ExecutedVersion: '$LATEST',
                Payload: payload,
                SdkHttpMetadata: { HttpStatusCode: 200 },
                SdkResponseMetadata: { RequestId: randomUUID() },
                StatusCode: 200,
              }))
            : this.#invokeFunction(spec.resource, input);
        return toJson(await withTimeout(call, timeoutMs));
      };
    }
    return handlers;
  }

  async #waitForToken(
    executionArn: string,
    state: string,
    input: unknown,
    timeoutMs: number | undefined,
  ): Promise<Json> {
    const { token, promise } = this.tokens.mint(executionArn, timeoutMs);
    // The token may time out (or be answered) while the Lambda still runs: mark the promise handled now so a
    // rejection in that window is not an unhandled rejection; the caller still receives it from `return promise`.
    promise.catch(() => undefined);
    try {
      await this.#invoke(state, replaceToken(input, token));
    } catch (err) {
      this.tokens.drop(token);
      throw err;
    }
    return promise;
  }

  /** `lambda:invoke` Parameters: `{ FunctionName, Payload }`. */
  #invoke(state: string, input: unknown): Promise<unknown> {
    const fn = isRecord(input) ? input.FunctionName : undefined;
    if (typeof fn !== 'string') throw namedError('States.Runtime', `Task ${state}: Parameters.FunctionName is missing`);
    return this.#invokeFunction(fn, isRecord(input) ? (input.Payload ?? null) : null);
  }

  async #invokeFunction(fn: string, payload: unknown): Promise<unknown> {
    try {
      return await this.options.invoke(fn, payload);
    } catch (err) {
      if (!(err instanceof Error)) throw namedError('Lambda.Unknown', String(err));
      const cause = JSON.stringify({ errorType: err.name, errorMessage: err.message });
      // Step Functions reports unhandled Lambda errors, function timeouts included, as Lambda.Unknown
      // (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
      if (err instanceof LambdaTimeoutError) throw namedError('Lambda.Unknown', cause);
      // As Step Functions reports a function error: Error = errorType, Cause = the Lambda error JSON.
      throw namedError(err.name, cause);
    }
  }
}

class SfnApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number | undefined): Promise<T> {
  if (ms === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = longTimeout(ms, () => reject(namedError('States.Timeout', 'Task timed out')));
    promise.then(
      (v) => {
        timer.clear();
        resolve(v);
      },
      (e: unknown) => {
        timer.clear();
        reject(e);
      },
    );
  });
}

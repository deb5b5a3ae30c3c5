import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename, isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvokeCommand, LambdaClient, ListTagsCommand } from '@aws-sdk/client-lambda';
import * as z from 'zod';
import { GrantPermanentError } from './types.ts';

/**
 * Calling a custom integration's function: a Lambda function by ARN (`InvokeCommand`, RequestResponse), or in the
 * local runtime a module on disk (`file:/absolute/path.mjs`) whose exported `handler(event, context)` is awaited with
 * the event exactly as Lambda would deliver it (JSON in, JSON out). The answer comes back as parsed JSON, unchecked:
 * the driver (lambda.ts) parses it against the contract.
 *
 * Failures: GrantPermanentError when retrying cannot help (no such function, not allowed, a request or answer over the
 * limits, a module that exports no handler); a plain Error when it may (the function threw or timed out, throttling,
 * a Lambda service error).
 */

/** Lambda's synchronous invocation quota, request and response each (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). */
export const MAX_EVENT_BYTES = 6 * 1024 * 1024;
/** What Stint accepts as an answer: it is recorded on the request item (DynamoDB items are at most 400 KB). */
export const MAX_ANSWER_BYTES = 256 * 1024;
/** Longest call; the driver's own Lambda timeout (infra/drivers/lambda.ts) leaves room above it. */
export const DEFAULT_INVOKE_TIMEOUT_MS = 60_000;

import { FUNCTION_ARN } from './lambda-deployment.ts';

export { FUNCTION_ARN };

export type ParsedArn = { partition: string; region: string; account: string; name: string; qualifier?: string };

export function parseFunctionArn(arn: string): ParsedArn | undefined {
  const m = FUNCTION_ARN.exec(arn);
  if (m?.[1] === undefined || m[2] === undefined || m[3] === undefined || m[4] === undefined) return undefined;
  return {
    partition: m[1],
    region: m[2],
    account: m[3],
    name: m[4],
    ...(m[5] === undefined ? {} : { qualifier: m[5] }),
  };
}

/** The ARN without a version or alias: tags and the admin's allowed list name functions at this level. */
export function unqualifiedArn(arn: ParsedArn): string {
  return `arn:${arn.partition}:lambda:${arn.region}:${arn.account}:function:${arn.name}`;
}

export type InvokeOptions = {
  /** The local runtime: `file:` functions may run. */
  local: boolean;
  timeoutMs: number;
  /** Names the integration in error messages. */
  integrationId: string;
  /** The Lambda client of a region; default: one shared client per region (`lambdaClient`). */
  client?: (region: string) => LambdaClient;
};

/** One client per region: Lambda reaches a function only from its own region ("Functions from … are not reachable"). */
const clients = new Map<string, LambdaClient>();
export function lambdaClient(region: string): LambdaClient {
  let client = clients.get(region);
  if (client === undefined) {
    // The endpoint comes from AWS_ENDPOINT_URL_LAMBDA when set (the stand-in in tests and the local runtime).
    client = new LambdaClient({ region, maxAttempts: 3 });
    clients.set(region, client);
  }
  return client;
}

/** Invokes `fn` with `event`; resolves to the function's answer (parsed JSON; `null` when it returned nothing). */
export async function invokeFunction(fn: string, event: unknown, options: InvokeOptions): Promise<unknown> {
  const payload = JSON.stringify(event);
  const where = `integration ${options.integrationId}: function ${fn}`;
  if (Buffer.byteLength(payload) > MAX_EVENT_BYTES)
    throw new GrantPermanentError(`${where}: the event is larger than ${MAX_EVENT_BYTES} bytes (Lambda's limit)`);
  let text: string;
  if (fn.startsWith('file:')) {
    if (!options.local)
      throw new GrantPermanentError(
        `${where}: file: functions run only in the local runtime; use a Lambda function ARN`,
      );
    text = await invokeModule(fn, payload, options, where);
  } else {
    const arn = parseFunctionArn(fn);
    if (arn === undefined) throw new GrantPermanentError(`${where}: not a Lambda function ARN`);
    text = await invokeLambda(arn, fn, payload, options, where);
  }
  if (Buffer.byteLength(text) > MAX_ANSWER_BYTES)
    throw new GrantPermanentError(`${where}: the answer is larger than ${MAX_ANSWER_BYTES} bytes`);
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the input, which may hold a secret: never pass it on.
    throw new GrantPermanentError(`${where}: the answer is not JSON`);
  }
}

/** The error payload of a function that threw (the Node.js runtime's shape: errorType, errorMessage, trace). */
const FunctionErrorPayload = z.object({
  errorType: z.string().optional(),
  errorMessage: z.string().optional(),
});

/** Lambda error codes (x-amzn-ErrorType) that retrying cannot fix (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors). */
const PERMANENT_CODES = new Set([
  'AccessDeniedException',
  'ResourceNotFoundException',
  'InvalidParameterValueException',
  'InvalidRequestContentException',
  'RequestTooLargeException',
  'UnsupportedMediaTypeException',
  'ValidationException',
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSInvalidStateException',
  'KMSNotFoundException',
  'InvalidRuntimeException',
  'InvalidZipFileException',
  'RecursiveInvocationException',
]);

function short(text: string, max = 300): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

async function invokeLambda(
  arn: ParsedArn,
  fn: string,
  payload: string,
  options: InvokeOptions,
  where: string,
): Promise<string> {
  let output: { FunctionError?: string | undefined; Payload?: Uint8Array | undefined };
  try {
    output = await (options.client ?? lambdaClient)(arn.region).send(
      new InvokeCommand({
        FunctionName: fn,
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(payload),
      }),
      { abortSignal: AbortSignal.timeout(options.timeoutMs) },
    );
  } catch (error) {
    if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError'))
      throw new Error(`${where} did not answer within ${options.timeoutMs / 1000} s`);
    if (error instanceof Error && PERMANENT_CODES.has(error.name))
      throw new GrantPermanentError(`${where}: ${error.name}: ${short(error.message)}`);
    if (error instanceof Error) throw new Error(`${where}: ${error.name}: ${short(error.message)}`);
    throw error;
  }
  const text = output.Payload === undefined ? '' : Buffer.from(output.Payload).toString('utf8');
  if (output.FunctionError !== undefined) {
    // The function threw, timed out or ran out of memory: Lambda answers 200 with X-Amz-Function-Error.
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = {};
    }
    const parsed = FunctionErrorPayload.safeParse(json);
    const type = parsed.success ? (parsed.data.errorType ?? output.FunctionError) : output.FunctionError;
    const message = parsed.success ? (parsed.data.errorMessage ?? '') : '';
    const problem = `${where} failed: ${type}${message === '' ? '' : `: ${short(message)}`}`;
    // An answer over Lambda's 6 MB is the function's design, not a passing failure.
    if (type === 'Function.ResponseSizeTooLarge') throw new GrantPermanentError(problem);
    throw new Error(problem);
  }
  return text;
}

const HandlerModule = z.object({
  handler: z.custom<(event: unknown, context: unknown) => unknown>((value) => typeof value === 'function'),
});

/**
 * Runs a local module's handler as the Lambda Node.js runtime would: the event parsed from JSON, a context object, the
 * answer turned into JSON. The module is imported again when the file changes (a new version of the function) and
 * kept otherwise (a warm function keeps its module state).
 */
async function invokeModule(fn: string, payload: string, options: InvokeOptions, where: string): Promise<string> {
  const path = fn.slice('file:'.length);
  if (!isAbsolute(path)) throw new GrantPermanentError(`${where}: the path must be absolute`);
  let version: number;
  try {
    version = (await stat(path)).mtimeMs;
  } catch {
    throw new GrantPermanentError(`${where}: no such file`);
  }
  const url = pathToFileURL(path);
  url.searchParams.set('version', String(version));
  let module: unknown;
  try {
    module = await import(url.href);
  } catch (error) {
    throw new GrantPermanentError(
      `${where}: the module does not load (${error instanceof Error ? short(error.message) : 'unknown error'})`,
    );
  }
  const parsed = HandlerModule.safeParse(module);
  if (!parsed.success) throw new GrantPermanentError(`${where}: the module exports no handler function`);
  const deadline = Date.now() + options.timeoutMs;
  const context = {
    functionName: basename(path).replace(/\.(mjs|js)$/, ''),
    functionVersion: '$LATEST',
    invokedFunctionArn: fn,
    awsRequestId: randomUUID(),
    memoryLimitInMB: '128',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  const event: unknown = JSON.parse(payload);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = Symbol('timeout');
  const timeout = new Promise<typeof timedOut>((resolve) => {
    timer = setTimeout(() => resolve(timedOut), options.timeoutMs);
  });
  let result: unknown;
  try {
    result = await Promise.race([Promise.resolve().then(() => parsed.data.handler(event, context)), timeout]);
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    throw new Error(`${where} failed: ${e.name}${e.message === '' ? '' : `: ${short(e.message)}`}`);
  } finally {
    clearTimeout(timer);
  }
  if (result === timedOut) throw new Error(`${where} did not answer within ${options.timeoutMs / 1000} s`);
  try {
    return JSON.stringify(result === undefined ? null : result);
  } catch {
    throw new GrantPermanentError(`${where}: the answer cannot be turned into JSON`);
  }
}

/** A function's tags (ListTags, https://docs.aws.amazon.com/lambda/latest/api/API_ListTags.html), parsed. */
export async function listFunctionTags(arn: ParsedArn): Promise<Record<string, string>> {
  const output = await lambdaClient(arn.region).send(new ListTagsCommand({ Resource: unqualifiedArn(arn) }));
  return z.record(z.string(), z.string()).parse(output.Tags ?? {});
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AwsResponse, readBody, send } from './http.ts';
import { LambdaTimeoutError } from './lambda.ts';

/** Lambda's synchronous invocation payload quota (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

/**
 * The Lambda Invoke API (REST-JSON, `POST /2015-03-31/functions/{FunctionName}/invocations`, RequestResponse) for
 * the template's functions, as API functions call the driver functions in AWS (lib/integrations/driver-client.ts).
 * As AWS answers: 200 with the function's result; a function that threw: 200 with `X-Amz-Function-Error: Unhandled`
 * and `{ errorType, errorMessage }`; an unknown function: 404 ResourceNotFoundException. Resolves to false when the
 * request is not an invocation.
 */
export async function routeLambdaInvoke(
  invoke: (functionName: string, event: unknown) => Promise<unknown>,
  knows: (functionName: string) => boolean,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const match = INVOKE_PATH.exec((req.url ?? '').split('?')[0] ?? '');
  if (req.method !== 'POST' || match?.[1] === undefined) return false;
  const name = decodeURIComponent(match[1]);
  const body = await readBody(req, MAX_PAYLOAD_BYTES);
  send(res, await invocation(invoke, knows, name, body));
  return true;
}

async function invocation(
  invoke: (functionName: string, event: unknown) => Promise<unknown>,
  knows: (functionName: string) => boolean,
  name: string,
  body: Buffer,
): Promise<AwsResponse> {
  const json = { 'content-type': 'application/json' };
  if (!knows(name)) {
    return {
      status: 404,
      headers: { ...json, 'x-amzn-errortype': 'ResourceNotFoundException' },
      body: JSON.stringify({ Type: 'User', message: `Function not found: ${name}` }),
    };
  }
  let event: unknown;
  try {
    event = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    return {
      status: 400,
      headers: { ...json, 'x-amzn-errortype': 'InvalidRequestContentException' },
      body: JSON.stringify({ Type: 'User', message: 'Could not parse request body into json' }),
    };
  }
  try {
    const result = await invoke(name, event);
    return { status: 200, headers: json, body: JSON.stringify(result ?? null) };
  } catch (error) {
    const errorType =
      error instanceof LambdaTimeoutError ? 'Sandbox.Timedout' : error instanceof Error ? error.name : 'Error';
    const errorMessage = error instanceof Error ? error.message : String(error);
    return {
      status: 200,
      headers: { ...json, 'x-amz-function-error': 'Unhandled' },
      body: JSON.stringify({ errorType, errorMessage }),
    };
  }
}

import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { lambdaContext } from './api-event.ts';
import type { TestIssuer } from './token.ts';

/** An API function's handler, as the handler tests call it in process. */
export type Handler = (
  event: APIGatewayProxyEventV2WithJWTAuthorizer,
  context: typeof lambdaContext,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** What a handler answered: status, content type, ETag and the JSON body as an object ({} when empty). */
export type HandlerReply = {
  status: number | undefined;
  type: string | undefined;
  etag: string | undefined;
  body: Record<string, unknown>;
};

/** Calls a handler with an API Gateway event whose bearer token the issuer signs, and reads its answer. */
export async function callHandler(
  issuer: TestIssuer,
  handler: Handler,
  input: Parameters<TestIssuer['event']>[0],
): Promise<HandlerReply> {
  const result = await handler(await issuer.event(input), lambdaContext);
  const parsed: unknown = result.body === undefined || result.body === '' ? {} : JSON.parse(result.body);
  const body = parsed !== null && typeof parsed === 'object' ? Object.fromEntries(Object.entries(parsed)) : {};
  return {
    status: result.statusCode,
    type: result.headers?.['content-type']?.toString(),
    etag: result.headers?.etag?.toString(),
    body,
  };
}

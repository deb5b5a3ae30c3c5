import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DomainError } from '#lib/domain/errors.ts';
import { assertWellFormed } from '#lib/domain/well-formed.ts';
import { problemFromDomainError } from '#lib/http/problem.ts';
import { logger } from '#lib/observability/logger.ts';

/** What a chat webhook (Slack, Teams, Jira) answers, before it is turned into an API Gateway result. */
export type WebhookResponse = { status: number; body?: string; headers?: Record<string, string> };

/** A webhook as its handler sees it: the raw body, byte for byte as signed, the headers and the query. */
export type WebhookRequest = {
  headers: Readonly<Record<string, string | undefined>>;
  rawBody: string;
  query: Readonly<Record<string, string | undefined>>;
};

/**
 * A chat webhook as a Lambda entry (no JWT authorizer: each handler verifies its caller). An unexpected error is
 * logged by name only and answered with a bare 500, so the caller (Slack, the Bot Connector, Jira) retries.
 */
export function webhookLambda(
  what: string,
  handle: (input: WebhookRequest) => Promise<WebhookResponse>,
): (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2> {
  return async (event) => {
    const rawBody =
      event.body === undefined
        ? ''
        : event.isBase64Encoded
          ? Buffer.from(event.body, 'base64').toString('utf8')
          : event.body;
    try {
      const response = await handle({ headers: event.headers, rawBody, query: event.queryStringParameters ?? {} });
      return {
        statusCode: response.status,
        ...(response.body === undefined ? {} : { body: response.body }),
        ...(response.headers === undefined ? {} : { headers: response.headers }),
      };
    } catch (error) {
      logger.error(`${what} failed`, { error: error instanceof Error ? error.name : 'unknown' });
      return { statusCode: 500, body: 'internal error' };
    }
  };
}

/**
 * The answer to a verified webhook whose parsed payload holds a string that is not well-formed Unicode (lib/domain/
 * text.ts): a 400 problem+json naming its path (`payload.user.id`); undefined when every string is well-formed.
 */
export function malformedPayloadResponse(
  payload: unknown,
  prefix: string,
): { status: number; body: string; headers: Record<string, string> } | undefined {
  try {
    assertWellFormed(payload, prefix);
    return undefined;
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    const correlationId = randomUUID();
    logger.info('refused a webhook payload', { field: error.field, correlationId });
    return {
      status: error.status,
      body: JSON.stringify(problemFromDomainError(error, correlationId)),
      headers: { 'content-type': 'application/problem+json' },
    };
  }
}

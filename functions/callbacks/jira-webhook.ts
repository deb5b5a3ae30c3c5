import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { handleJiraWebhook } from '#lib/channels/jira/webhook.ts';
import {
  directory,
  jiraFor,
  jiraState,
  jiraTargets,
  requests,
  store,
  webhookSecret,
} from '#lib/channels/jira/wiring.ts';
import { logger } from '#lib/observability/logger.ts';

/** POST /webhooks/jira: no JWT; Jira's X-Hub-Signature is verified in lib/channels/jira. */
export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  const rawBody =
    event.body === undefined
      ? ''
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
  try {
    const response = await handleJiraWebhook(
      {
        webhookSecret,
        guard: jiraState(),
        targets: jiraTargets(),
        jira: jiraFor,
        directory: directory(),
        requests: requests(),
        store: store(),
      },
      { headers: event.headers, rawBody, query: event.queryStringParameters ?? {} },
    );
    return { statusCode: response.status, body: response.body, headers: response.headers };
  } catch (error) {
    // Not 2xx: Jira retries the delivery (the replay claim was released).
    logger.error('Jira webhook failed', { error: error instanceof Error ? error.name : 'unknown' });
    return { statusCode: 500, body: 'internal error' };
  }
}

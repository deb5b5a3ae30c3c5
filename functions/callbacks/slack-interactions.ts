import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { handleSlackInteraction } from '#lib/channels/slack/interactions.ts';
import { directory, requests, signingSecret, slackClient, slackState, store } from '#lib/channels/slack/wiring.ts';
import { logger } from '#lib/observability/logger.ts';

/** POST /webhooks/slack/interactions: no JWT; the Slack v0 signature is verified in lib/channels/slack. */
export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  const rawBody =
    event.body === undefined
      ? ''
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
  try {
    const response = await handleSlackInteraction(
      {
        signingSecret,
        guard: slackState(),
        directory: directory(),
        slack: slackClient(),
        requests: requests(),
        store: store(),
        posts: slackState(),
      },
      { headers: event.headers, rawBody },
    );
    return {
      statusCode: response.status,
      ...(response.body === undefined ? {} : { body: response.body }),
      ...(response.headers === undefined ? {} : { headers: response.headers }),
    };
  } catch (error) {
    logger.error('Slack interaction failed', { error: error instanceof Error ? error.name : 'unknown' });
    return { statusCode: 500, body: 'internal error' };
  }
}

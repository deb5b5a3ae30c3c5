import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { handleSlackCommand } from '#lib/channels/slack/commands.ts';
import { admin, directory, requests, signingSecret, slackClient, slackState } from '#lib/channels/slack/wiring.ts';
import { logger } from '#lib/observability/logger.ts';

/** POST /webhooks/slack/commands (`/stint`): no JWT; the Slack v0 signature is verified in lib/channels/slack. */
export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  const rawBody =
    event.body === undefined
      ? ''
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
  try {
    const response = await handleSlackCommand(
      {
        signingSecret,
        guard: slackState(),
        directory: directory(),
        slack: slackClient(),
        requests: requests(),
        catalog: admin(),
      },
      { headers: event.headers, rawBody },
    );
    return {
      statusCode: response.status,
      ...(response.body === undefined ? {} : { body: response.body }),
      ...(response.headers === undefined ? {} : { headers: response.headers }),
    };
  } catch (error) {
    logger.error('Slack command failed', { error: error instanceof Error ? error.name : 'unknown' });
    return { statusCode: 500, body: 'internal error' };
  }
}

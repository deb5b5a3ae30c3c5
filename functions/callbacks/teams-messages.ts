import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { handleTeamsActivity } from '#lib/channels/teams/invoke.ts';
import { botFrameworkAuth, directory, requests, store, teamsClickOptions } from '#lib/channels/teams/wiring.ts';
import { logger } from '#lib/observability/logger.ts';

/** POST /webhooks/teams: no JWT authorizer; the Bot Framework token is verified in lib/channels/teams. */
export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  const rawBody =
    event.body === undefined
      ? ''
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
  try {
    const response = await handleTeamsActivity(
      {
        auth: botFrameworkAuth(),
        directory: directory(),
        requests: requests(),
        store: store(),
        ...teamsClickOptions(),
      },
      { headers: event.headers, rawBody },
    );
    return {
      statusCode: response.status,
      ...(response.body === undefined ? {} : { body: response.body }),
      ...(response.headers === undefined ? {} : { headers: response.headers }),
    };
  } catch (error) {
    logger.error('Teams activity failed', { error: error instanceof Error ? error.name : 'unknown' });
    return { statusCode: 500, body: 'internal error' };
  }
}

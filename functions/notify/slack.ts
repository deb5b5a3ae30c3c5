import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod';
import { notifySlack, SLACK_EVENT_TYPES } from '#lib/channels/slack/notify.ts';
import { directory, slackClient, slackState, store } from '#lib/channels/slack/wiring.ts';
import { config } from '#lib/config.ts';
import { logger } from '#lib/observability/logger.ts';
import { oncallProviders } from '#lib/services/wiring/oncall.ts';

const Detail = z.object({ type: z.enum(SLACK_EVENT_TYPES), request: z.object({ id: z.string().min(1) }) });

/** EventBridge target for request and grant events: Slack DMs, channel posts and message updates. */
export async function handler(event: EventBridgeEvent<string, unknown>): Promise<void> {
  const detail = Detail.safeParse(event.detail);
  if (!detail.success) {
    logger.info('ignored an event Slack does not handle', { detailType: event['detail-type'] });
    return;
  }
  const apiUrl = config().apiUrl;
  const result = await notifySlack(
    {
      slack: slackClient(),
      directory: directory(),
      state: slackState(),
      store: store(),
      oncall: oncallProviders(),
      ...(apiUrl === undefined ? {} : { apiUrl }),
    },
    { type: detail.data.type, requestId: detail.data.request.id },
  );
  logger.info('Slack notified', { requestId: detail.data.request.id, type: detail.data.type, ...result });
}

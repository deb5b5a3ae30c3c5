import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod';
import { notifyTeams, TEAMS_EVENT_TYPES } from '#lib/channels/teams/notify.ts';
import { directory, store, teamsConnector, teamsState } from '#lib/channels/teams/wiring.ts';
import { config } from '#lib/config.ts';
import { logger } from '#lib/observability/logger.ts';
import { oncallProviders } from '#lib/services/wiring/oncall.ts';

const Detail = z.object({ type: z.enum(TEAMS_EVENT_TYPES), request: z.object({ id: z.string().min(1) }) });

/**
 * EventBridge target for request and grant events: Teams approval cards, their updates and requester notices.
 * A failure a retry may fix is thrown (after what succeeded is recorded): Lambda's asynchronous invocation retries the
 * run twice, then sends the event to the notify dead-letter queue (EventBridge's own retries cover only invoking it).
 */
export async function handler(event: EventBridgeEvent<string, unknown>): Promise<void> {
  const detail = Detail.safeParse(event.detail);
  if (!detail.success) {
    logger.info('ignored an event Teams does not handle', { detailType: event['detail-type'] });
    return;
  }
  const { apiUrl, teams } = config();
  const result = await notifyTeams(
    {
      connector: teamsConnector(),
      directory: directory(),
      state: teamsState(),
      store: store(),
      graphLookup: teams.graphLookup,
      oncall: oncallProviders(),
      ...(apiUrl === undefined ? {} : { apiUrl }),
    },
    { type: detail.data.type, requestId: detail.data.request.id },
  );
  logger.info('Teams notified', { requestId: detail.data.request.id, type: detail.data.type, ...result });
}

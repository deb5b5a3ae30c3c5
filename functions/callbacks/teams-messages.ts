import { handleTeamsActivity } from '#lib/channels/teams/invoke.ts';
import { botFrameworkAuth, directory, requests, store, teamsClickOptions } from '#lib/channels/teams/wiring.ts';
import { webhookLambda } from '#lib/channels/webhook-lambda.ts';

/** POST /webhooks/teams: no JWT authorizer; the Bot Framework token is verified in lib/channels/teams. */
export const handler = webhookLambda('Teams activity', (input) =>
  handleTeamsActivity(
    {
      auth: botFrameworkAuth(),
      directory: directory(),
      requests: requests(),
      store: store(),
      ...teamsClickOptions(),
    },
    input,
  ),
);

import { slackLambda } from '#lib/channels/slack/gate.ts';
import { handleSlackInteraction } from '#lib/channels/slack/interactions.ts';
import { directory, requests, signingSecret, slackClient, slackState, store } from '#lib/channels/slack/wiring.ts';

/** POST /webhooks/slack/interactions: no JWT; the Slack v0 signature is verified in lib/channels/slack. */
export const handler = slackLambda('interaction', (input) =>
  handleSlackInteraction(
    {
      signingSecret,
      guard: slackState(),
      directory: directory(),
      slack: slackClient(),
      requests: requests(),
      store: store(),
      posts: slackState(),
    },
    input,
  ),
);

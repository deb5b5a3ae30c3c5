import { handleSlackCommand } from '#lib/channels/slack/commands.ts';
import { slackLambda } from '#lib/channels/slack/gate.ts';
import { admin, directory, requests, signingSecret, slackClient, slackState } from '#lib/channels/slack/wiring.ts';

/** POST /webhooks/slack/commands (`/stint`): no JWT; the Slack v0 signature is verified in lib/channels/slack. */
export const handler = slackLambda('command', (input) =>
  handleSlackCommand(
    {
      signingSecret,
      guard: slackState(),
      directory: directory(),
      slack: slackClient(),
      requests: requests(),
      catalog: admin(),
    },
    input,
  ),
);

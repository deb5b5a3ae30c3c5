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
import { webhookLambda } from '#lib/channels/webhook-lambda.ts';

/**
 * POST /webhooks/jira: no JWT; Jira's X-Hub-Signature is verified in lib/channels/jira. A 500 (not 2xx) makes Jira
 * retry the delivery; the replay claim was released.
 */
export const handler = webhookLambda('Jira webhook', (input) =>
  handleJiraWebhook(
    {
      webhookSecret,
      guard: jiraState(),
      targets: jiraTargets(),
      jira: jiraFor,
      directory: directory(),
      requests: requests(),
      store: store(),
    },
    input,
  ),
);

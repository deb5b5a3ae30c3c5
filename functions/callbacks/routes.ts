/**
 * Chat/ticket webhooks on the HTTP API WITHOUT the JWT authorizer: each handler verifies its caller itself
 * (Slack: v0 request signature, 5-minute window, replay guard; Teams: the Bot Framework JWT; Jira: X-Hub-Signature
 * HMAC of the body, age bound, replay guard). Created only when the channel is configured.
 */
export type WebhookRoute = {
  readonly method: 'POST';
  readonly path: string;
  /** File name under functions/callbacks/, without extension. */
  readonly entry: string;
  readonly channel: 'slack' | 'teams' | 'jira';
  /** What the function does to the workflow: resume waits (votes; the default) or start executions (new requests). */
  readonly workflow?: 'task-tokens' | 'start';
};

export const slackWebhookRoutes: readonly WebhookRoute[] = [
  { method: 'POST', path: '/webhooks/slack/interactions', entry: 'slack-interactions', channel: 'slack' },
  { method: 'POST', path: '/webhooks/slack/commands', entry: 'slack-commands', channel: 'slack', workflow: 'start' },
];

export const teamsWebhookRoutes: readonly WebhookRoute[] = [
  { method: 'POST', path: '/webhooks/teams', entry: 'teams-messages', channel: 'teams' },
];

export const jiraWebhookRoutes: readonly WebhookRoute[] = [
  { method: 'POST', path: '/webhooks/jira', entry: 'jira-webhook', channel: 'jira' },
];

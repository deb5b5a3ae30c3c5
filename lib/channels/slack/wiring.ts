import type { LinkingDirectory } from '#lib/channels/slack/identity.ts';
import { config } from '#lib/config.ts';
import { lazy } from '#lib/lazy.ts';
import { resolveSecret } from '#lib/secrets/resolve.ts';
import { admin } from '#lib/services/wiring/admin.ts';
import { requests } from '#lib/services/wiring/requests.ts';
import { store, directory as storeDirectory } from '#lib/services/wiring/store.ts';
import { createDocumentClient } from '#lib/store/client.ts';
import { DEFAULT_SLACK_API_URL, SlackClient } from './client.ts';
import { SlackState } from './state.ts';

/** Module-scope singletons of the Slack functions, built on first use (lib/lazy.ts). */
export const slackClient = /* @__PURE__ */ lazy(() => {
  const { apiUrl, botTokenRef } = config().slack;
  // A configured stand-in (local runtime, tests) also answers response_url calls.
  const origin = new URL(apiUrl).origin;
  return new SlackClient({
    token: () => resolveSecret(botTokenRef),
    baseUrl: apiUrl,
    ...(apiUrl === DEFAULT_SLACK_API_URL ? {} : { responseOrigins: [origin] }),
  });
});

export const slackState = /* @__PURE__ */ lazy(() => new SlackState(createDocumentClient(), config().tableName));
export const signingSecret = () => resolveSecret(config().slack.signingSecretRef);

/** The identity directory on the same table (lib/directory/store.ts), shared with the rest of the service. */
export const directory = (): LinkingDirectory => storeDirectory();

export { admin, requests, store };

import { config } from '#lib/config.ts';
import { lazy } from '#lib/lazy.ts';
import { resolveSecret } from '#lib/secrets/resolve.ts';
import { requests } from '#lib/services/wiring/requests.ts';
import { directory, store } from '#lib/services/wiring/store.ts';
import { createDocumentClient } from '#lib/store/client.ts';
import { BotFrameworkAuth } from './auth.ts';
import { TeamsConnector } from './connector.ts';
import { TeamsState } from './state.ts';

/** Module-scope singletons of the Teams functions: the token verifier caches the metadata and keys per process. */
export const botFrameworkAuth: () => BotFrameworkAuth = /* @__PURE__ */ lazy(() => {
  const { appId, openIdMetadataUrl } = config().teams;
  return new BotFrameworkAuth({ appId, openIdMetadataUrl });
});

/** The Bot Connector / Graph client; it caches its tokens per process. The client secret is resolved when needed. */
export const teamsConnector: () => TeamsConnector = /* @__PURE__ */ lazy(() => {
  const teams = config().teams;
  return new TeamsConnector({
    appId: teams.appId,
    tenantId: teams.tenantId,
    appPassword: () => resolveSecret(teams.appPasswordRef),
    serviceUrl: teams.serviceUrl,
    graphUrl: teams.graphUrl,
    ...(teams.loginUrl === undefined ? {} : { loginUrl: teams.loginUrl }),
  });
});

/**
 * What the webhook needs besides the directory: the tenant invokes are pinned to (when configured), and the connector
 * when it may look an unlinked clicker up in Graph (graphLookup on, and the bot's client secret configured).
 */
export function teamsClickOptions(): { tenantId?: string; graphLookup: boolean; connector?: TeamsConnector } {
  const teams = config().teams;
  const tenantId = teams.tenantIdIfSet;
  const graphLookup = teams.graphLookup && tenantId !== undefined && teams.hasAppPassword;
  return {
    ...(tenantId === undefined ? {} : { tenantId }),
    graphLookup,
    ...(graphLookup ? { connector: teamsConnector() } : {}),
  };
}

export const teamsState: () => TeamsState = /* @__PURE__ */ lazy(
  () => new TeamsState(createDocumentClient(), config().tableName),
);

export { directory, requests, store };

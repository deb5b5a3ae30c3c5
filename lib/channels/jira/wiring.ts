import type { LinkingDirectory } from '#lib/channels/slack/identity.ts';
import { config } from '#lib/config.ts';
import { lazy } from '#lib/lazy.ts';
import { resolveSecret } from '#lib/secrets/resolve.ts';
import { requests } from '#lib/services/wiring/requests.ts';
import { store, directory as storeDirectory } from '#lib/services/wiring/store.ts';
import { createDocumentClient } from '#lib/store/client.ts';
import { type TargetConfig, targetsOf } from '#lib/targets/config.ts';
import { createOutbound } from '#lib/targets/outbound.ts';
import { JiraApi } from './client.ts';
import { JiraState } from './state.ts';

/** Module-scope singletons of the Jira webhook function, built on first use (lib/lazy.ts). */
export const jiraState = /* @__PURE__ */ lazy(() => new JiraState(createDocumentClient(), config().tableName));
export const webhookSecret = () => resolveSecret(config().jiraApprovals.webhookSecretRef);
export const jiraTargets = /* @__PURE__ */ lazy(() => targetsOf(config()).filter((t) => t.kind === 'jira'));

/** A REST client with the target's credentials (resolveSecret caches the secret for 5 minutes). */
export async function jiraFor(target: TargetConfig): Promise<JiraApi> {
  return new JiraApi({
    baseUrl: target.endpoint,
    secret: await resolveSecret(target.secretRef),
    http: createOutbound({ local: config().local, allowPrivateNetwork: target.allowPrivateNetwork }),
  });
}

export const directory = (): LinkingDirectory => storeDirectory();

export { requests, store };

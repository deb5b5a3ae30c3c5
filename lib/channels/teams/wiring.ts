import { config } from '#lib/config.ts';
import { directory, requests, store } from '#lib/services/wiring.ts';
import { BotFrameworkAuth } from './auth.ts';

/** Module-scope singletons of the Teams function: the token verifier caches the metadata and keys per process. */
let auth: BotFrameworkAuth | undefined;
export function botFrameworkAuth(): BotFrameworkAuth {
  const { appId, openIdMetadataUrl } = config().teams;
  auth ??= new BotFrameworkAuth({ appId, openIdMetadataUrl });
  return auth;
}

export { directory, requests, store };

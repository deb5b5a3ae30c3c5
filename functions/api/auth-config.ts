import { config } from '#lib/config.ts';
import { publicHttpHandler } from '#lib/http/public.ts';
import type { AuthConfigView } from '#lib/http/views.ts';

/**
 * Public: where to sign in, so `stint login --url <api>` needs nothing else. Only what the issuer's own discovery
 * document and the CLI's public client make public anyway (no secret: the CLI client has none).
 */
export const handler = publicHttpHandler({}, async () => {
  const { issuer, cli } = config().signIn;
  const body: AuthConfigView = {
    issuer,
    ...(cli === undefined ? {} : { cli: { clientId: cli.clientId, scopes: [...cli.scopes] } }),
    ...(config().local ? { local: true } : {}),
  };
  return { status: 200, body };
});

import { config } from '#lib/config.ts';
import { lazy } from '#lib/lazy.ts';
import { oncallProvidersOf } from '#lib/oncall/config.ts';
import { createOnCallProviders } from '#lib/oncall/providers.ts';

/**
 * The configured on-call providers (STINT_ONCALL; absent: none), once per cold start so their short cache lives with
 * the function. Only the functions that vote, notify, create requests or list approvals get STINT_ONCALL and the keys' secrets
 * (infra/constructs); elsewhere the map is empty and every on-call set admits nobody.
 */
export const oncallProviders = /* @__PURE__ */ lazy(() =>
  createOnCallProviders(oncallProvidersOf(config()), { local: config().local }),
);

import { lazy } from '#lib/lazy.ts';
import { oncallProviders } from './oncall.ts';
import { requestService } from './request-service.ts';

/**
 * Listing requests (GET /requests): with the on-call providers, so scope=approvals shows whoever is on call now the
 * requests of their on-call sets. Its own module so that only list-requests carries the provider clients.
 */
export const requestInbox = /* @__PURE__ */ lazy(() => requestService({ oncall: oncallProviders() }));

import { lazy } from '#lib/lazy.ts';
import { oncallProviders } from './oncall.ts';
import { requestService } from './request-service.ts';

/** One request as its reader sees it (GET /requests/{id}): with the on-call providers, for the approval view. */
export const requestView = /* @__PURE__ */ lazy(() => requestService({ oncall: oncallProviders() }));

import { lazy } from '#lib/lazy.ts';
import { requestService } from './request-service.ts';

/** Requests for the functions that only read them (get, list): no Step Functions, no credentials key. */
export const requestReads = /* @__PURE__ */ lazy(() => requestService({}));

import { lazy } from '#lib/lazy.ts';
import { executions } from './executions.ts';
import { requestService } from './request-service.ts';

/**
 * Requests for the functions that end or extend them (cancel, revoke, extend): Step Functions, no on-call providers
 * (these functions are not given STINT_ONCALL: an on-call shift is read from the request, where it was recorded).
 */
export const requestChanges = /* @__PURE__ */ lazy(() => requestService({ executions: executions() }));

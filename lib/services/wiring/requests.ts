import { lazy } from '#lib/lazy.ts';
import { executions } from './executions.ts';
import { requestService } from './request-service.ts';

/** Requests for the functions that change them (create, decide, cancel, revoke, extend): with Step Functions. */
export const requests = /* @__PURE__ */ lazy(() => requestService({ executions: executions() }));

import { lazy } from '#lib/lazy.ts';
import { executions } from './executions.ts';
import { oncallProviders } from './oncall.ts';
import { requestService } from './request-service.ts';

/**
 * Requests for the functions that create and decide them (create, approve, reject, the Slack, Teams and Jira
 * callbacks): Step Functions and the on-call providers (who may ask or vote under an on-call set).
 */
export const requests = /* @__PURE__ */ lazy(() =>
  requestService({ executions: executions(), oncall: oncallProviders() }),
);

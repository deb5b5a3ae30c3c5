import { lazy } from '#lib/lazy.ts';
import { executions } from './executions.ts';
import { workflowService } from './workflow.ts';

/** register-token: ends the wait it registers at once when the request has already moved on (SendTaskSuccess). */
export const tokenWorkflow = /* @__PURE__ */ lazy(() => workflowService(executions()));

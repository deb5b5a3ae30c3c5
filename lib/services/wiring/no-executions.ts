import type { Executions } from '#lib/workflow/executions.ts';

/**
 * Stands in for Step Functions in a function that never calls it (reads, credentials): a call is a wiring mistake,
 * and such a function has no states:* permission in AWS either.
 */
export const noExecutions: Executions = {
  start: () => Promise.reject(new Error('this function does not start executions')),
  resume: () => Promise.reject(new Error('this function does not end waits')),
  fail: () => Promise.reject(new Error('this function does not end waits')),
  isRunning: () => Promise.reject(new Error('this function does not describe executions')),
};

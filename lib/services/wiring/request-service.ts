import type { Executions } from '#lib/workflow/executions.ts';
import { RequestService } from '../requests.ts';
import { directory, roles, store } from './store.ts';

/**
 * Stands in for Step Functions in a function that never calls it (reads, credentials): a call is a wiring mistake,
 * and such a function has no states:* permission in AWS either.
 */
const noExecutions: Executions = {
  start: () => Promise.reject(new Error('this function does not start executions')),
  resume: () => Promise.reject(new Error('this function does not end waits')),
  fail: () => Promise.reject(new Error('this function does not end waits')),
  isRunning: () => Promise.reject(new Error('this function does not describe executions')),
};

/** A RequestService on the table and directory, with Step Functions and the credentials key only where given. */
export function requestService(parts: { executions?: Executions; credentialsKey?: () => Promise<string> }) {
  return new RequestService({
    store: store(),
    executions: parts.executions ?? noExecutions,
    roles: roles(),
    ...(parts.credentialsKey === undefined ? {} : { credentialsKey: parts.credentialsKey }),
    directory: directory(),
  });
}

import type { Executions } from '#lib/workflow/executions.ts';
import type { OnCallProviders } from '../oncall.ts';
import { RequestService } from '../requests.ts';
import { noExecutions } from './no-executions.ts';
import { directory, roles, store } from './store.ts';

/**
 * A RequestService on the table and directory, with Step Functions, the credentials key and the on-call providers
 * only where given: a function that is not given one does not carry its client (test/infra/bundles.test.ts).
 */
export function requestService(parts: {
  executions?: Executions;
  credentialsKey?: () => Promise<string>;
  oncall?: OnCallProviders;
}) {
  return new RequestService({
    store: store(),
    executions: parts.executions ?? noExecutions,
    roles: roles(),
    ...(parts.credentialsKey === undefined ? {} : { credentialsKey: parts.credentialsKey }),
    directory: directory(),
    ...(parts.oncall === undefined ? {} : { oncall: parts.oncall }),
  });
}

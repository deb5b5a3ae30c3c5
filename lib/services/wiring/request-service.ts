import type { Executions } from '#lib/workflow/executions.ts';
import { RequestService } from '../requests.ts';
import { noExecutions } from './no-executions.ts';
import { oncallProviders } from './oncall.ts';
import { directory, roles, store } from './store.ts';

/** A RequestService on the table and directory, with Step Functions and the credentials key only where given. */
export function requestService(parts: { executions?: Executions; credentialsKey?: () => Promise<string> }) {
  return new RequestService({
    store: store(),
    executions: parts.executions ?? noExecutions,
    roles: roles(),
    ...(parts.credentialsKey === undefined ? {} : { credentialsKey: parts.credentialsKey }),
    directory: directory(),
    oncall: oncallProviders(),
  });
}

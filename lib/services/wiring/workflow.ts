import { integrationSecretResolver } from '#lib/integrations/secret-ref.ts';
import { lazy } from '#lib/lazy.ts';
import { resolveSecret } from '#lib/secrets/resolve.ts';
import { sealSecret } from '#lib/secrets/seal.ts';
import type { Executions } from '#lib/workflow/executions.ts';
import { WorkflowService } from '../workflow.ts';
import { credentialsKey } from './credentials-key.ts';
import { noExecutions } from './no-executions.ts';
import { directory, secretRefMode, store } from './store.ts';

/** The workflow's service: integration secrets and the credentials key; Step Functions only where given. */
export function workflowService(executions: Executions): WorkflowService {
  return new WorkflowService({
    store: store(),
    executions,
    directory: {
      accounts: async (userId) => (await directory().userById(userId))?.accounts ?? [],
      link: async (userId, account) => {
        await directory().linkAccount(userId, account);
      },
    },
    resolveSecret: integrationSecretResolver(secretRefMode, resolveSecret),
    seal: async (plain) => sealSecret(plain, await credentialsKey()),
  });
}

/** The step and driver functions the state machine invokes: none calls Step Functions (register-token aside). */
export const workflow = /* @__PURE__ */ lazy(() => workflowService(noExecutions));

import { integrationSecretResolver } from '#lib/integrations/secret-ref.ts';
import { lazy } from '#lib/lazy.ts';
import { resolveSecret } from '#lib/secrets/resolve.ts';
import { sealSecret } from '#lib/secrets/seal.ts';
import { WorkflowService } from '../workflow.ts';
import { credentialsKey } from './credentials-key.ts';
import { executions } from './executions.ts';
import { directory, secretRefMode, store } from './store.ts';

/** The state machine's step functions: Step Functions, integration secrets and the credentials key. */
export const workflow = lazy(
  () =>
    new WorkflowService({
      store: store(),
      executions: executions(),
      directory: {
        accounts: async (userId) => (await directory().userById(userId))?.accounts ?? [],
        link: async (userId, account) => {
          await directory().linkAccount(userId, account);
        },
      },
      resolveSecret: integrationSecretResolver(secretRefMode, resolveSecret),
      seal: async (plain) => sealSecret(plain, await credentialsKey()),
    }),
);

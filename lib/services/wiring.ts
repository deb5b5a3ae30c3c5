import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import { config } from '#lib/config.ts';
import { defaultDirectory } from '#lib/directory/default.ts';
import { publishEvents } from '#lib/events/publish.ts';
import { sweepTarget } from '#lib/integrations/driver-client.ts';
import { integrationSecretResolver, type SecretRefMode } from '#lib/integrations/secret-ref.ts';
import { lazy } from '#lib/lazy.ts';
import { ScimService } from '#lib/scim/service.ts';
import { resolveSecret } from '#lib/secrets/resolve.ts';
import { sealSecret } from '#lib/secrets/seal.ts';
import { createDocumentClient } from '#lib/store/client.ts';
import { Store } from '#lib/store/store.ts';
import { type Executions, StepFunctionsExecutions } from '#lib/workflow/executions.ts';
import { AdminService } from './admin.ts';
import { DirectoryAdminService } from './directory-admin.ts';
import { Reconciler } from './reconciler.ts';
import { RequestService } from './requests.ts';
import { OrphanSweep } from './sweep.ts';
import { WorkflowService } from './workflow.ts';

// Module-scope singletons for Lambda entries, each built on first use (lib/lazy.ts).
export const store = lazy(() => new Store(createDocumentClient(), config().tableName));
/** The identity directory on the same table (SCIM, channels, and the requester's manager and groups). */
export const directory = defaultDirectory;
export const scim = lazy(() => new ScimService(directory()));
/** The state machine ARN is read on the first start or isRunning: functions that only end waits need none. */
const executions = lazy(
  (): Executions => new StepFunctionsExecutions(new SFNClient({}), () => config().stateMachineArn),
);
const credentialsKey = () => resolveSecret(config().credentialsKeyRef);
const roles = () => ({ adminGroup: config().adminGroup, auditorGroup: config().auditorGroup });
const secretRefMode = (): SecretRefMode => ({ local: config().local, prefix: config().secretsPrefix });

export const requests = lazy(
  () =>
    new RequestService({
      store: store(),
      executions: executions(),
      roles: roles(),
      credentialsKey,
      directory: directory(),
    }),
);
export const admin = lazy(
  () =>
    new AdminService({
      store: store(),
      roles: roles(),
      secretRefMode: secretRefMode(),
    }),
);
export const directoryAdmin = lazy(() => new DirectoryAdminService({ directory: directory(), roles: roles() }));
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
      resolveSecret: integrationSecretResolver(secretRefMode),
      seal: async (plain) => sealSecret(plain, await credentialsKey()),
    }),
);
export const reconciler = lazy(() => new Reconciler({ store: store(), executions: executions() }));
/** The orphan sweep (the reconciler's `{ "sweep": true }` schedule): drivers through Lambda Invoke, findings to the bus. */
export const sweep = lazy(() => {
  const eventBridge = new EventBridgeClient({});
  return new OrphanSweep({
    store: store(),
    target: sweepTarget,
    publish: (events) => publishEvents(events, eventBridge, config().eventBusName),
  });
});

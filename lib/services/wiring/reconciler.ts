import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { config } from '#lib/config.ts';
import { publishEvents } from '#lib/events/publish.ts';
import { sweepTarget } from '#lib/integrations/driver-client.ts';
import { lazy } from '#lib/lazy.ts';
import { Reconciler } from '../reconciler.ts';
import { OrphanSweep } from '../sweep.ts';
import { executions } from './executions.ts';
import { oncallProviders } from './oncall.ts';
import { store } from './store.ts';

/** The reconciler function's two schedules. */
export const reconciler = /* @__PURE__ */ lazy(
  () => new Reconciler({ store: store(), executions: executions(), oncall: oncallProviders() }),
);
/** The orphan sweep (the reconciler's `{ "sweep": true }` schedule): drivers through Lambda Invoke, findings to the bus. */
export const sweep = /* @__PURE__ */ lazy(() => {
  const eventBridge = new EventBridgeClient({});
  return new OrphanSweep({
    store: store(),
    target: sweepTarget,
    publish: (events) => publishEvents(events, eventBridge, config().eventBusName),
  });
});

import type { AccessFlow } from '#lib/domain/flow.ts';
import type { Integration } from '#lib/domain/integration.ts';
import type { Store } from '#lib/store/store.ts';
import { aChange } from './fixtures.ts';

/** The groups the service tests (and handler tests) configure as admins and auditors. */
/** Integration secret references as the local runtime accepts them (env:, file: and any ARN). */
export const LOCAL_SECRETS = { local: true, prefix: 'stint/' } as const;
export const ROLES = { adminGroup: 'stint-admins', auditorGroup: 'stint-auditors' } as const;

/** A clock tests move by hand; services and the store read it through `now`. */
export class TestClock {
  private ms: number;
  constructor(iso: string) {
    this.ms = Date.parse(iso);
  }
  readonly now = (): Date => new Date(this.ms);
  advanceMinutes(minutes: number): void {
    this.ms += minutes * 60_000;
  }
  set(iso: string): void {
    this.ms = Date.parse(iso);
  }
}

/** Store a flow built by the `aFlow` fixture as an admin would (the store assigns version and change). */
export async function seedFlow(store: Store, flow: AccessFlow): Promise<AccessFlow> {
  const { id, version: _version, lastChange: _change, deleted: _deleted, ...input } = flow;
  return store.putFlow(id, input, aChange({ action: 'put' }));
}

export async function seedIntegration(store: Store, integration: Integration): Promise<Integration> {
  const { id, version: _version, lastChange: _change, deleted: _deleted, ...input } = integration;
  return store.putIntegration(id, input, aChange({ action: 'put' }));
}

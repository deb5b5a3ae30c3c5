import { Bundle } from '#lib/domain/bundle.ts';
import { buildRequest, type CreateRequestInput } from '#lib/domain/create-request.ts';
import { AccessFlow } from '#lib/domain/flow.ts';
import { Identity } from '#lib/domain/identity.ts';
import { Integration } from '#lib/domain/integration.ts';
import { changeStatus } from '#lib/domain/lifecycle.ts';
import type { AccessRequest } from '#lib/domain/request.ts';

/** A Wednesday, 10:00 UTC. */
export const NOW = new Date('2026-01-07T10:00:00.000Z');

const change = { by: 'admin', channel: 'admin', action: 'put', at: '2026-01-01T00:00:00.000Z' } as const;

export function identity(sub: string, groups: string[] = []): Identity {
  return Identity.parse({ sub, email: `${sub}@example.com`, groups });
}

export const alice = identity('alice', ['dev']);
export const bob = identity('bob', ['dba']);
export const carol = identity('carol', ['dba']);
export const dave = identity('dave', ['sec']);
export const mallory = identity('mallory', ['marketing']);

export const integrations: ReadonlyMap<string, Integration> = new Map(
  [
    Integration.parse({
      id: 'pg',
      version: 1,
      lastChange: change,
      name: 'Main PostgreSQL',
      type: 'postgresql',
      config: { host: 'localhost', port: 5432 },
      secretRef: 'env:PG_ADMIN',
      resources: [
        {
          id: 'app',
          permissions: [
            { id: 'readonly', grants: ['app_ro'] },
            { id: 'readwrite', grants: ['app_rw'] },
          ],
        },
        { id: 'billing', permissions: [{ id: 'readonly', grants: ['billing_ro'] }] },
      ],
    }),
    Integration.parse({
      id: 'pg2',
      version: 1,
      lastChange: change,
      name: 'Replica',
      type: 'postgresql',
      config: {},
      secretRef: 'env:PG2_ADMIN',
      resources: [{ id: 'app', permissions: [{ id: 'readonly', grants: ['app_ro'] }] }],
    }),
  ].map((i) => [i.id, i]),
);

export const opsBundle = Bundle.parse({
  id: 'ops',
  version: 1,
  lastChange: change,
  name: 'Ops',
  units: [
    { integrationId: 'pg', resource: 'app', permission: 'readwrite' },
    { integrationId: 'pg', resource: 'billing', permission: 'readonly' },
  ],
});

/** A flow parsed from input-shaped overrides (defaults filled by the schema). */
export function flow(overrides: Record<string, unknown> = {}): AccessFlow {
  return AccessFlow.parse({
    id: 'db-admin',
    version: 3,
    lastChange: change,
    name: 'Database admin',
    requestors: { everyone: true },
    targets: [{ integrationId: 'pg', resource: 'app', permission: 'readwrite' }],
    approval: { mode: 'manual', sets: [{ groups: ['dba'] }], rule: { type: 'anyOf' }, timeoutMinutes: 30 },
    defaultMinutes: 30,
    maxMinutes: 60,
    maxExtensions: 1,
    ...overrides,
  });
}

export function manual(sets: Record<string, unknown>[], rule: Record<string, unknown>, extra = {}) {
  return { mode: 'manual', sets, rule, timeoutMinutes: 30, ...extra };
}

/** A new request under `f` by `requester` (PENDING for manual flows). */
export function pending(
  f: AccessFlow,
  requester: Identity = alice,
  input: Partial<CreateRequestInput> = {},
  opts: { isAdmin?: boolean } = {},
): AccessRequest {
  return buildRequest(
    { flowId: f.id, durationMinutes: 30, justification: 'incident 42', ...input },
    { id: 'r1', requester, isAdmin: opts.isAdmin ?? false, flow: f, integrations, now: NOW, channel: 'api' },
  );
}

const system = { by: 'stint:system', channel: 'workflow', at: NOW } as const;

/** Walks a request through APPROVED → GRANTING → ACTIVE the way the workflow does. */
export function active(request: AccessRequest): AccessRequest {
  let r = request;
  if (r.status === 'PENDING') r = changeStatus(r, 'APPROVED', { ...system, action: 'approve' });
  r = changeStatus(r, 'GRANTING', { ...system, action: 'grant' });
  return changeStatus(
    r,
    'ACTIVE',
    { ...system, action: 'activate' },
    { grantedAt: NOW.toISOString(), expiresAt: new Date(NOW.getTime() + r.durationMinutes * 60_000).toISOString() },
  );
}

/** Runs `fn` and returns what it threw (fails the test if it did not throw). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw, got none');
}

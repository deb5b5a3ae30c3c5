import { ulid } from 'ulid';
import { Bundle } from '#lib/domain/bundle.ts';
import { ChangeRecord } from '#lib/domain/common.ts';
import { AccessFlow } from '#lib/domain/flow.ts';
import { Identity } from '#lib/domain/identity.ts';
import { Integration } from '#lib/domain/integration.ts';
import { AccessRequest } from '#lib/domain/request.ts';

/**
 * Schema-valid domain objects for tests. Overrides are shallow (replace a whole nested object to change part of it);
 * the result is parsed with the domain schema, so an override that breaks the schema fails loudly.
 */

const AT = '2030-01-15T10:00:00.000Z';

export function aChange(overrides: Partial<ChangeRecord> = {}): ChangeRecord {
  return ChangeRecord.parse({ by: 'admin-1', channel: 'api', action: 'test', at: AT, ...overrides });
}

export function anIdentity(overrides: Partial<Identity> = {}): Identity {
  const sub = overrides.sub ?? 'requester-1';
  return Identity.parse({ sub, email: `${sub.replace(/[^a-zA-Z0-9.-]/g, '-')}@example.com`, groups: [], ...overrides });
}

/** A manual flow: approvers are user `approver-1` or anyone in group `dba`; one PostgreSQL target. */
export function aFlow(overrides: Partial<AccessFlow> = {}): AccessFlow {
  return AccessFlow.parse({
    id: 'db-readonly',
    version: 1,
    name: 'Database read-only',
    requestors: { everyone: true },
    targets: [{ integrationId: 'pg', resource: 'app', permission: 'readonly' }],
    approval: {
      mode: 'manual',
      sets: [{ users: ['approver-1'], groups: ['dba'] }],
      rule: { type: 'anyOf' },
      timeoutMinutes: 60,
    },
    defaultMinutes: 30,
    maxMinutes: 120,
    lastChange: aChange({ action: 'flow.create' }),
    ...overrides,
  });
}

export function anIntegration(overrides: Partial<Integration> = {}): Integration {
  return Integration.parse({
    id: 'pg',
    version: 1,
    name: 'Application database',
    type: 'postgresql',
    config: { host: '127.0.0.1', port: 5432 },
    secretRef: 'env:PG_ADMIN_URL',
    resources: [{ id: 'app', permissions: [{ id: 'readonly', grants: ['app_readonly'] }] }],
    lastChange: aChange({ action: 'integration.create' }),
    ...overrides,
  });
}

export function aBundle(overrides: Partial<Bundle> = {}): Bundle {
  return Bundle.parse({
    id: 'oncall',
    version: 1,
    name: 'On-call',
    units: [{ integrationId: 'pg', resource: 'app', permission: 'readonly' }],
    lastChange: aChange({ action: 'bundle.create' }),
    ...overrides,
  });
}

/**
 * A PENDING request under `aFlow()` by `requester-1`, created at 2030-01-15T10:00Z with a one-hour approval deadline.
 * Passing `flow` without `flowId`/`flowVersion` takes them from the flow; `createdAt` moves the deadline with it.
 */
export function aRequest(overrides: Partial<AccessRequest> = {}): AccessRequest {
  const flow = overrides.flow ?? aFlow();
  const createdAt = overrides.createdAt ?? AT;
  const requester = overrides.requester ?? anIdentity();
  const timeout = flow.approval.mode === 'manual' ? flow.approval.timeoutMinutes : 0;
  return AccessRequest.parse({
    id: ulid(),
    requester,
    grantee: requester,
    flowId: flow.id,
    flowVersion: flow.version,
    flow,
    units: flow.targets.slice(0, 1),
    justification: 'investigating an incident',
    durationMinutes: flow.defaultMinutes,
    status: 'PENDING',
    createdAt,
    ...(flow.approval.mode === 'manual'
      ? { approvalDeadline: new Date(Date.parse(createdAt) + timeout * 60_000).toISOString() }
      : {}),
    lastChange: { by: requester.sub, channel: 'api', action: 'request.create', at: createdAt },
    version: 1,
    ...overrides,
  });
}

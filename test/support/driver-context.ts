import { createHash } from 'node:crypto';
import type { ChatAccount } from '#lib/directory/types.ts';
import type { AccessUnit } from '#lib/domain/bundle.ts';
import type { Identity } from '#lib/domain/identity.ts';
import type { Integration, IntegrationType, Permission, Resource } from '#lib/domain/integration.ts';
import type { DriverContext, LeaseView } from '#lib/integrations/types.ts';

/** A stored integration for driver tests. */
export function testIntegration(
  type: IntegrationType,
  config: Integration['config'],
  resources: Resource[],
  extra: Partial<Integration> = {},
): Integration {
  return {
    id: `${type}-test`,
    name: `Test ${type}`,
    type,
    config,
    resources,
    version: 1,
    lastChange: { by: 'admin', channel: 'admin', action: 'create', at: '2026-01-01T00:00:00.000Z' },
    ...extra,
  };
}

export type TestContextOptions = {
  requestId?: string;
  grantee?: Identity;
  resource?: string;
  permission?: string;
  expiresAt?: Date;
  secret?: string;
  lease?: LeaseView;
  /** The grantee's linked accounts; `linked` records what the driver links. */
  accounts?: ChatAccount[];
  now?: Date;
};

/**
 * The context the workflow builds for one unit (lib/services/workflow.ts), for calling a driver directly. The
 * directory is in memory: `ctx.linked` lists what the driver linked.
 */
export function driverContext(
  integration: Integration,
  options: TestContextOptions = {},
): DriverContext & { linked: ChatAccount[] } {
  const resource = integration.resources.find((r) => options.resource === undefined || r.id === options.resource);
  if (resource === undefined) throw new Error(`no resource ${options.resource}`);
  const permission: Permission | undefined = resource.permissions.find(
    (p) => options.permission === undefined || p.id === options.permission,
  );
  if (permission === undefined) throw new Error(`no permission ${options.permission}`);
  const requestId = options.requestId ?? '01JTESTREQUEST0000000000000';
  const unit: AccessUnit = { integrationId: integration.id, resource: resource.id, permission: permission.id };
  const accounts = [...(options.accounts ?? [])];
  const linked: ChatAccount[] = [];
  const now = options.now ?? new Date();
  return {
    requestId,
    idempotencyKey: createHash('sha256')
      .update([requestId, unit.integrationId, unit.resource, unit.permission].join('\0'))
      .digest('hex')
      .slice(0, 32),
    grantee: options.grantee ?? { sub: 'alice', email: 'alice@example.com', groups: [] },
    integration,
    unit,
    resource,
    permission,
    expiresAt: options.expiresAt ?? new Date(now.getTime() + 30 * 60_000),
    admin: options.secret === undefined ? {} : { secret: options.secret },
    ...(options.lease === undefined ? {} : { lease: options.lease }),
    directory: {
      accounts: async () => [...accounts, ...linked],
      link: async (account) => {
        linked.push(account);
      },
    },
    now,
    linked,
  };
}

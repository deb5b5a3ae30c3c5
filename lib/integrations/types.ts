import type { z } from 'zod';
import type { AccessUnit } from '#lib/domain/bundle.ts';
import type { Identity } from '#lib/domain/identity.ts';
import type { Integration, IntegrationType, Permission, Resource } from '#lib/domain/integration.ts';

/** Everything a driver needs to grant, revoke or extend one access unit of one request. */
export type GrantContext = {
  requestId: string;
  grantee: Identity;
  integration: Integration;
  unit: AccessUnit;
  resource: Resource;
  permission: Permission;
  expiresAt: Date;
  /** The integration's resolved secret value (never logged). */
  adminSecret: string;
};

export type GrantResult = {
  /** Non-secret, enough to revoke/extend later (e.g. `{ role: 'stint_…' }`). */
  state: Record<string, unknown>;
  /** Shown to the grantee: host, port, database, username. */
  access?: Record<string, string | number>;
  /** Plain password; the caller seals it (lib/secrets/seal.ts) before storing. */
  secret?: string;
};

export interface IntegrationDriver {
  readonly type: IntegrationType;
  /** true when each request gets its own principal (PostgreSQL role): revoke always; false → revoke only when the lease empties. */
  readonly perRequestPrincipal: boolean;
  /** Validates Integration.config for this type (used when admins PUT an integration). */
  readonly configSchema: z.ZodType;
  /** Idempotent: a retry after a crash converges, never duplicates. */
  grant(ctx: GrantContext): Promise<GrantResult>;
  /** Idempotent; ends live sessions; revoking something already gone succeeds. */
  revoke(ctx: GrantContext, state: Record<string, unknown>): Promise<void>;
  /** Moves the target-side expiry to ctx.expiresAt. */
  extend(ctx: GrantContext, state: Record<string, unknown>): Promise<void>;
  /** Drift check: is the granted access still present on the target? */
  verify?(ctx: GrantContext, state: Record<string, unknown>): Promise<{ present: boolean }>;
}

/** An error retrying cannot fix (missing role, bad config, unreadable admin secret): the workflow does not retry it. */
export class GrantPermanentError extends Error {
  override readonly name = 'GrantPermanentError';
}

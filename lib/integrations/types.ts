import * as z from 'zod';
import type { ChatAccount } from '#lib/directory/types.ts';
import type { AccessUnit } from '#lib/domain/bundle.ts';
import type { Identity } from '#lib/domain/identity.ts';
import type { Integration, IntegrationInput, IntegrationType, Permission, Resource } from '#lib/domain/integration.ts';
import type { DiscoverAnswer } from '#lib/workflow/contract.ts';

/**
 * The driver contract: what every integration type implements (one file per type in lib/integrations/, one
 * Lambda per type in functions/workflow/driver-<type>.ts). The workflow (lib/services/workflow.ts) owns the
 * request, the leases and the waits; a driver only talks to its target.
 *
 * - Work may be asynchronous: grant and revoke answer `done` or `pending` ("poll after N s"); the state machine
 *   waits in a Wait state and calls the driver again with the state it returned, never in a sleeping Lambda.
 * - Overlapping requests may share a target-side thing (an Identity Center assignment): the driver names it in
 *   `leaseKeys`, and the workflow reference-counts it (revoke runs only for the last holder, and a new holder
 *   waits while that revoke runs).
 * - Everything a driver returns is recorded on the request item before the next step, so every step may be
 *   repeated after a crash: grant, revoke and extend are idempotent.
 */

/** JSON a driver keeps between steps (non-secret). */
export type DriverState = Record<string, unknown>;

/** The admin credential of an integration: the resolved secret, when the integration names one. */
export type AdminCredential = { secret?: string };

/** The lease of a shared target-side thing, as the workflow holds it for this request. */
export type LeaseView = {
  /** This request is the only holder: nobody else's access depends on the target-side thing. */
  soleHolder: boolean;
  /**
   * Whether Stint created the target-side thing (set by the first holder's grant, see GrantDone.owned). A
   * thing Stint did not create (someone's standing access) is never removed. Undefined: not known yet.
   */
  owned?: boolean;
};

/** Everything a driver needs to act on one access unit of one request. */
export type DriverContext = {
  requestId: string;
  /**
   * Stable for (request, unit): target APIs that take a client token get this, so a repeated call after a crash
   * is recognised. ≤ 64 characters of [A-Za-z0-9-].
   */
  idempotencyKey: string;
  grantee: Identity;
  /** The requester's justification, when the request has one (custom integrations pass it on). */
  justification?: string;
  integration: Integration;
  unit: AccessUnit;
  resource: Resource;
  permission: Permission;
  /** When the access must end (after an extension: the new end). */
  expiresAt: Date;
  admin: AdminCredential;
  /** Set when the driver names lease keys. */
  lease?: LeaseView;
  /**
   * The grantee's linked accounts in the directory (read on first call only), and linking a new one (e.g. the
   * Identity Store user id found by user name, so the next grant needs no lookup).
   */
  directory: {
    accounts(): Promise<ChatAccount[]>;
    link(account: ChatAccount): Promise<void>;
  };
  now: Date;
};

/**
 * What the grantee is shown on `GET /requests/{id}/access`, tagged by kind; never a secret (a password or a
 * custom secret is sealed separately and added to the answer only for the grantee).
 */
export const AccessView = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('database'),
    engine: z.enum(['postgresql', 'mysql', 'redis']),
    host: z.string(),
    port: z.number().int(),
    database: z.string().optional(),
    username: z.string(),
  }),
  z.strictObject({
    kind: z.literal('aws-account'),
    accountId: z.string(),
    permissionSet: z.string(),
    /** The AWS access portal (start URL) where the grantee picks the account and role. */
    portalUrl: z.string().optional(),
  }),
  z.strictObject({
    kind: z.literal('aws-role'),
    roleArn: z.string(),
    region: z.string(),
  }),
  z.strictObject({
    kind: z.literal('custom'),
    fields: z.record(z.string(), z.union([z.string(), z.number()])),
  }),
]);
export type AccessView = z.infer<typeof AccessView>;

/** Short-lived credentials issued on `GET /access` (drivers with `capabilities.issuesCredentials`). */
export type IssuedCredentials = {
  /** Shown as is (e.g. accessKeyId, secretAccessKey, sessionToken, expiration, region, consoleUrl). */
  fields: Record<string, string | number>;
  /** When these credentials stop working (≤ the request's expiresAt). */
  expiresAt: Date;
};

export type GrantDone = {
  status: 'done';
  /** Non-secret, enough to revoke / extend / verify later (e.g. `{ role: 'stint_…' }`). */
  state: DriverState;
  access?: AccessView;
  /** A password or custom secret for the grantee only; the workflow seals it before storing, erases it at revoke. */
  secret?: string;
  /** Shared things (leaseKeys): whether this grant created the target-side thing (false: it was already there). */
  owned?: boolean;
};
export type Pending = {
  status: 'pending';
  /** Passed back on the next call (grant: as `progress`; revoke: as `state`). */
  state: DriverState;
  /** When to call again (1–300 s). */
  pollAfterSeconds: number;
  /** What the target is doing, for people watching (e.g. "assignment IN_PROGRESS"). */
  reason: string;
  owned?: boolean;
};
export type GrantOutcome = GrantDone | Pending;

export type RevokeDone = {
  status: 'done';
  /** Work to do later (e.g. remove a deny statement once no session it denies can still be valid). */
  cleanup?: { afterSeconds: number; state: DriverState };
};
export type RevokeOutcome = RevokeDone | Pending;

/** What a driver can promise, shown to requesters and approvers. */
export type Capabilities = {
  /** Revoke ends sessions that are already open (PostgreSQL: terminates backends). */
  endsLiveSessions: boolean;
  /** How long a session opened before revoke may keep working after it (0 when revoke ends it at once). */
  residualSessionSeconds: number;
  /** The target ends the access on time by itself, even if every Lambda is down (PostgreSQL: VALID UNTIL). */
  targetEnforcesExpiry: boolean;
  /** Credentials are issued on `GET /access` (short-lived, re-issued when they run out before expiresAt). */
  issuesCredentials: boolean;
};

/**
 * What the target offers, for admins writing an integration's resources (`GET /integrations/{id}/discover`): the
 * same shape the driver function answers (DiscoverAnswer, lib/workflow/contract.ts).
 */
export type Discovered = DiscoverAnswer;

/**
 * What `PUT /integrations` checks of an integration of one type, without the driver's client library: each type's
 * lib/integrations/checks/<type>.ts, which the full driver spreads into itself (one definition of each).
 */
export type DriverChecks = Pick<IntegrationDriver, 'type' | 'configSchema' | 'needsSecret' | 'checkIntegration'>;

export interface IntegrationDriver {
  readonly type: IntegrationType;
  /** Parses Integration.config for this type (may be nested); used at `PUT /integrations` and by every call. */
  readonly configSchema: z.ZodType;
  /** Whether the integration must name an admin secret (`secretRef`). */
  readonly needsSecret: boolean;
  readonly capabilities: Capabilities;
  /**
   * The target-side things this unit shares with other requests (one key per thing, e.g.
   * `instance/account/permission-set/user`); [] when each request gets its own principal.
   */
  leaseKeys(ctx: Omit<DriverContext, 'lease' | 'admin'>): string[];
  /**
   * Checks beyond the config schema, at `PUT /integrations` (resources the target can grant, functions the
   * deployment allows): throws a ValidationError naming the field (`config.function`, `resources[0]…`).
   */
  checkIntegration?(input: IntegrationInput): Promise<void>;
  /** Idempotent; `progress` is the state of the last `pending` answer. */
  grant(ctx: DriverContext, progress?: DriverState): Promise<GrantOutcome>;
  /**
   * Idempotent; revoking something already gone is done. Called for the last holder of a shared thing only (and
   * then with `ctx.lease.owned`: false means leave the target alone), or always for a per-request principal.
   * `state` is what grant returned, or the state of the last `pending` answer of revoke.
   */
  revoke(ctx: DriverContext, state: DriverState): Promise<RevokeOutcome>;
  /** Moves the target-side expiry to ctx.expiresAt. */
  extend(ctx: DriverContext, state: DriverState): Promise<void>;
  /** The cleanup a revoke asked for (RevokeDone.cleanup), once its time has come; idempotent. */
  cleanup?(ctx: DriverContext, state: DriverState): Promise<void>;
  issueCredentials?(ctx: DriverContext, state: DriverState): Promise<IssuedCredentials>;
  /** Drift check: is the granted access still present on the target? */
  verify?(ctx: DriverContext, state: DriverState): Promise<{ present: boolean }>;
  discover?(ctx: Pick<DriverContext, 'integration' | 'admin' | 'now'>): Promise<Discovered>;
  /**
   * The orphan sweep (drivers with a per-request principal): the principal a unit of a request has on the target,
   * by name (deterministic: principals.ts principalNameFor), so the sweep knows what every live request holds.
   */
  principalOf?(requestId: string, unit: AccessUnit): string;
  /** The orphan sweep: every principal on the target that Stint created (its prefix and marker), nothing else. */
  listManaged?(ctx: Pick<DriverContext, 'integration' | 'admin' | 'now'>): Promise<ManagedPrincipal[]>;
  /**
   * The orphan sweep: removes a principal Stint created that no live request holds, as revoke would (sessions ended,
   * nothing left); idempotent. Refuses (throws) a principal without Stint's marker.
   */
  revokeManaged?(ctx: Pick<DriverContext, 'integration' | 'admin' | 'now'>, principal: ManagedPrincipal): Promise<void>;
}

/** A principal Stint created on a target, as listManaged finds it. */
export type ManagedPrincipal = {
  /** The user / role / ACL user name (principals.ts: `stint_…`). */
  name: string;
  /** The request it was made for, where the target keeps it (a comment, an attribute). */
  requestId?: string;
};

/** An error retrying cannot fix (missing role, bad config, unreadable admin secret): the workflow does not retry it. */
export class GrantPermanentError extends Error {
  override readonly name = 'GrantPermanentError';
}

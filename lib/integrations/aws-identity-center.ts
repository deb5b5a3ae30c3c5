import { createHash } from 'node:crypto';
import { GetUserIdCommand, IdentitystoreClient } from '@aws-sdk/client-identitystore';
import { DescribeAccountCommand, ListAccountsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import {
  CreateAccountAssignmentCommand,
  DeleteAccountAssignmentCommand,
  DeleteInlinePolicyFromPermissionSetCommand,
  DescribeAccountAssignmentCreationStatusCommand,
  DescribeAccountAssignmentDeletionStatusCommand,
  DescribePermissionSetCommand,
  DescribePermissionSetProvisioningStatusCommand,
  GetInlinePolicyForPermissionSetCommand,
  ListAccountAssignmentCreationStatusCommand,
  ListAccountAssignmentsCommand,
  ListPermissionSetsCommand,
  ProvisionPermissionSetCommand,
  PutInlinePolicyToPermissionSetCommand,
  SSOAdminClient,
} from '@aws-sdk/client-sso-admin';
import * as z from 'zod';
import { IDENTITY_STORE_USER_ID, IdentityStoreAccount } from '#lib/directory/types.ts';
import { slugOf } from '#lib/domain/common.ts';
import { type AwsTarget, awsClient, awsErrorName, toDriverError } from './aws-clients.ts';
import { CAPABILITIES, PERMISSION_SET_PROPAGATION_SECONDS } from './capabilities.ts';
import {
  ACCOUNT_ID,
  AwsIdentityCenterConfig,
  awsIdentityCenterChecks,
  INSTANCE_ARN,
  instanceIdOf,
  PERMISSION_SET_ARN,
  resourceIssues,
  validateResources,
} from './checks/aws-identity-center.ts';
import {
  type Capabilities,
  type Discovered,
  type DriverContext,
  type DriverState,
  type GrantOutcome,
  GrantPermanentError,
  type IntegrationDriver,
  type Pending,
  type RevokeOutcome,
} from './types.ts';

/**
 * AWS IAM Identity Center: a grant assigns a permission set on an AWS account to the grantee's Identity Store
 * user (CreateAccountAssignment, PrincipalType USER), and waits until AWS reports it SUCCEEDED (the request is
 * asynchronous: API_CreateAccountAssignment.html "After a successful response, call
 * DescribeAccountAssignmentCreationStatus"). A revoke deletes the assignment, waits for it, then ends the sessions
 * already open with the permission set: an explicit Deny on `*` for that user (`identitystore:userId`) and
 * tokens issued before the revoke (`aws:TokenIssueTime`), merged into the permission set's inline policy and
 * provisioned to the account (IAM Identity Center User Guide, "Revoke active IAM role sessions created by
 * permission sets"). Once no session issued before the revoke can still be valid (the permission set's
 * SessionDuration), cleanup removes that statement again.
 *
 * Docs page: docs/integrations/aws-identity-center.md.
 */

/** USER_ID: API_User.html's UserId pattern. */
const USER_ID = IDENTITY_STORE_USER_ID;

/** The config schema and resource checks, in the light module PUT /integrations checks with (no SDK client there). */
/** The grantee's Identity Store user, as a linked directory account (lib/directory/types.ts). */
export { AwsIdentityCenterConfig, IdentityStoreAccount, resourceIssues, validateResources };

/** What grant returns as state and revoke / verify / cleanup read back. */
const Granted = z.object({
  instanceArn: z.string().regex(INSTANCE_ARN),
  userId: z.string().regex(USER_ID),
  accountId: z.string().regex(ACCOUNT_ID),
  permissionSetArn: z.string().regex(PERMISSION_SET_ARN),
  permissionSetName: z.string(),
  /** The permission set's SessionDuration in seconds (how long a session opened before revoke may last). */
  sessionSeconds: z.number().int().positive(),
});
type Granted = z.infer<typeof Granted>;

const Counters = { polls: z.number().int().min(0).default(0), attempts: z.number().int().min(0).default(0) };

/** Grant progress: `create` (next call creates; recorded first so a crash after the create still counts as ours). */
const GrantProgress = Granted.extend({
  step: z.enum(['create', 'creating']),
  requestId: z.string().optional(),
  ...Counters,
});
type GrantProgress = z.infer<typeof GrantProgress>;

/** Revoke progress; without `step` it is grant's state (the first call). */
const RevokeProgress = Granted.partial({ userId: true, permissionSetName: true, sessionSeconds: true }).extend({
  step: z.enum(['delete', 'deleting', 'deny', 'provisioning']).optional(),
  requestId: z.string().optional(),
  /** The TokenIssueTime of the deny statement (fixed at the first deny attempt, so retries write the same). */
  issuedBefore: z.iso.datetime().optional(),
  ...Counters,
});
type RevokeProgress = z.infer<typeof RevokeProgress>;

/** What cleanup needs: the statement to remove, and only if it still denies tokens issued before this time. */
const CleanupState = z.object({
  instanceArn: z.string().regex(INSTANCE_ARN),
  userId: z.string().regex(USER_ID),
  accountId: z.string().regex(ACCOUNT_ID),
  permissionSetArn: z.string().regex(PERMISSION_SET_ARN),
  sid: z.string().regex(/^[A-Za-z0-9]+$/),
  issuedBefore: z.iso.datetime(),
});
type CleanupState = z.infer<typeof CleanupState>;

/** Seconds to wait before polling again: Fibonacci 1, 1, 2, 3, 5, 8, … capped at 30. */
export function backoffSeconds(polls: number): number {
  let [a, b] = [1, 1];
  for (let i = 0; i < polls && a < 30; i++) [a, b] = [b, a + b];
  return Math.min(a, 30);
}

/**
 * FailureReasons that a later attempt may not get (throttling, AWS-side errors, a concurrent change); anything
 * else (an unsupported policy, a missing account, the IAM role quota) is the configuration's and permanent.
 */
const TRANSIENT_FAILURE =
  /throttl|rate exceeded|too many requests|try again|temporar|internal (server )?(error|failure)|service unavailable|status error: (429|5\d\d)|concurrent/i;
/** Transient FAILED answers re-issued before giving up (as a retryable error). */
const MAX_ATTEMPTS = 3;

/** API_PutInlinePolicyToPermissionSet.html: InlinePolicy is at most 32,768 characters. */
const MAX_INLINE_POLICY = 32_768;

/** IAM Identity Center's promises (lib/integrations/capabilities.ts). */
export const capabilities: Capabilities = CAPABILITIES['aws-identity-center'];

function parseConfig(integration: DriverContext['integration']): AwsIdentityCenterConfig {
  const parsed = AwsIdentityCenterConfig.safeParse(integration.config);
  if (!parsed.success)
    throw new GrantPermanentError(
      `integration ${integration.id}: invalid aws-identity-center config (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`,
    );
  return parsed.data;
}

function awsTarget(cfg: AwsIdentityCenterConfig): AwsTarget {
  return {
    region: cfg.region,
    session: 'idc',
    ...(cfg.roleArn === undefined ? {} : { roleArn: cfg.roleArn }),
    ...(cfg.externalId === undefined ? {} : { externalId: cfg.externalId }),
  };
}

const permissionSetIdOf = (permissionSetArn: string) => permissionSetArn.slice(permissionSetArn.lastIndexOf('/') + 1);
/** The account and permission set of this unit (checked again: the integration may predate the check). */
function targetOf(ctx: Pick<DriverContext, 'integration' | 'resource' | 'permission'>, cfg: AwsIdentityCenterConfig) {
  const unit = { ...ctx.resource, permissions: [ctx.permission] };
  const issues = resourceIssues([unit], cfg.instanceArn);
  const [permissionSetArn] = ctx.permission.grants;
  if (issues.length > 0 || permissionSetArn === undefined)
    throw new GrantPermanentError(
      `integration ${ctx.integration.id}, resource ${ctx.resource.id}, permission ${ctx.permission.id}: ${issues
        .map((i) => i.message)
        .join('; ')}`,
    );
  return { accountId: ctx.resource.id, permissionSetArn };
}

function leaseKeys(ctx: Omit<DriverContext, 'lease' | 'admin'>): string[] {
  const cfg = parseConfig(ctx.integration);
  const { accountId, permissionSetArn } = targetOf(ctx, cfg);
  return [
    `sso/${instanceIdOf(cfg.instanceArn)}/${accountId}/${permissionSetIdOf(permissionSetArn)}/${ctx.grantee.sub}`,
  ];
}

// ---- AWS calls (every answer parsed) ----

const sso = (cfg: AwsIdentityCenterConfig) => awsClient(SSOAdminClient, awsTarget(cfg));
const identityStore = (cfg: AwsIdentityCenterConfig) => awsClient(IdentitystoreClient, awsTarget(cfg));
const organizations = (cfg: AwsIdentityCenterConfig) => awsClient(OrganizationsClient, awsTarget(cfg));

/** API_AccountAssignmentOperationStatus.html */
const OperationStatus = z.object({
  Status: z.enum(['IN_PROGRESS', 'FAILED', 'SUCCEEDED']),
  RequestId: z.string().min(1),
  FailureReason: z.string().optional(),
  TargetId: z.string().optional(),
  PermissionSetArn: z.string().optional(),
  PrincipalId: z.string().optional(),
});
type OperationStatus = z.infer<typeof OperationStatus>;

/** DescribeAccountAssignmentCreationStatus: where a creation is (and which assignment it makes). */
async function creationStatus(
  cfg: AwsIdentityCenterConfig,
  instanceArn: string,
  requestId: string,
  where: string,
): Promise<OperationStatus> {
  const input = { InstanceArn: instanceArn, AccountAssignmentCreationRequestId: requestId };
  const out = await call(`${where}: DescribeAccountAssignmentCreationStatus`, () =>
    sso(cfg).send(new DescribeAccountAssignmentCreationStatusCommand(input)),
  );
  return z.object({ AccountAssignmentCreationStatus: OperationStatus }).parse(out).AccountAssignmentCreationStatus;
}

async function call<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toDriverError(error, what);
  }
}

/** ISO-8601 duration as PermissionSet.SessionDuration holds it (PT1H, PT12H, PT1H30M); default 1 hour. */
export function durationSeconds(duration: string | undefined): number {
  const m = duration === undefined ? null : /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$/.exec(duration);
  if (m === null) return 3600;
  const seconds = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  return seconds > 0 ? seconds : 3600;
}

const PermissionSetView = z.object({
  PermissionSet: z.object({
    Name: z.string(),
    PermissionSetArn: z.string(),
    Description: z.string().optional(),
    SessionDuration: z.string().optional(),
  }),
});

async function describePermissionSet(cfg: AwsIdentityCenterConfig, instanceArn: string, permissionSetArn: string) {
  const out = await call(`permission set ${permissionSetArn}`, () =>
    sso(cfg).send(new DescribePermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: permissionSetArn })),
  );
  const { PermissionSet } = PermissionSetView.parse(out);
  return {
    name: PermissionSet.Name,
    description: PermissionSet.Description,
    sessionSeconds: durationSeconds(PermissionSet.SessionDuration),
  };
}

const AssignmentsPage = z.object({
  AccountAssignments: z
    .array(z.object({ PrincipalType: z.string().optional(), PrincipalId: z.string().optional() }))
    .default([]),
  NextToken: z.string().optional(),
});

/** Whether the user holds the permission set on the account directly (not through a group). */
async function hasAssignment(
  cfg: AwsIdentityCenterConfig,
  t: { instanceArn: string; accountId: string; permissionSetArn: string; userId: string },
): Promise<boolean> {
  let next: string | undefined;
  do {
    const token = next;
    const out = await call(`account assignments of ${t.accountId}`, () =>
      sso(cfg).send(
        new ListAccountAssignmentsCommand({
          InstanceArn: t.instanceArn,
          AccountId: t.accountId,
          PermissionSetArn: t.permissionSetArn,
          MaxResults: 100,
          ...(token === undefined ? {} : { NextToken: token }),
        }),
      ),
    );
    const page = AssignmentsPage.parse(out);
    if (page.AccountAssignments.some((a) => a.PrincipalType === 'USER' && a.PrincipalId === t.userId)) return true;
    next = page.NextToken;
  } while (next !== undefined);
  return false;
}

/** DescribeAccount: an account outside the organization would make the assignment fail later, "silently". */
async function checkAccount(ctx: DriverContext, cfg: AwsIdentityCenterConfig, accountId: string): Promise<void> {
  let out: unknown;
  try {
    out = await organizations(cfg).send(new DescribeAccountCommand({ AccountId: accountId }));
  } catch (error) {
    if (awsErrorName(error) === 'AccountNotFoundException')
      throw new GrantPermanentError(
        `integration ${ctx.integration.id}: AWS account ${accountId} is not in the organization (AccountNotFoundException)`,
      );
    throw toDriverError(error, `integration ${ctx.integration.id}: DescribeAccount ${accountId}`);
  }
  const { Account } = z
    .object({ Account: z.object({ Id: z.string(), Status: z.string().optional(), State: z.string().optional() }) })
    .parse(out);
  const state = Account.State ?? Account.Status;
  if (state !== undefined && state !== 'ACTIVE')
    throw new GrantPermanentError(
      `integration ${ctx.integration.id}: AWS account ${accountId} is ${state}, not ACTIVE`,
    );
}

async function lookUpUserId(
  cfg: AwsIdentityCenterConfig,
  path: 'userName' | 'emails.value',
  value: string,
): Promise<string | undefined> {
  try {
    const out = await identityStore(cfg).send(
      new GetUserIdCommand({
        IdentityStoreId: cfg.identityStoreId,
        AlternateIdentifier: { UniqueAttribute: { AttributePath: path, AttributeValue: value } },
      }),
    );
    return z.object({ UserId: z.string().regex(USER_ID) }).parse(out).UserId;
  } catch (error) {
    if (awsErrorName(error) === 'ResourceNotFoundException') return undefined;
    throw toDriverError(error, `GetUserId (${path})`);
  }
}

/**
 * The grantee's Identity Store user: a linked `aws-identity-store` account of this identity store, else GetUserId
 * by `userName` = email, then by `emails.value` = email (API_GetUserId.html: "the only valid paths are userName and
 * emails.value"), which is then linked so the next grant needs no lookup.
 */
async function findUserId(ctx: DriverContext, cfg: AwsIdentityCenterConfig): Promise<string | undefined> {
  for (const account of await ctx.directory.accounts()) {
    const linked = IdentityStoreAccount.safeParse(account);
    if (linked.success && linked.data.identityStoreId === cfg.identityStoreId) return linked.data.userId;
  }
  const email = ctx.grantee.email;
  const userId = (await lookUpUserId(cfg, 'userName', email)) ?? (await lookUpUserId(cfg, 'emails.value', email));
  if (userId === undefined) return undefined;
  // Linking only saves the next lookup: a grantee with no directory entry (token-only identities) cannot be linked,
  // and that must not fail a grant.
  await ctx.directory
    .link({ kind: 'aws-identity-store', identityStoreId: cfg.identityStoreId, userId })
    .catch(() => undefined);
  return userId;
}

/** findUserId, or a GrantPermanentError naming the grantee. */
async function requireUserId(ctx: DriverContext, cfg: AwsIdentityCenterConfig): Promise<string> {
  const userId = await findUserId(ctx, cfg);
  if (userId === undefined)
    throw new GrantPermanentError(
      `integration ${ctx.integration.id}: no user with user name or email ${ctx.grantee.email} in identity store ${cfg.identityStoreId}`,
    );
  return userId;
}

function pending(state: DriverState, polls: number, reason: string): Pending {
  return { status: 'pending', state, pollAfterSeconds: backoffSeconds(polls), reason };
}

/**
 * A FAILED operation: returns (the caller tries again) when the reason is transient and attempts remain; else
 * throws a GrantPermanentError with AWS's reason, or a retryable Error once the attempts are used up.
 */
function throwUnlessRetriable(what: string, status: OperationStatus, attempts: number): void {
  const reason = status.FailureReason ?? 'no FailureReason';
  if (!TRANSIENT_FAILURE.test(reason)) throw new GrantPermanentError(`${what} FAILED: ${reason}`);
  if (attempts + 1 >= MAX_ATTEMPTS) throw new Error(`${what} FAILED ${attempts + 1} times: ${reason}`);
}

/** The parameters that name one assignment (a user, a permission set, an account), as Create and Delete take them. */
function assignmentOf(t: { instanceArn: string; accountId: string; permissionSetArn: string; userId: string }) {
  return {
    InstanceArn: t.instanceArn,
    TargetId: t.accountId,
    TargetType: 'AWS_ACCOUNT',
    PermissionSetArn: t.permissionSetArn,
    PrincipalType: 'USER',
    PrincipalId: t.userId,
  } as const;
}

// ---- grant ----

function grantedOf(state: Granted): Granted {
  const { instanceArn, userId, accountId, permissionSetArn, permissionSetName, sessionSeconds } = state;
  return { instanceArn, userId, accountId, permissionSetArn, permissionSetName, sessionSeconds };
}

function done(cfg: AwsIdentityCenterConfig, state: Granted, owned: boolean | undefined): GrantOutcome {
  return {
    status: 'done',
    state: grantedOf(state),
    access: {
      kind: 'aws-account',
      accountId: state.accountId,
      permissionSet: state.permissionSetName,
      ...(cfg.portalUrl === undefined ? {} : { portalUrl: cfg.portalUrl }),
    },
    ...(owned === undefined ? {} : { owned }),
  };
}

/** Whether a grant that created (or converged on) the assignment owns it: another holder's lease decides. */
function createdOwned(ctx: DriverContext): boolean | undefined {
  return ctx.lease !== undefined && !ctx.lease.soleHolder ? ctx.lease.owned : true;
}

async function grant(ctx: DriverContext, progress?: DriverState): Promise<GrantOutcome> {
  const cfg = parseConfig(ctx.integration);
  const where = `integration ${ctx.integration.id}`;
  const parsed = progress === undefined ? undefined : GrantProgress.safeParse(progress);
  if (parsed !== undefined && !parsed.success)
    throw new GrantPermanentError(`${where}: unreadable grant progress (${parsed.error.message})`);
  const p: GrantProgress | undefined = parsed?.data;

  if (p === undefined) {
    const { accountId, permissionSetArn } = targetOf(ctx, cfg);
    const userId = await requireUserId(ctx, cfg);
    await checkAccount(ctx, cfg, accountId);
    const set = await describePermissionSet(cfg, cfg.instanceArn, permissionSetArn);
    const state: Granted = {
      instanceArn: cfg.instanceArn,
      userId,
      accountId,
      permissionSetArn,
      permissionSetName: set.name,
      sessionSeconds: set.sessionSeconds,
    };
    if (await hasAssignment(cfg, state)) {
      // Already there: someone's standing access (never removed), unless a holder's lease says Stint made it.
      const owned =
        ctx.lease === undefined || (ctx.lease.soleHolder && ctx.lease.owned === undefined) ? false : ctx.lease.owned;
      return done(cfg, state, owned);
    }
    // Record "Stint creates it" before creating, so a crash right after CreateAccountAssignment is still ours.
    return pending({ ...state, step: 'create', polls: 0, attempts: 0 }, 0, 'creating the account assignment');
  }

  if (p.step === 'creating' && p.requestId !== undefined) {
    const status = await creationStatus(cfg, p.instanceArn, p.requestId, where);
    if (status.Status === 'SUCCEEDED') return done(cfg, p, createdOwned(ctx));
    if (status.Status === 'IN_PROGRESS')
      return pending({ ...p, polls: p.polls + 1 }, p.polls + 1, 'account assignment IN_PROGRESS');
    throwUnlessRetriable(`${where}: assignment of ${p.permissionSetName} on ${p.accountId}`, status, p.attempts);
    const { requestId: _failed, ...rest } = p;
    return pending(
      { ...rest, step: 'create', attempts: p.attempts + 1 },
      p.attempts + 1,
      `account assignment FAILED (${status.FailureReason}); retrying`,
    );
  }

  // step 'create'. CreateAccountAssignment of an existing assignment succeeds again, so a repeat is harmless.
  const current = p;
  let out: unknown;
  try {
    out = await sso(cfg).send(new CreateAccountAssignmentCommand(assignmentOf(current)));
  } catch (error) {
    // A creation or deletion for the same assignment is in flight (API_CreateAccountAssignment.html, Errors).
    if (awsErrorName(error) === 'ConflictException')
      return pending(
        { ...current, polls: current.polls + 1 },
        current.polls + 1,
        'another change of this assignment is in progress (ConflictException)',
      );
    throw toDriverError(error, `${where}: CreateAccountAssignment`);
  }
  const status = z
    .object({ AccountAssignmentCreationStatus: OperationStatus })
    .parse(out).AccountAssignmentCreationStatus;
  if (status.Status === 'SUCCEEDED') return done(cfg, current, createdOwned(ctx));
  if (status.Status === 'FAILED') {
    throwUnlessRetriable(
      `${where}: assignment of ${current.permissionSetName} on ${current.accountId}`,
      status,
      current.attempts,
    );
    return pending(
      { ...current, attempts: current.attempts + 1 },
      current.attempts + 1,
      `account assignment FAILED (${status.FailureReason}); retrying`,
    );
  }
  return pending(
    { ...current, step: 'creating', requestId: status.RequestId, polls: 0 },
    0,
    'account assignment IN_PROGRESS',
  );
}

// ---- revoke ----

/** The Sid of the deny statement for one user: idempotent, only letters and digits (IAM Sid grammar). */
export function denySid(userId: string): string {
  return `StintRevoke${createHash('sha256').update(userId).digest('hex').slice(0, 24)}`;
}

const PolicyDocument = z.looseObject({
  Version: z.string().optional(),
  Statement: z.union([z.array(z.record(z.string(), z.unknown())), z.record(z.string(), z.unknown())]),
});

async function readInlinePolicy(
  cfg: AwsIdentityCenterConfig,
  instanceArn: string,
  permissionSetArn: string,
  where: string,
) {
  const out = await call(`${where}: GetInlinePolicyForPermissionSet`, () =>
    sso(cfg).send(
      new GetInlinePolicyForPermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: permissionSetArn }),
    ),
  );
  const text = z.object({ InlinePolicy: z.string().optional() }).parse(out).InlinePolicy;
  if (text === undefined || text.trim() === '') return { Version: '2012-10-17', Statement: [] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new GrantPermanentError(`${where}: the inline policy of ${permissionSetArn} is not JSON`);
  }
  const doc = PolicyDocument.safeParse(json);
  if (!doc.success)
    throw new GrantPermanentError(`${where}: the inline policy of ${permissionSetArn} has no Statement`);
  const statements = Array.isArray(doc.data.Statement) ? doc.data.Statement : [doc.data.Statement];
  return { ...doc.data, Statement: statements };
}

function denyStatement(userId: string, issuedBefore: string): Record<string, unknown> {
  return {
    Sid: denySid(userId),
    Effect: 'Deny',
    Action: '*',
    Resource: '*',
    Condition: {
      StringEquals: { 'identitystore:userId': userId },
      DateLessThan: { 'aws:TokenIssueTime': issuedBefore },
    },
  };
}

const issueTimeOf = (statement: Record<string, unknown>) =>
  z
    .object({ Condition: z.object({ DateLessThan: z.object({ 'aws:TokenIssueTime': z.string() }) }) })
    .safeParse(statement).data?.Condition.DateLessThan['aws:TokenIssueTime'];

async function writeInlinePolicy(
  cfg: AwsIdentityCenterConfig,
  instanceArn: string,
  permissionSetArn: string,
  doc: { Statement: Record<string, unknown>[] },
  where: string,
): Promise<void> {
  if (doc.Statement.length === 0) {
    await call(`${where}: DeleteInlinePolicyFromPermissionSet`, () =>
      sso(cfg).send(
        new DeleteInlinePolicyFromPermissionSetCommand({
          InstanceArn: instanceArn,
          PermissionSetArn: permissionSetArn,
        }),
      ),
    );
    return;
  }
  const text = JSON.stringify(doc);
  if (text.length > MAX_INLINE_POLICY)
    throw new GrantPermanentError(
      `${where}: the inline policy of ${permissionSetArn} would exceed ${MAX_INLINE_POLICY} characters with the deny statement`,
    );
  await call(`${where}: PutInlinePolicyToPermissionSet`, () =>
    sso(cfg).send(
      new PutInlinePolicyToPermissionSetCommand({
        InstanceArn: instanceArn,
        PermissionSetArn: permissionSetArn,
        InlinePolicy: text,
      }),
    ),
  );
}

const ProvisioningStatus = z.object({
  PermissionSetProvisioningStatus: z.object({
    Status: z.enum(['IN_PROGRESS', 'FAILED', 'SUCCEEDED']),
    RequestId: z.string().min(1),
    FailureReason: z.string().optional(),
  }),
});

/** ProvisionPermissionSet to one account; undefined on ConflictException (a provisioning is in flight). */
async function provision(
  cfg: AwsIdentityCenterConfig,
  t: { instanceArn: string; permissionSetArn: string; accountId: string },
  where: string,
) {
  try {
    const out = await sso(cfg).send(
      new ProvisionPermissionSetCommand({
        InstanceArn: t.instanceArn,
        PermissionSetArn: t.permissionSetArn,
        TargetType: 'AWS_ACCOUNT',
        TargetId: t.accountId,
      }),
    );
    return ProvisioningStatus.parse(out).PermissionSetProvisioningStatus;
  } catch (error) {
    if (awsErrorName(error) === 'ConflictException') return undefined;
    throw toDriverError(error, `${where}: ProvisionPermissionSet`);
  }
}

function revokeDone(
  p: RevokeProgress & { userId: string; issuedBefore: string },
  sessionSeconds: number,
): RevokeOutcome {
  const state: CleanupState = {
    instanceArn: p.instanceArn,
    userId: p.userId,
    accountId: p.accountId,
    permissionSetArn: p.permissionSetArn,
    sid: denySid(p.userId),
    issuedBefore: p.issuedBefore,
  };
  // A session issued before the revoke lasts at most SessionDuration; then the statement denies nothing.
  return { status: 'done', cleanup: { afterSeconds: sessionSeconds + PERMISSION_SET_PROPAGATION_SECONDS, state } };
}

/**
 * The id of a creation of this assignment still IN_PROGRESS: ListAccountAssignmentCreationStatus (filtered to
 * IN_PROGRESS, paged) gives ids only, DescribeAccountAssignmentCreationStatus names each one's assignment.
 */
async function creationInFlight(cfg: AwsIdentityCenterConfig, t: Granted): Promise<string | undefined> {
  let token: string | undefined;
  do {
    const input = {
      InstanceArn: t.instanceArn,
      Filter: { Status: 'IN_PROGRESS' as const },
      ...(token === undefined ? {} : { NextToken: token }),
    };
    const out = await call('ListAccountAssignmentCreationStatus', () =>
      sso(cfg).send(new ListAccountAssignmentCreationStatusCommand(input)),
    );
    const listed = z
      .object({
        AccountAssignmentsCreationStatus: z.array(z.object({ RequestId: z.string() })).default([]),
        NextToken: z.string().optional(),
      })
      .parse(out);
    for (const { RequestId } of listed.AccountAssignmentsCreationStatus) {
      const status = await creationStatus(cfg, t.instanceArn, RequestId, 'integration');
      if (
        status.Status === 'IN_PROGRESS' &&
        status.TargetId === t.accountId &&
        status.PermissionSetArn === t.permissionSetArn &&
        status.PrincipalId === t.userId
      )
        return RequestId;
    }
    token = listed.NextToken;
  } while (token !== undefined);
  return undefined;
}

async function revoke(ctx: DriverContext, state: DriverState): Promise<RevokeOutcome> {
  // Standing access Stint did not create: leave the target alone.
  if (ctx.lease?.owned === false) return { status: 'done' };
  const cfg = parseConfig(ctx.integration);
  const where = `integration ${ctx.integration.id}`;
  // A revoke of a grant still creating (revoked, or given up, while IN_PROGRESS): AWS finishes a creation it has
  // accepted whether or not anyone asks, so wait for its outcome, then delete what it made.
  let creating = GrantProgress.safeParse(state);
  // "About to create" recorded, the creation's id not (a crash right after CreateAccountAssignment): find a
  // creation of this assignment still in flight, if any, and wait for it like one whose id was recorded.
  if (creating.success && creating.data.step === 'create') {
    const inFlight = await creationInFlight(cfg, creating.data);
    if (inFlight !== undefined) {
      creating = GrantProgress.safeParse({ ...creating.data, step: 'creating', requestId: inFlight });
    }
  }
  if (creating.success && creating.data.step === 'creating' && creating.data.requestId !== undefined) {
    const status = await creationStatus(cfg, creating.data.instanceArn, creating.data.requestId, where);
    const polls = creating.data.polls + 1;
    if (status.Status === 'IN_PROGRESS')
      return pending({ ...creating.data, polls }, polls, 'waiting for the account assignment being created to finish');
  }
  // Grant's fields only: its step and counters are not revoke's.
  const parsed = RevokeProgress.safeParse(creating.success ? grantedOf(creating.data) : state);
  let p: RevokeProgress;
  if (parsed.success) p = parsed.data;
  else {
    // Grant never recorded its state (it failed before): act on what this unit names.
    const { accountId, permissionSetArn } = targetOf(ctx, cfg);
    p = { instanceArn: cfg.instanceArn, accountId, permissionSetArn, polls: 0, attempts: 0 };
  }
  const userId = p.userId ?? (await findUserId(ctx, cfg));
  // No Identity Store user: nothing can have been assigned to them.
  if (userId === undefined) return { status: 'done' };
  const t = { instanceArn: p.instanceArn, accountId: p.accountId, permissionSetArn: p.permissionSetArn, userId };
  let step = p.step ?? 'delete';

  if (step === 'delete') {
    if (await hasAssignment(cfg, t)) {
      let out: unknown;
      try {
        out = await sso(cfg).send(new DeleteAccountAssignmentCommand(assignmentOf(t)));
      } catch (error) {
        const name = awsErrorName(error);
        if (name === 'ConflictException')
          return pending(
            { ...p, userId, step: 'delete', polls: p.polls + 1 },
            p.polls + 1,
            'another change of this assignment is in progress (ConflictException)',
          );
        if (name !== 'ResourceNotFoundException') throw toDriverError(error, `${where}: DeleteAccountAssignment`);
        out = undefined; // deleted meanwhile
      }
      if (out !== undefined) {
        const status = z
          .object({ AccountAssignmentDeletionStatus: OperationStatus })
          .parse(out).AccountAssignmentDeletionStatus;
        if (status.Status === 'IN_PROGRESS')
          return pending(
            { ...p, userId, step: 'deleting', requestId: status.RequestId, polls: 0 },
            0,
            'assignment deletion IN_PROGRESS',
          );
        if (status.Status === 'FAILED') {
          throwUnlessRetriable(`${where}: deletion of the assignment on ${t.accountId}`, status, p.attempts);
          return pending(
            { ...p, userId, step: 'delete', attempts: p.attempts + 1 },
            p.attempts + 1,
            'assignment deletion FAILED; retrying',
          );
        }
      }
    }
    step = 'deny';
  }

  if (step === 'deleting') {
    const requestId = p.requestId ?? '';
    const out = await call(`${where}: DescribeAccountAssignmentDeletionStatus`, () =>
      sso(cfg).send(
        new DescribeAccountAssignmentDeletionStatusCommand({
          InstanceArn: t.instanceArn,
          AccountAssignmentDeletionRequestId: requestId,
        }),
      ),
    );
    const status = z
      .object({ AccountAssignmentDeletionStatus: OperationStatus })
      .parse(out).AccountAssignmentDeletionStatus;
    if (status.Status === 'IN_PROGRESS')
      return pending({ ...p, userId, polls: p.polls + 1 }, p.polls + 1, 'assignment deletion IN_PROGRESS');
    if (status.Status === 'FAILED') {
      throwUnlessRetriable(`${where}: deletion of the assignment on ${t.accountId}`, status, p.attempts);
      return pending(
        { ...p, userId, step: 'delete', attempts: p.attempts + 1, polls: 0 },
        p.attempts + 1,
        'assignment deletion FAILED; retrying',
      );
    }
    step = 'deny';
  }

  const issuedBefore = p.issuedBefore ?? ctx.now.toISOString();
  const sid = denySid(userId);

  if (step === 'deny') {
    // Read-modify-write of the shared inline policy: our statement replaces an older one for the same user.
    const doc = await readInlinePolicy(cfg, t.instanceArn, t.permissionSetArn, where);
    const others = doc.Statement.filter((s) => s.Sid !== sid);
    await writeInlinePolicy(
      cfg,
      t.instanceArn,
      t.permissionSetArn,
      { ...doc, Statement: [...others, denyStatement(userId, issuedBefore)] },
      where,
    );
    const status = await provision(cfg, t, where);
    const base = { ...p, userId, issuedBefore };
    if (status === undefined)
      return pending(
        { ...base, step: 'deny', polls: p.polls + 1 },
        p.polls + 1,
        'another provisioning of this permission set is in progress (ConflictException)',
      );
    if (status.Status === 'FAILED') {
      throwUnlessRetriable(`${where}: provisioning of ${t.permissionSetArn} to ${t.accountId}`, status, p.attempts);
      return pending(
        { ...base, step: 'deny', attempts: p.attempts + 1 },
        p.attempts + 1,
        'provisioning FAILED; retrying',
      );
    }
    if (status.Status === 'IN_PROGRESS')
      return pending(
        { ...base, step: 'provisioning', requestId: status.RequestId, polls: 0 },
        0,
        'provisioning the deny statement IN_PROGRESS',
      );
    step = 'provisioning';
    p = { ...base, step, requestId: status.RequestId, polls: 0 };
  }

  // step 'provisioning'
  const requestId = p.requestId ?? '';
  const out = await call(`${where}: DescribePermissionSetProvisioningStatus`, () =>
    sso(cfg).send(
      new DescribePermissionSetProvisioningStatusCommand({
        InstanceArn: t.instanceArn,
        ProvisionPermissionSetRequestId: requestId,
      }),
    ),
  );
  const status = ProvisioningStatus.parse(out).PermissionSetProvisioningStatus;
  const base = { ...p, userId, issuedBefore };
  if (status.Status === 'IN_PROGRESS')
    return pending({ ...base, polls: p.polls + 1 }, p.polls + 1, 'provisioning the deny statement IN_PROGRESS');
  if (status.Status === 'FAILED') {
    throwUnlessRetriable(`${where}: provisioning of ${t.permissionSetArn} to ${t.accountId}`, status, p.attempts);
    return pending(
      { ...base, step: 'deny', attempts: p.attempts + 1, polls: 0 },
      p.attempts + 1,
      'provisioning FAILED; retrying',
    );
  }
  // A concurrent read-modify-write (another revoke on this permission set) may have dropped our statement.
  const now = await readInlinePolicy(cfg, t.instanceArn, t.permissionSetArn, where);
  if (!now.Statement.some((s) => s.Sid === sid && issueTimeOf(s) === issuedBefore))
    return pending({ ...base, step: 'deny', polls: 0 }, 0, 'the deny statement was overwritten; writing it again');
  const sessionSeconds =
    p.sessionSeconds ?? (await describePermissionSet(cfg, t.instanceArn, t.permissionSetArn)).sessionSeconds;
  return revokeDone(base, sessionSeconds);
}

/**
 * Removes the deny statement a revoke wrote (only if it still holds that revoke's TokenIssueTime: a later revoke
 * of the same user owns a newer one) and provisions the permission set to the account again without waiting
 * (a stale deny left in the account's role denies only sessions that have expired).
 */
async function cleanup(ctx: DriverContext, state: DriverState): Promise<void> {
  const cfg = parseConfig(ctx.integration);
  const where = `integration ${ctx.integration.id}`;
  const parsed = CleanupState.safeParse(state);
  if (!parsed.success) throw new GrantPermanentError(`${where}: unreadable cleanup state (${parsed.error.message})`);
  const c = parsed.data;
  const doc = await readInlinePolicy(cfg, c.instanceArn, c.permissionSetArn, where);
  const ours = doc.Statement.find((s) => s.Sid === c.sid);
  if (ours !== undefined) {
    if (issueTimeOf(ours) !== c.issuedBefore) return; // a later revoke's statement
    await writeInlinePolicy(
      cfg,
      c.instanceArn,
      c.permissionSetArn,
      { ...doc, Statement: doc.Statement.filter((s) => s !== ours) },
      where,
    );
  }
  // Provision even when the statement was already gone (a retry after the write): the role may still hold it.
  const anyone = await anyAssignment(cfg, c);
  if (!anyone) return; // no assignment of this permission set on the account: nobody can use its role
  const status = await provision(cfg, c, where);
  if (status === undefined)
    throw new Error(`${where}: a provisioning of ${c.permissionSetArn} is in progress; retry cleanup`);
}

async function anyAssignment(
  cfg: AwsIdentityCenterConfig,
  t: { instanceArn: string; accountId: string; permissionSetArn: string },
): Promise<boolean> {
  const out = await call(`account assignments of ${t.accountId}`, () =>
    sso(cfg).send(
      new ListAccountAssignmentsCommand({
        InstanceArn: t.instanceArn,
        AccountId: t.accountId,
        PermissionSetArn: t.permissionSetArn,
        MaxResults: 1,
      }),
    ),
  );
  return AssignmentsPage.parse(out).AccountAssignments.length > 0;
}

// ---- extend, verify, discover ----

/** Assignments have no expiry on AWS's side: the workflow's timer ends them. */
async function extend(): Promise<void> {}

async function verify(ctx: DriverContext, state: DriverState): Promise<{ present: boolean }> {
  const cfg = parseConfig(ctx.integration);
  const parsed = Granted.safeParse(state);
  if (!parsed.success) throw new GrantPermanentError(`integration ${ctx.integration.id}: unreadable grant state`);
  return { present: await hasAssignment(cfg, parsed.data) };
}

/** A permission id from a permission set name (lib/domain/common.ts slugOf). */
export const permissionIdOf = (name: string): string => slugOf(name, 'permission-set');

async function discover(ctx: Pick<DriverContext, 'integration' | 'admin' | 'now'>): Promise<Discovered> {
  const cfg = parseConfig(ctx.integration);
  const where = `integration ${ctx.integration.id}`;
  const accounts: { id: string; name: string }[] = [];
  let next: string | undefined;
  do {
    const token = next;
    const out = await call(`${where}: ListAccounts`, () =>
      organizations(cfg).send(new ListAccountsCommand(token === undefined ? {} : { NextToken: token })),
    );
    const page = z
      .object({
        Accounts: z
          .array(
            z.object({
              Id: z.string(),
              Name: z.string().optional(),
              Status: z.string().optional(),
              State: z.string().optional(),
            }),
          )
          .default([]),
        NextToken: z.string().optional(),
      })
      .parse(out);
    for (const a of page.Accounts)
      if ((a.State ?? a.Status ?? 'ACTIVE') === 'ACTIVE') accounts.push({ id: a.Id, name: a.Name ?? a.Id });
    next = page.NextToken;
  } while (next !== undefined);

  const arns: string[] = [];
  next = undefined;
  do {
    const token = next;
    const out = await call(`${where}: ListPermissionSets`, () =>
      sso(cfg).send(
        new ListPermissionSetsCommand({
          InstanceArn: cfg.instanceArn,
          MaxResults: 100,
          ...(token === undefined ? {} : { NextToken: token }),
        }),
      ),
    );
    const page = z
      .object({ PermissionSets: z.array(z.string()).default([]), NextToken: z.string().optional() })
      .parse(out);
    arns.push(...page.PermissionSets);
    next = page.NextToken;
  } while (next !== undefined);

  const used = new Set<string>();
  const permissions: Discovered['resources'][number]['permissions'] = [];
  for (const arn of arns) {
    const set = await describePermissionSet(cfg, cfg.instanceArn, arn);
    let id = permissionIdOf(set.name);
    for (let n = 2; used.has(id); n++) id = `${permissionIdOf(set.name).slice(0, 60)}-${n}`;
    used.add(id);
    permissions.push({ id, grants: [arn], ...(set.description === undefined ? {} : { description: set.description }) });
  }
  return {
    resources: accounts.map((a) => ({
      id: a.id,
      description: a.name,
      permissions: permissions.map((x) => ({ ...x, grants: [...x.grants] })),
    })),
  };
}

export const awsIdentityCenterDriver: IntegrationDriver = {
  ...awsIdentityCenterChecks,
  capabilities,
  // Accounts are 12-digit ids; each permission grants exactly one permission set of the configured instance.
  leaseKeys,
  grant,
  revoke,
  extend,
  cleanup,
  verify,
  discover,
};

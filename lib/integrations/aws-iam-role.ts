import {
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import {
  AssumeRoleCommand,
  type AssumeRoleCommandInput,
  GetCallerIdentityCommand,
  STSClient,
} from '@aws-sdk/client-sts';
import * as z from 'zod';
import type { Identity } from '#lib/domain/identity.ts';
import { awsCall, awsClient, awsErrorName, toDriverError } from '#lib/integrations/aws-clients.ts';
import {
  type Capabilities,
  type Discovered,
  type DriverContext,
  type DriverState,
  type GrantOutcome,
  GrantPermanentError,
  type IntegrationDriver,
  type IssuedCredentials,
  type RevokeOutcome,
} from '#lib/integrations/types.ts';
import { CAPABILITIES } from './capabilities.ts';
import {
  AwsIamRoleConfig,
  awsIamRoleChecks,
  PolicyArn,
  Region,
  RoleArn,
  RoleArnPattern,
} from './checks/aws-iam-role.ts';

/**
 * AWS IAM role: the grantee gets short-lived credentials for an IAM role (usually in another account), issued on
 * `GET /access` by sts:AssumeRole with the grantee as SourceIdentity and the request in session tags. Revoke puts
 * an inline policy on the role that denies every action to this unit's sessions ("Revoking IAM role temporary
 * security credentials", https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html);
 * a later cleanup removes it once no session it denies can still be valid.
 *
 * - Resource id: the role ARN (`arn:aws:iam::<account>:role/<path/>name`, ≤ 128 characters: Resource.id's limit,
 *   so a role with a long path does not fit). Permission grants: managed policy ARNs passed as PolicyArns to scope
 *   the session down (at most 10, "Session policies",
 *   https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session), or `*` alone: the
 *   role's own permissions.
 * - The driver function's role assumes the target role (its trust policy must allow sts:AssumeRole,
 *   sts:SetSourceIdentity and sts:TagSession). IAM reads and edits of the role go through `roleArn` when set (an
 *   admin role in the target account), else through the function's role. docs/integrations/aws-iam-role.md has the
 *   policies.
 */

/** The config schema, in the light module PUT /integrations checks with (no IAM or STS client there). */
export { AwsIamRoleConfig };

/** What grant returns and issueCredentials / revoke read back. */
const GrantState = z.object({ roleArn: RoleArn, sessionName: z.string(), region: Region });
/** What revoke hands to cleanup. */
const CleanupState = z.object({ roleArn: RoleArn, policyName: z.string() });

/** Session tags (principal tags of every session Stint issues), what the revoke deny matches. */
export const TAG_REQUEST = 'stint-request-id';
export const TAG_UNIT = 'stint-unit';
export const TAG_GRANTEE = 'stint-grantee';
/** Inline policies Stint writes are named so; nothing else on a role is ever touched. */
export const REVOKE_POLICY_PREFIX = 'stint-revoke-';
const REVOKE_SID = 'StintRevoke';
/** AssumeRole's shortest session (DurationSeconds ≥ 900). */
export const MIN_SESSION_SECONDS = 900;
/** "Role chaining limits your AWS CLI or AWS API role session to a maximum of one hour" (AssumeRole reference). */
export const CHAINED_SESSION_SECONDS = 3600;
/**
 * The deny also covers sessions issued up to this long after the revoke (an issue that was in flight when the
 * revoke ran), so it reads "sessions of this unit issued before <revoke + 5 min>".
 */
export const REVOKE_GRACE_SECONDS = 300;
const capabilities: Capabilities = CAPABILITIES['aws-iam-role'];

/** The one place the driver reads its environment (tests point the federation endpoint at a stand-in). */
const DriverEnv = z.object({
  // Read as given (the local runtime's region is `local`); only used when the integration names no region.
  AWS_REGION: z.string().min(1).optional(),
  AWS_DEFAULT_REGION: z.string().min(1).optional(),
  /** The federation endpoint, `https://signin.aws.amazon.com/federation` by default (per partition). */
  STINT_AWS_FEDERATION_URL: z.url().optional(),
});
function driverEnv(): z.infer<typeof DriverEnv> {
  const parsed = DriverEnv.safeParse(process.env);
  if (!parsed.success) throw new GrantPermanentError(`aws-iam-role: invalid environment (${parsed.error.message})`);
  return parsed.data;
}

type Ctx = Pick<DriverContext, 'integration'>;

function parseConfig(ctx: Ctx): AwsIamRoleConfig & { region: string } {
  const parsed = AwsIamRoleConfig.safeParse(ctx.integration.config);
  if (!parsed.success)
    throw new GrantPermanentError(
      `integration ${ctx.integration.id}: invalid aws-iam-role config (${parsed.error.message})`,
    );
  if (parsed.data.region !== undefined) return { ...parsed.data, region: parsed.data.region };
  const env = driverEnv();
  const region = Region.safeParse(env.AWS_REGION ?? env.AWS_DEFAULT_REGION);
  if (!region.success)
    throw new GrantPermanentError(
      `integration ${ctx.integration.id}: no region (set config.region; the function's AWS_REGION is not one)`,
    );
  return { ...parsed.data, region: region.data };
}

/**
 * STS with the function's own credentials (the target roles' trust policies name the function's role); IAM through
 * the admin role when `roleArn` is set. Both are aws-clients.ts's module-scope clients.
 */
type Clients = { sts: STSClient; iam: IAMClient };

function clientsFor(cfg: AwsIamRoleConfig & { region: string }): Clients {
  return {
    sts: awsClient(STSClient, { region: cfg.region }),
    iam: awsClient(IAMClient, {
      region: cfg.region,
      session: 'aws-iam-role',
      ...(cfg.roleArn === undefined ? {} : { roleArn: cfg.roleArn }),
      ...(cfg.externalId === undefined ? {} : { externalId: cfg.externalId }),
    }),
  };
}

/**
 * IAM's LimitExceeded on a role's inline policies stays retryable here (cleanups of earlier revokes free room under
 * the size quota), unlike the quotas aws-clients.ts makes permanent; other errors map as there.
 */
function rolePolicyError(error: unknown, what: string): unknown {
  return awsErrorName(error) === 'LimitExceededException' ? error : toDriverError(error, what);
}

type ParsedRoleArn = { arn: string; partition: string; accountId: string; name: string };

function parseRoleArn(ctx: Ctx, arn: string): ParsedRoleArn {
  const match = RoleArnPattern.exec(arn);
  if (match === null || match[1] === undefined || match[2] === undefined || match[3] === undefined)
    throw new GrantPermanentError(`integration ${ctx.integration.id}: resource ${arn} is not an IAM role ARN`);
  return { arn, partition: match[1], accountId: match[2], name: match[3] };
}

/** The session policies of a permission: `*` alone (the role's own permissions) or up to 10 managed policy ARNs. */
function policyArnsOf(ctx: Pick<DriverContext, 'integration' | 'permission'>): string[] {
  const grants = [...new Set(ctx.permission.grants)];
  if (grants.length === 1 && grants[0] === '*') return [];
  const bad = grants.filter((g) => !PolicyArn.safeParse(g).success);
  if (bad.length > 0 || grants.length > 10)
    throw new GrantPermanentError(
      `integration ${ctx.integration.id}: permission ${ctx.permission.id}: grants must be "*" alone or at most 10 managed policy ARNs${bad.length > 0 ? ` (not one: ${bad.join(', ')})` : ''}`,
    );
  return grants;
}

/** RoleSessionName: `stint-<request id>`, 2–64 characters of [\w+=,.@-] (AssumeRole reference). */
export function sessionNameFor(requestId: string): string {
  return `stint-${requestId}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

/**
 * SourceIdentity: the grantee's email (what CloudTrail shows people), else their subject, with characters outside
 * [\w+=,.@-] replaced by `_` and cut to 64 (AssumeRole: 2–64 characters; it persists through role chaining and
 * cannot be changed, https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html).
 */
export function sourceIdentityFor(grantee: Identity): string {
  const clean = (s: string) => s.replace(/[^\w+=,.@-]/g, '_');
  const email = clean(grantee.email);
  const value = (email.length <= 64 ? email : clean(grantee.sub)).slice(0, 64);
  return value.length >= 2 ? value : value.padEnd(2, '_');
}

/** A session tag value: [\p{L}\p{Z}\p{N}_.:/=+\-@], ≤ 256 characters ("Tag" in the STS API reference). */
function tagValue(value: string): string {
  return value.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '_').slice(0, 256);
}

/** The Stint-owned inline policy that denies one unit's sessions (≤ 128 characters of [\w+=,.@-]). */
export function revokePolicyName(ctx: Pick<DriverContext, 'idempotencyKey'>): string {
  return `${REVOKE_POLICY_PREFIX}${ctx.idempotencyKey.replace(/[^\w+=,.@-]/g, '-')}`.slice(0, 128);
}

function assumeRoleInput(ctx: DriverContext, role: ParsedRoleArn, cfg: AwsIamRoleConfig, duration: number) {
  const policyArns = policyArnsOf(ctx);
  const input: AssumeRoleCommandInput = {
    RoleArn: role.arn,
    RoleSessionName: sessionNameFor(ctx.requestId),
    SourceIdentity: sourceIdentityFor(ctx.grantee),
    Tags: [
      { Key: TAG_REQUEST, Value: tagValue(ctx.requestId) },
      { Key: TAG_UNIT, Value: tagValue(ctx.idempotencyKey) },
      { Key: TAG_GRANTEE, Value: tagValue(ctx.grantee.email) },
    ],
    // Kept by sessions the grantee chains from this one, so another role can deny them too.
    TransitiveTagKeys: [TAG_REQUEST, TAG_UNIT],
    DurationSeconds: duration,
    ...(policyArns.length === 0 ? {} : { PolicyArns: policyArns.map((arn) => ({ arn })) }),
    ...(cfg.externalId === undefined ? {} : { ExternalId: cfg.externalId }),
  };
  return input;
}

const RoleOut = z.object({
  Arn: z.string(),
  RoleName: z.string(),
  MaxSessionDuration: z.number().int().min(3600).max(43200).optional(),
  Description: z.string().optional(),
});

/**
 * The role, read through the IAM credentials; undefined when it does not exist. Its ARN must be the resource's: the
 * IAM credentials may be in another account than the ARN names, where a role of the same name is not this one.
 */
async function getRole(ctx: Ctx, clients: Clients, role: ParsedRoleArn): Promise<z.infer<typeof RoleOut> | undefined> {
  try {
    const out = await clients.iam.send(new GetRoleCommand({ RoleName: role.name }));
    const parsed = RoleOut.parse(out.Role);
    if (parsed.Arn !== role.arn)
      throw new GrantPermanentError(
        `integration ${ctx.integration.id}: the IAM credentials see ${parsed.Arn}, not ${role.arn}: set config.roleArn to an admin role in account ${role.accountId}`,
      );
    return parsed;
  } catch (error) {
    if (awsErrorName(error) === 'NoSuchEntityException') return undefined;
    throw toDriverError(error, `integration ${ctx.integration.id}: iam:GetRole ${role.name}`);
  }
}

async function requireRole(ctx: Ctx, clients: Clients, role: ParsedRoleArn) {
  const found = await getRole(ctx, clients, role);
  if (found === undefined)
    throw new GrantPermanentError(`integration ${ctx.integration.id}: role ${role.arn} does not exist`);
  return found;
}

/** Per STS client (so per region), whether its credentials are a role session: asked once. */
const chainedBy = new WeakMap<STSClient, Promise<boolean>>();

/** Whether Stint's own credentials are a role session (Lambda's are), so what it assumes is role chaining. */
function isChained(clients: Clients): Promise<boolean> {
  const { sts } = clients;
  let pending = chainedBy.get(sts);
  if (pending === undefined) {
    pending = sts.send(new GetCallerIdentityCommand({})).then((out) => {
      const arn = z.string().parse(out.Arn);
      return /^arn:[^:]+:sts::\d{12}:assumed-role\//.test(arn);
    });
    chainedBy.set(sts, pending);
    // A failed look-up is not remembered.
    pending.catch(() => {
      if (chainedBy.get(sts) === pending) chainedBy.delete(sts);
    });
  }
  const answer = pending;
  return awsCall('sts:GetCallerIdentity', () => answer);
}

/** The longest session Stint can issue for this role: its MaxSessionDuration, and one hour when chaining. */
async function longestSession(clients: Clients, maxSessionDuration: number | undefined): Promise<number> {
  const max = maxSessionDuration ?? CHAINED_SESSION_SECONDS;
  return (await isChained(clients)) ? Math.min(max, CHAINED_SESSION_SECONDS) : max;
}

function roleOf(ctx: DriverContext, state: DriverState): ParsedRoleArn {
  const parsed = GrantState.safeParse(state);
  return parseRoleArn(ctx, parsed.success ? parsed.data.roleArn : ctx.resource.id);
}

const AssumeOut = z.object({
  Credentials: z.object({
    AccessKeyId: z.string().min(1),
    SecretAccessKey: z.string().min(1),
    SessionToken: z.string().min(1),
    Expiration: z.date(),
  }),
});

async function assume(ctx: DriverContext, clients: Clients, input: AssumeRoleCommandInput) {
  const out = await awsCall(
    `integration ${ctx.integration.id}: sts:AssumeRole ${input.RoleArn} (its trust policy must allow the Stint driver role sts:AssumeRole, sts:SetSourceIdentity and sts:TagSession${input.ExternalId === undefined ? '' : ' with the configured external id'})`,
    () => clients.sts.send(new AssumeRoleCommand(input)),
  );
  return AssumeOut.parse(out).Credentials;
}

/**
 * Grant checks the setup and issues nothing to keep: the role exists (IAM) and the trust policy lets Stint assume it
 * with this request's source identity and tags (one AssumeRole of 15 minutes, whose credentials are dropped), so a
 * misconfiguration fails the request at grant, not when the grantee asks for credentials.
 */
async function grant(ctx: DriverContext): Promise<GrantOutcome> {
  const cfg = parseConfig(ctx);
  const role = parseRoleArn(ctx, ctx.resource.id);
  const clients = clientsFor(cfg);
  await requireRole(ctx, clients, role);
  await assume(ctx, clients, assumeRoleInput(ctx, role, cfg, MIN_SESSION_SECONDS));
  return {
    status: 'done',
    state: { roleArn: role.arn, sessionName: sessionNameFor(ctx.requestId), region: cfg.region },
    access: { kind: 'aws-role', roleArn: role.arn, region: cfg.region },
  };
}

/**
 * Credentials for the rest of the access: DurationSeconds = the seconds left until ctx.expiresAt, capped by the
 * role's MaxSessionDuration and by one hour when Stint runs in a role session (role chaining), and at least 900
 * (AssumeRole's minimum). With less than 15 minutes left the session outlives the access by the difference; the
 * revoke deny at expiresAt ends it, so `expiresAt` reports the access's end. A unit whose revoke policy is on the
 * role gets nothing (whatever the caller thinks of the request's state).
 */
async function issueCredentials(ctx: DriverContext, state: DriverState): Promise<IssuedCredentials> {
  const cfg = parseConfig(ctx);
  const role = roleOf(ctx, state);
  const left = Math.floor((ctx.expiresAt.getTime() - ctx.now.getTime()) / 1000);
  if (left <= 0) throw new GrantPermanentError(`request ${ctx.requestId}: the access has ended`);
  const clients = clientsFor(cfg);
  const found = await requireRole(ctx, clients, role);
  // Revoked already (until cleanup): a session issued after the deny's notAfter would not be denied.
  if ((await readRevokePolicy(ctx, clients, role, revokePolicyName(ctx))) !== undefined)
    throw new GrantPermanentError(`request ${ctx.requestId}: the access to ${role.arn} has been revoked`);
  const duration = Math.max(
    MIN_SESSION_SECONDS,
    Math.min(left, await longestSession(clients, found.MaxSessionDuration)),
  );
  const credentials = await assume(ctx, clients, assumeRoleInput(ctx, role, cfg, duration));
  const consoleUrl = await consoleSignInUrl(cfg, role, credentials);
  const expiresAt = new Date(Math.min(credentials.Expiration.getTime(), ctx.expiresAt.getTime()));
  return {
    fields: {
      accessKeyId: credentials.AccessKeyId,
      secretAccessKey: credentials.SecretAccessKey,
      sessionToken: credentials.SessionToken,
      expiration: credentials.Expiration.toISOString(),
      region: cfg.region,
      ...(consoleUrl === undefined ? {} : { consoleUrl }),
    },
    expiresAt,
  };
}

const PARTITION_HOSTS: Record<string, { signin: string; console: string }> = {
  aws: { signin: 'https://signin.aws.amazon.com/federation', console: 'console.aws.amazon.com' },
  'aws-cn': { signin: 'https://signin.amazonaws.cn/federation', console: 'console.amazonaws.cn' },
  'aws-us-gov': { signin: 'https://signin.amazonaws-us-gov.com/federation', console: 'console.amazonaws-us-gov.com' },
};

const SigninTokenOut = z.object({ SigninToken: z.string().min(1) });
const FEDERATION_TIMEOUT_MS = 5_000;

/**
 * A console sign-in link for the session ("Enable custom identity broker access to the AWS console",
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_enable-console-custom-url.html):
 * `GET /federation?Action=getSigninToken&Session=<JSON sessionId/sessionKey/sessionToken>` answers a SigninToken
 * (valid 15 minutes); the link is `/federation?Action=login&Destination=…&SigninToken=…`. No SessionDuration: the
 * console session then lasts as long as the credentials. Undefined when the endpoint fails: the CLI credentials
 * are still good, and the next `GET /access` tries again.
 */
async function consoleSignInUrl(
  cfg: AwsIamRoleConfig & { region: string },
  role: ParsedRoleArn,
  credentials: z.infer<typeof AssumeOut>['Credentials'],
): Promise<string | undefined> {
  const hosts = PARTITION_HOSTS[role.partition] ?? PARTITION_HOSTS.aws;
  if (hosts === undefined) return undefined;
  const endpoint = driverEnv().STINT_AWS_FEDERATION_URL ?? hosts.signin;
  const session = JSON.stringify({
    sessionId: credentials.AccessKeyId,
    sessionKey: credentials.SecretAccessKey,
    sessionToken: credentials.SessionToken,
  });
  const tokenUrl = new URL(endpoint);
  tokenUrl.searchParams.set('Action', 'getSigninToken');
  tokenUrl.searchParams.set('Session', session);
  let token: string;
  try {
    const response = await fetch(tokenUrl, { signal: AbortSignal.timeout(FEDERATION_TIMEOUT_MS) });
    if (!response.ok) return undefined;
    const parsed = SigninTokenOut.safeParse(await response.json());
    if (!parsed.success) return undefined;
    token = parsed.data.SigninToken;
  } catch {
    return undefined; // the message may quote the URL, which holds the credentials: never pass it on
  }
  const login = new URL(endpoint);
  login.searchParams.set('Action', 'login');
  login.searchParams.set(
    'Destination',
    cfg.consoleDestination ?? `https://${cfg.region}.${hosts.console}/console/home?region=${cfg.region}`,
  );
  login.searchParams.set('SigninToken', token);
  return login.toString();
}

/** The deny statement of one unit, in a policy of its own (no read-modify-write of a shared document). */
function revokeDocument(ctx: DriverContext, notAfter: Date): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: REVOKE_SID,
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: {
          StringEquals: {
            [`aws:PrincipalTag/${TAG_REQUEST}`]: tagValue(ctx.requestId),
            [`aws:PrincipalTag/${TAG_UNIT}`]: tagValue(ctx.idempotencyKey),
          },
          DateLessThan: { 'aws:TokenIssueTime': notAfter.toISOString() },
        },
      },
    ],
  });
}

const RevokePolicy = z.object({
  Version: z.literal('2012-10-17'),
  Statement: z.tuple([
    z.object({
      Sid: z.literal(REVOKE_SID),
      Effect: z.literal('Deny'),
      Condition: z.object({
        StringEquals: z.record(z.string(), z.string()),
        DateLessThan: z.object({ 'aws:TokenIssueTime': z.iso.datetime({ offset: true }) }),
      }),
    }),
  ]),
});

/** A Stint revoke policy on the role: its `notAfter`; undefined when absent or not Stint's. */
async function readRevokePolicy(
  ctx: Ctx,
  clients: Clients,
  role: ParsedRoleArn,
  policyName: string,
): Promise<Date | undefined> {
  let document: string | undefined;
  try {
    const out = await clients.iam.send(new GetRolePolicyCommand({ RoleName: role.name, PolicyName: policyName }));
    document = out.PolicyDocument;
  } catch (error) {
    if (awsErrorName(error) === 'NoSuchEntityException') return undefined;
    throw toDriverError(error, `integration ${ctx.integration.id}: iam:GetRolePolicy ${policyName}`);
  }
  if (document === undefined) return undefined;
  // "The policy document returned in this structure is URL-encoded compliant with RFC 3986" (GetRolePolicy).
  let json: unknown;
  try {
    json = JSON.parse(decodeURIComponent(document));
  } catch {
    return undefined;
  }
  const parsed = RevokePolicy.safeParse(json);
  return parsed.success ? new Date(parsed.data.Statement[0].Condition.DateLessThan['aws:TokenIssueTime']) : undefined;
}

async function listRevokePolicies(ctx: Ctx, clients: Clients, role: ParsedRoleArn): Promise<string[]> {
  const names: string[] = [];
  let marker: string | undefined;
  do {
    const out = await awsCall(`integration ${ctx.integration.id}: iam:ListRolePolicies ${role.name}`, () =>
      clients.iam.send(new ListRolePoliciesCommand({ RoleName: role.name, ...(marker ? { Marker: marker } : {}) })),
    );
    names.push(
      ...z
        .array(z.string())
        .parse(out.PolicyNames ?? [])
        .filter((n) => n.startsWith(REVOKE_POLICY_PREFIX)),
    );
    marker = out.IsTruncated === true ? out.Marker : undefined;
  } while (marker !== undefined);
  return names;
}

/**
 * Deletes Stint revoke policies on the role whose cleanup time has passed (a cleanup that has not run yet), to make
 * room under the role policy size quota. Returns how many it deleted.
 */
async function pruneRevokePolicies(
  ctx: Ctx & Pick<DriverContext, 'now'>,
  clients: Clients,
  role: ParsedRoleArn,
  longest: number,
): Promise<number> {
  let pruned = 0;
  for (const name of await listRevokePolicies(ctx, clients, role)) {
    const notAfter = await readRevokePolicy(ctx, clients, role, name);
    if (notAfter === undefined || notAfter.getTime() + longest * 1000 > ctx.now.getTime()) continue;
    await deleteRolePolicy(ctx, clients, role, name);
    pruned++;
  }
  return pruned;
}

async function deleteRolePolicy(ctx: Ctx, clients: Clients, role: ParsedRoleArn, name: string): Promise<void> {
  try {
    await clients.iam.send(new DeleteRolePolicyCommand({ RoleName: role.name, PolicyName: name }));
  } catch (error) {
    if (awsErrorName(error) === 'NoSuchEntityException') return;
    throw rolePolicyError(error, `integration ${ctx.integration.id}: iam:DeleteRolePolicy ${name}`);
  }
}

/**
 * Revoke denies every action to this unit's sessions: an inline policy `stint-revoke-<unit key>` on the role with
 * `Deny * on *` when the session's tags name this request and unit and it was issued before `notAfter` (the
 * revoke + 5 minutes). Idempotent: a repeat finds the policy and keeps it. Cleanup is due when no denied session
 * can still be valid: `notAfter` + the longest session Stint can issue for the role.
 *
 * The role policy size quota (10,240 characters for all inline policies of a role, whitespace not counted,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html) holds about 30 of these (≈ 330
 * characters each): when it is full, revoke removes the ones whose cleanup time has passed and tries again; still
 * full is a retryable error.
 */
async function revoke(ctx: DriverContext, state: DriverState): Promise<RevokeOutcome> {
  const cfg = parseConfig(ctx);
  const role = roleOf(ctx, state);
  const clients = clientsFor(cfg);
  const found = await getRole(ctx, clients, role);
  if (found === undefined) return { status: 'done' }; // a deleted role's sessions have no permissions left
  const longest = await longestSession(clients, found.MaxSessionDuration);
  const policyName = revokePolicyName(ctx);
  const cleanup = (notAfter: Date): RevokeOutcome => ({
    status: 'done',
    cleanup: {
      afterSeconds: Math.max(0, Math.ceil((notAfter.getTime() - ctx.now.getTime()) / 1000)) + longest,
      state: { roleArn: role.arn, policyName },
    },
  });

  const existing = await readRevokePolicy(ctx, clients, role, policyName);
  if (existing !== undefined) return cleanup(existing);

  const notAfter = new Date(ctx.now.getTime() + REVOKE_GRACE_SECONDS * 1000);
  const put = () =>
    clients.iam.send(
      new PutRolePolicyCommand({
        RoleName: role.name,
        PolicyName: policyName,
        PolicyDocument: revokeDocument(ctx, notAfter),
      }),
    );
  const what = `integration ${ctx.integration.id}: iam:PutRolePolicy ${policyName} on ${role.arn}`;
  try {
    await put();
  } catch (error) {
    if (awsErrorName(error) !== 'LimitExceededException') throw toDriverError(error, what);
    const pruned = await pruneRevokePolicies(ctx, clients, role, longest);
    if (pruned === 0)
      // Retryable: cleanups of earlier revokes free room; the alarm on failing revokes tells people meanwhile.
      throw new Error(
        `${what}: the role's inline policies are at the 10,240-character quota and no Stint revoke policy is due for cleanup`,
      );
    try {
      await put();
    } catch (again) {
      throw rolePolicyError(again, what);
    }
  }
  return cleanup(notAfter);
}

/** Removes the revoke policy (only a `stint-revoke-` policy holding Stint's statement); gone already is done. */
async function cleanup(ctx: DriverContext, state: DriverState): Promise<void> {
  const cfg = parseConfig(ctx);
  const parsed = CleanupState.safeParse(state);
  if (!parsed.success || !parsed.data.policyName.startsWith(REVOKE_POLICY_PREFIX))
    throw new GrantPermanentError(`integration ${ctx.integration.id}: not a cleanup state of aws-iam-role`);
  const role = parseRoleArn(ctx, parsed.data.roleArn);
  const clients = clientsFor(cfg);
  if ((await getRole(ctx, clients, role)) === undefined) return;
  if ((await readRevokePolicy(ctx, clients, role, parsed.data.policyName)) === undefined) return;
  await deleteRolePolicy(ctx, clients, role, parsed.data.policyName);
}

/** Nothing to move: the next issueCredentials reads the new expiresAt. */
async function extend(): Promise<void> {}

/** Present while the role exists and no revoke policy of this unit is on it. */
async function verify(ctx: DriverContext, state: DriverState): Promise<{ present: boolean }> {
  const cfg = parseConfig(ctx);
  const role = roleOf(ctx, state);
  const clients = clientsFor(cfg);
  if ((await getRole(ctx, clients, role)) === undefined) return { present: false };
  return { present: (await readRevokePolicy(ctx, clients, role, revokePolicyName(ctx))) === undefined };
}

/** Roles carrying this tag are offered by discover (any value but `false`). */
export const DISCOVER_TAG = 'stint:jit';

const ListedRole = z.object({ Arn: z.string(), RoleName: z.string(), Description: z.string().optional() });

/**
 * Roles tagged `stint:jit`, each as a resource with one permission `default` = the role's own permissions.
 * ListRoles does not return tags ("ListRoles … the following attributes are not returned: PermissionsBoundary,
 * RoleLastUsed, Tags", IAM API reference), so each role's tags are read with ListRoleTags. Roles whose ARN is
 * longer than a resource id may be (128) are left out.
 */
async function discover(ctx: Pick<DriverContext, 'integration' | 'admin' | 'now'>): Promise<Discovered> {
  const cfg = parseConfig(ctx);
  const clients = clientsFor(cfg);
  const what = `integration ${ctx.integration.id}: iam:ListRoles`;
  const resources: Discovered['resources'] = [];
  let marker: string | undefined;
  do {
    const out = await awsCall(what, () =>
      clients.iam.send(new ListRolesCommand({ ...(marker ? { Marker: marker } : {}) })),
    );
    for (const role of z.array(ListedRole).parse(out.Roles ?? [])) {
      if (role.Arn.length > 128 || !RoleArnPattern.test(role.Arn)) continue;
      if (!(await hasDiscoverTag(ctx, clients, role.RoleName))) continue;
      resources.push({
        id: role.Arn,
        ...(role.Description === undefined || role.Description === '' ? {} : { description: role.Description }),
        permissions: [{ id: 'default', description: "The role's own permissions", grants: ['*'] }],
      });
    }
    marker = out.IsTruncated === true ? out.Marker : undefined;
  } while (marker !== undefined);
  return { resources };
}

const TagList = z.array(z.object({ Key: z.string(), Value: z.string() }));

function listRoleTags(clients: Clients, roleName: string, marker: string | undefined) {
  return clients.iam.send(new ListRoleTagsCommand({ RoleName: roleName, ...(marker ? { Marker: marker } : {}) }));
}

/**
 * Whether the role carries the discover tag. A role whose tags Stint may not read (the deployment's roleArns do not
 * cover it: AccessDenied) is not one it could manage, so it is not offered.
 */
async function hasDiscoverTag(ctx: Ctx, clients: Clients, roleName: string): Promise<boolean> {
  let marker: string | undefined;
  do {
    let out: Awaited<ReturnType<typeof listRoleTags>>;
    try {
      out = await listRoleTags(clients, roleName, marker);
    } catch (error) {
      const name = awsErrorName(error);
      if (name === 'AccessDeniedException' || name === 'AccessDenied') return false;
      throw toDriverError(error, `integration ${ctx.integration.id}: iam:ListRoleTags ${roleName}`);
    }
    const tag = TagList.parse(out.Tags ?? []).find((t) => t.Key === DISCOVER_TAG);
    if (tag !== undefined) return tag.Value.toLowerCase() !== 'false';
    marker = out.IsTruncated === true ? out.Marker : undefined;
  } while (marker !== undefined);
  return false;
}

export const awsIamRoleDriver: IntegrationDriver = {
  ...awsIamRoleChecks,
  capabilities,
  leaseKeys: () => [],
  grant,
  revoke,
  extend,
  cleanup,
  issueCredentials,
  verify,
  discover,
};

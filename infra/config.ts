import ipaddr from 'ipaddr.js';
import * as z from 'zod';
import { AwsIamRoleDeployment } from '#infra/drivers/aws-iam-role.ts';
import { AwsIdentityCenterDeployment } from '#infra/drivers/aws-identity-center.ts';
import { DEFAULT_TEAMS_SERVICE_URL } from '#lib/channels/teams/defaults.ts';
import { ValidationError } from '#lib/domain/errors.ts';
import { LambdaDeploymentConfig } from '#lib/integrations/lambda.ts';
import { OnCallProviderConfig } from '#lib/oncall/config.ts';
import { isItsm, TargetConfig } from '#lib/targets/config.ts';
import { validateTargetOptions } from '#lib/targets/registry.ts';

/**
 * The deployment's configuration: one typed file, infra/stint.config.ts, validated here at synth.
 * A wrong value fails `cdk synth` with a message naming the field, e.g.
 * `stint.config.ts: auth.issuer: must be an https URL`.
 */

/** Retention periods CloudWatch Logs accepts (days). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const httpsUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'https:' && url.hash === '' && url.search === '';
    } catch {
      return false;
    }
  },
  { error: 'must be an https URL' },
);

const idList = (prefix: string, what: string) =>
  z
    .array(
      z.string().regex(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), { error: `must be a ${what} id (${prefix}-…)` }),
      { error: `must be a list of ${what} ids` },
    )
    .min(1, { error: `must list at least one ${what} id` });

/** Lambda caps a function's whole environment at 4 KB; STINT_TARGETS shares it with the common variables. */
export const MAX_TARGETS_JSON_BYTES = 3072;
/** STINT_ONCALL shares the functions' 4 KB environment with the common variables (and STINT_TARGETS where both are set). */
export const MAX_ONCALL_JSON_BYTES = 1024;
/** SQS queue names are at most 80 characters. */
const MAX_QUEUE_NAME = 80;

/**
 * A target as the deployment configures it: lib/targets/config.ts's TargetConfig (what the delivery functions
 * receive in STINT_TARGETS), plus how the infrastructure around it behaves. Checks that need the whole
 * configuration (unique names, queue name length, deployed vs local) are in `targetIssues` below.
 */
export const DeployedTarget = TargetConfig.safeExtend({
  /** Where the credential lives: a Secrets Manager ARN in AWS (env:NAME or file:/path only locally). */
  secretRef: z
    .string({ error: 'is required (a Secrets Manager secret ARN; env:NAME or file:/path locally)' })
    .regex(/^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+|env:[A-Z_][A-Z0-9_]*|file:\/.+)$/, {
      error: 'must be a Secrets Manager secret ARN (env:NAME or file:/path locally)',
    }),
  /** Receives of a message before SQS moves it to the target's dead-letter queue (redrive policy). */
  maxReceiveCount: z
    .number({ error: 'must be a number of receives' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(1000, { error: 'must be at most 1000' })
    .default(10),
});
export type DeployedTarget = z.output<typeof DeployedTarget>;

/**
 * `deployed`: `cdk synth` / `cdk deploy` (the default). `local`: the local runtime synthesizes the same
 * configuration on one machine, where target secrets may be env:/file: references and endpoints plain HTTP.
 */
export type ConfigMode = 'deployed' | 'local';

const stintConfigSchema = (mode: ConfigMode) =>
  z
    .strictObject({
      /** CloudFormation stack name. */
      stackName: z
        .string({ error: 'is required (a CloudFormation stack name)' })
        .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, {
          error: 'must start with a letter and hold only letters, digits and hyphens (max 128)',
        }),
      /** Account and region to deploy to; omitted → the CLI's current credentials decide. */
      env: z
        .strictObject({
          account: z
            .string()
            .regex(/^\d{12}$/, { error: 'must be a 12-digit AWS account id' })
            .optional(),
          region: z
            .string()
            .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: 'must be an AWS region such as eu-west-1' })
            .optional(),
        })
        .optional(),
      /**
       * The OpenID Connect issuer whose JWTs the API accepts. Omitted → a Cognito user pool and app client are
       * created and used as issuer and audience.
       */
      auth: z
        .strictObject({
          issuer: httpsUrl,
          audience: z
            .array(z.string().min(1, { error: 'must not be empty' }), { error: 'must be a list of audiences' })
            .min(1, { error: 'must list at least one audience' }),
          /**
           * The issuer's key set (JWKS), for an issuer without OpenID discovery; omitted → the API functions read
           * `jwks_uri` from `<issuer>/.well-known/openid-configuration`.
           */
          jwksUrl: httpsUrl.optional(),
        })
        .optional(),
      /**
       * The CLI's OIDC client at `auth.issuer` (docs/cli-sign-in.md), announced by GET /auth-config so that
       * `stint login --url <api>` needs nothing else: a public client (no secret) with the authorization code grant
       * (PKCE) and the loopback redirect URIs of lib/identity/loopback.ts, optionally the device grant, and its id
       * among `auth.audience` (or its tokens carrying an audience listed there). Only with `auth`: the Cognito pool
       * the stack creates has its own CLI client. Omitted → GET /auth-config names the issuer only and users pass
       * `stint login --client-id`.
       */
      cli: z
        .strictObject({
          clientId: z
            .string()
            .regex(/^[\x21-\x7e]{1,256}$/, { error: 'must be a client id (printable characters, no spaces)' }),
          scopes: z
            .string()
            .regex(/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/, {
              error: 'must be OAuth scopes separated by single spaces',
            })
            .refine((scopes) => scopes.split(' ').includes('openid'), { error: 'must include openid' })
            .default('openid email profile offline_access'),
        })
        .optional(),
      /**
       * The web portal (S3 + CloudFront, docs/portal.md). `domainName` and `certificateArn` (an ACM certificate in
       * us-east-1, as CloudFront requires) serve it on your own domain; `clientId` is the portal's OIDC client at
       * `auth.issuer` (required with `auth`; with the Cognito pool the stack creates the client);
       * `idpOrigins` are further origins the browser talks to during sign-in (the issuer's authorization, token
       * or userinfo endpoints when they are not on the issuer's own origin).
       */
      portal: z
        .strictObject({
          domainName: z
            .string()
            .regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, {
              error: 'must be a lower-case DNS name such as stint.example.com',
            })
            .optional(),
          certificateArn: z
            .string()
            .regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/, {
              error: 'must be an ACM certificate ARN',
            })
            .refine((arn) => arn.split(':')[3] === 'us-east-1', {
              error: 'must be a certificate in us-east-1 (CloudFront reads certificates only from there)',
            })
            .optional(),
          priceClass: z
            .enum(['PriceClass_100', 'PriceClass_200', 'PriceClass_All'], {
              error: 'must be "PriceClass_100", "PriceClass_200" or "PriceClass_All"',
            })
            .default('PriceClass_100'),
          clientId: z
            .string()
            .regex(/^[\x21-\x7e]{1,256}$/, { error: 'must be a client id (printable characters, no spaces)' })
            .optional(),
          scopes: z
            .string()
            .regex(/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/, {
              error: 'must be OAuth scopes separated by single spaces',
            })
            .refine((scopes) => scopes.split(' ').includes('openid'), { error: 'must include openid' })
            .default('openid email profile'),
          idpOrigins: z
            .array(
              httpsUrl.refine((url) => URL.canParse(url) && new URL(url).origin === url, {
                error: 'must be an origin: https://host[:port], no path and no trailing slash',
              }),
              { error: 'must be a list of https origins' },
            )
            .default([]),
        })
        .superRefine((portal, ctx) => {
          if (portal.domainName !== undefined && portal.certificateArn === undefined) {
            ctx.addIssue({
              code: 'custom',
              path: ['certificateArn'],
              message: 'is required with portal.domainName (an ACM certificate for that name, in us-east-1)',
            });
          }
          if (portal.certificateArn !== undefined && portal.domainName === undefined) {
            ctx.addIssue({
              code: 'custom',
              path: ['domainName'],
              message: 'is required with portal.certificateArn (the name the certificate is for)',
            });
          }
        })
        .prefault({}),
      /** Members administer flows, integrations and bundles (the JWT `groups` claim). */
      adminGroup: z.string().min(1, { error: 'must not be empty' }).default('stint-admins'),
      /** Members may read every request. */
      auditorGroup: z.string().min(1, { error: 'must not be empty' }).default('stint-auditors'),
      /**
       * Integration admin secrets live in Secrets Manager under this name prefix; the grant and revoke functions
       * may read only those.
       */
      secretsPrefix: z
        .string()
        .regex(/^[A-Za-z0-9/_+=.@-]{1,256}$/, {
          error: 'must be a Secrets Manager name prefix (letters, digits and /_+=.@-)',
        })
        .refine((p) => p.endsWith('/') || p.endsWith('-') || p.endsWith('_'), {
          error: 'must end with "/", "-" or "_" so it cannot match unrelated secrets',
        })
        .default('stint/'),
      /** Subnets and security groups for the functions that reach databases (grant, revoke and their kin). */
      vpc: z
        .strictObject({
          vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, { error: 'must be a VPC id (vpc-…)' }),
          subnetIds: idList('subnet', 'subnet'),
          securityGroupIds: idList('sg', 'security group'),
        })
        .optional(),
      /** Alarms (revoke failures, failed executions, dead letters) are emailed here when set. */
      alarmEmail: z.email({ error: 'must be an email address' }).optional(),
      /** How often the reconciler runs. */
      reconcilerRateMinutes: z
        .number({ error: 'must be a number of minutes' })
        .int({ error: 'must be a whole number of minutes' })
        .min(1, { error: 'must be at least 1' })
        .max(1440, { error: 'must be at most 1440 (one day)' })
        .default(5),
      /** How often the orphan sweep and drift check runs (docs/operations.md "The orphan sweep"). */
      sweepRateMinutes: z
        .number({ error: 'must be a number of minutes' })
        .int({ error: 'must be a whole number of minutes' })
        .min(5, { error: 'must be at least 5' })
        .max(1440, { error: 'must be at most 1440 (one day)' })
        .default(60),
      /** Retention of every log group. */
      logRetentionDays: z
        .number({ error: 'must be a number of days' })
        .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
          error: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
        })
        .default(365),
      /**
       * What happens to stateful resources (table, log groups, secrets, queue) when the stack is deleted.
       * `retain` also turns on the table's deletion protection.
       */
      removalPolicy: z.enum(['retain', 'destroy'], { error: 'must be "retain" or "destroy"' }).default('retain'),
      events: z
        .strictObject({
          /** Name of the EventBridge bus audit events are put on. */
          busName: z
            .string()
            .regex(/^[A-Za-z0-9._-]{1,256}$/, { error: 'must be an event bus name (letters, digits and ._-)' })
            .refine((n) => n !== 'default', { error: 'must not be "default"' })
            .default('stint'),
          /** Days the archive keeps events; 0 keeps them forever. */
          archiveRetentionDays: z
            .number({ error: 'must be a number of days' })
            .int({ error: 'must be a whole number of days' })
            .min(0, { error: 'must be 0 (forever) or more' })
            .default(365),
        })
        .prefault({}),
      api: z
        .strictObject({
          /** Steady-state requests per second across the API. */
          throttleRateLimit: z.number().int().min(1, { error: 'must be at least 1' }).default(50),
          /** Burst of requests across the API. */
          throttleBurstLimit: z.number().int().min(1, { error: 'must be at least 1' }).default(100),
        })
        .prefault({}),
      /**
       * Slack approvals. Omitted → nothing Slack is created. Secrets are Secrets Manager ARNs
       * (env:/file: locally); apiUrl points at a stand-in in tests and the local runtime.
       */
      slack: z
        .strictObject({
          signingSecretRef: slackSecretRef(mode),
          botTokenRef: slackSecretRef(mode),
          apiUrl: mode === 'local' ? z.url().optional() : httpsUrl.optional(),
        })
        .optional(),
      /**
       * Microsoft Teams approvals. Omitted → nothing Teams is created. `appId` is the bot's Microsoft App
       * ID (the audience of Bot Framework tokens). With `appPasswordRef` (the bot's client secret, a Secrets Manager
       * ARN) and `tenantId`, Stint also sends cards: approval cards to approvers and the flow's `teamsChannel`, and
       * notices to requesters. `openIdMetadataUrl`, `serviceUrl`, `loginUrl` and `graphUrl` point at a stand-in in
       * tests and locally.
       */
      teams: z
        .strictObject({
          appId: z.guid({ error: 'must be the bot’s Microsoft App ID (a GUID)' }),
          /** The Entra ID tenant of the bot's app registration (its tokens come from this tenant). */
          tenantId: z.guid({ error: 'must be the Entra ID tenant id (a GUID)' }).optional(),
          appPasswordRef: slackSecretRef(mode).optional(),
          openIdMetadataUrl: mode === 'local' ? z.url().optional() : httpsUrl.optional(),
          /** Bot Connector service URL the cards are sent through. */
          serviceUrl: (mode === 'local' ? z.url() : httpsUrl).default(DEFAULT_TEAMS_SERVICE_URL),
          /** OAuth2 token endpoint; default `https://login.microsoftonline.com/<tenantId>/oauth2/v2.0/token`. */
          loginUrl: mode === 'local' ? z.url().optional() : httpsUrl.optional(),
          /** Microsoft Graph base URL; default `https://graph.microsoft.com`. */
          graphUrl: mode === 'local' ? z.url().optional() : httpsUrl.optional(),
          /**
           * Find people without a linked Teams account by email in Microsoft Graph (needs the application permission
           * User.Read.All). `false`: only linked accounts are used.
           */
          graphLookup: z.boolean({ error: 'must be true or false' }).default(true),
        })
        .superRefine((teams, ctx) => {
          if (teams.appPasswordRef !== undefined && teams.tenantId === undefined) {
            ctx.addIssue({
              code: 'custom',
              path: ['tenantId'],
              message: 'is required with appPasswordRef (the bot gets its tokens from this Entra ID tenant)',
            });
          }
        })
        .optional(),
      /**
       * Approvals by Jira transitions. Omitted → no Jira webhook. `webhookSecretRef` holds the secret set on
       * the Jira admin webhook (Jira signs each delivery with it: `X-Hub-Signature: sha256=…`). Flows opt in with
       * `jiraApproval`, naming one of the `jira` targets below, whose credentials re-read the issues.
       */
      jiraApprovals: z
        .strictObject({
          webhookSecretRef: slackSecretRef(mode),
        })
        .optional(),
      /**
       * SIEM and ITSM targets audit events are delivered to (lib/targets/config.ts documents each field).
       * Each gets an EventBridge rule, a queue, a dead-letter queue with an alarm, and its kind's delivery function.
       */
      targets: z
        .array(targetSchema(mode), { error: 'must be a list of targets' })
        .default([])
        .superRefine((targets, ctx) => {
          for (const issue of targetListIssues(targets)) ctx.addIssue({ code: 'custom', ...issue });
        }),
      /**
       * On-call providers (PagerDuty, Opsgenie) whose shift members approve or request (docs/oncall.md;
       * lib/oncall/config.ts documents each field). Names are unique; the API keys live where secretRef says.
       */
      oncall: z
        .array(oncallSchema(mode), { error: 'must be a list of on-call providers' })
        .default([])
        .superRefine((providers, ctx) => {
          for (const issue of oncallListIssues(providers)) ctx.addIssue({ code: 'custom', ...issue });
        }),
      /**
       * What the AWS drivers and custom integrations may touch: each driver function's IAM policy is scoped to
       * these (docs/integrations/<type>.md). A driver without its section gets no AWS permission at all.
       */
      drivers: z
        .strictObject({
          awsIdentityCenter: AwsIdentityCenterDeployment.optional(),
          awsIamRole: AwsIamRoleDeployment.optional(),
          lambda: LambdaDeploymentConfig.optional(),
        })
        .default({}),
    })
    .superRefine((config, ctx) => {
      for (const issue of queueNameIssues(config.stackName, config.targets)) ctx.addIssue({ code: 'custom', ...issue });
      if (config.auth !== undefined && config.portal.clientId === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['portal', 'clientId'],
          message:
            "is required with auth: the id of the portal's client at auth.issuer (public, authorization code with PKCE)",
        });
      }
      if (config.auth === undefined && config.portal.clientId !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['portal', 'clientId'],
          message: 'is set only with auth (without auth the stack creates the portal client in its Cognito pool)',
        });
      }
      if (config.auth === undefined && config.cli !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['cli'],
          message: 'is set only with auth (without auth the stack creates the CLI client in its Cognito pool)',
        });
      }
      if (config.jiraApprovals !== undefined && !config.targets.some((t) => t.kind === 'jira')) {
        ctx.addIssue({
          code: 'custom',
          path: ['jiraApprovals'],
          message: 'needs a target of kind jira (its credentials re-read the issues)',
        });
      }
    });

export const StintConfigSchema = stintConfigSchema('deployed');

/** A Slack secret: a complete Secrets Manager ARN (env:NAME or file:/path only locally). */
function slackSecretRef(mode: ConfigMode) {
  const arn = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/;
  const local = /^(env:[A-Z_][A-Z0-9_]*|file:\/.+)$/;
  return z
    .string({ error: 'is required (a Secrets Manager secret ARN)' })
    .refine((ref) => arn.test(ref) || (mode === 'local' && local.test(ref)), {
      error:
        mode === 'local'
          ? 'must be a complete Secrets Manager secret ARN, env:NAME or file:/path'
          : 'must be a complete Secrets Manager secret ARN (env: and file: are local only)',
    });
}

type Issue = { path: (string | number)[]; message: string };

/** One target, checked alone: its endpoint, its secret reference and its kind's options. */
function targetSchema(mode: ConfigMode) {
  return DeployedTarget.superRefine((target, ctx) => {
    if (target.name.endsWith('-dlq')) {
      ctx.addIssue({
        code: 'custom',
        path: ['name'],
        message: 'must not end in "-dlq" (that names dead-letter queues)',
      });
    }
    for (const issue of [...endpointIssues(target, mode), ...secretRefIssues(target, mode)]) {
      ctx.addIssue({ code: 'custom', ...issue });
    }
    for (const issue of targetOptionIssues(target)) {
      ctx.addIssue({ code: 'custom', ...issue });
    }
  });
}

/** IP ranges (ipaddr.js names) an endpoint may name without `allowPrivateNetwork`: public unicast only. */
const PUBLIC_RANGES = new Set(['unicast']);

const RANGE_NAMES: Record<string, string> = {
  private: 'private',
  loopback: 'loopback',
  linkLocal: 'link-local',
  uniqueLocal: 'unique local (private)',
  carrierGradeNat: 'carrier-grade NAT',
  unspecified: 'unspecified',
  ipv4Mapped: 'IPv4-mapped',
};

/** HTTPS only (plain HTTP locally), no credentials in the URL, no literal private address unless allowed. */
function endpointIssues(target: DeployedTarget, mode: ConfigMode): Issue[] {
  if (!URL.canParse(target.endpoint)) return []; // the schema already says "must be a URL"
  const url = new URL(target.endpoint);
  const path = ['endpoint'];
  const schemes = mode === 'local' ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) {
    return [{ path, message: `must be an https URL, got ${url.protocol.slice(0, -1)}:` }];
  }
  if (url.username !== '' || url.password !== '') {
    return [{ path, message: 'must not carry credentials (put them in the secret secretRef names)' }];
  }
  if (target.allowPrivateNetwork) return [];
  // Names that resolve to a private address are refused after DNS resolution, when delivering
  // (lib/targets/outbound.ts); an address written in the URL is refused here, at synth.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost' || host.endsWith('.localhost')) {
    return [{ path, message: `${host} is a loopback address; set allowPrivateNetwork: true to allow it` }];
  }
  if (!ipaddr.isValid(host)) return [];
  const range = ipaddr.process(host).range();
  if (PUBLIC_RANGES.has(range)) return [];
  return [
    {
      path,
      message:
        `${host} is a ${RANGE_NAMES[range] ?? range} address, not a public one; ` +
        'set allowPrivateNetwork: true to allow a private network',
    },
  ];
}

/** A deployed stack reads target secrets from Secrets Manager, by their complete ARN (the IAM grant names it). */
function secretRefIssues(target: Pick<DeployedTarget, 'secretRef'>, mode: ConfigMode): Issue[] {
  const path = ['secretRef'];
  if (target.secretRef.startsWith('env:') || target.secretRef.startsWith('file:')) {
    if (mode === 'local') return [];
    return [
      { path, message: 'must be a Secrets Manager secret ARN in a deployed stack (env: and file: are local only)' },
    ];
  }
  // Secrets Manager appends "-" and 6 random characters to the name; a partial ARN would not match the grant.
  if (target.secretRef.startsWith('arn:') && !/:secret:.+-[A-Za-z0-9]{6}$/.test(target.secretRef)) {
    return [{ path, message: 'must be the complete secret ARN, ending in the 6 characters Secrets Manager appends' }];
  }
  return [];
}

/** Kind-specific checks (options, and the endpoint against them); paths are relative to the target. */
export function targetOptionIssues(target: TargetConfig): Issue[] {
  try {
    validateTargetOptions(target);
    return [];
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const issues =
      error.issues.length > 0 ? error.issues : [{ path: error.field ?? 'options', message: error.message }];
    // Paths come back as `options.a.b`, or `endpoint` for a kind's endpoint check.
    return issues.map((i) => ({ path: i.path.split('.'), message: i.message }));
  }
}

/** Across targets: unique names, and all of them fit in the delivery functions' environment. */
function targetListIssues(targets: DeployedTarget[]): Issue[] {
  const issues: Issue[] = [];
  const first = new Map<string, number>();
  targets.forEach((target, i) => {
    const earlier = first.get(target.name);
    if (earlier === undefined) first.set(target.name, i);
    else issues.push({ path: [i, 'name'], message: `"${target.name}" is already the name of targets[${earlier}]` });
  });
  const bytes = Buffer.byteLength(JSON.stringify(targets.map(runtimeFields)));
  if (bytes > MAX_TARGETS_JSON_BYTES) {
    issues.push({
      path: [],
      message:
        `the targets' configuration is ${bytes} bytes as JSON, more than the ${MAX_TARGETS_JSON_BYTES} the ` +
        'delivery functions’ environment can hold (Lambda caps it at 4 KB); shorten options or split targets',
    });
  }
  return issues;
}

/** Queue names (the dead-letter queue's is the longest) must fit SQS's 80 characters. */
function queueNameIssues(stackName: string, targets: DeployedTarget[]): Issue[] {
  return targets.flatMap((target, i) => {
    const length = deadLetterQueueName(stackName, target).length;
    if (length <= MAX_QUEUE_NAME) return [];
    return [
      {
        path: ['targets', i, 'name'],
        message:
          `makes a queue name of ${length} characters with stack name "${stackName}" (SQS allows ` +
          `${MAX_QUEUE_NAME}); shorten the target or the stack name`,
      },
    ];
  });
}

/** The target's queue: `<stackName>-target-<name>`, with `.fifo` for ITSM kinds (ordered per target). */
export function targetQueueName(stackName: string, target: Pick<TargetConfig, 'name' | 'kind'>): string {
  return `${stackName}-target-${target.name}${isItsm(target.kind) ? '.fifo' : ''}`;
}

/** The queue's dead-letter queue: `<stackName>-target-<name>-dlq`, with `.fifo` for ITSM kinds. */
export function deadLetterQueueName(stackName: string, target: Pick<TargetConfig, 'name' | 'kind'>): string {
  return `${stackName}-target-${target.name}-dlq${isItsm(target.kind) ? '.fifo' : ''}`;
}

/**
 * Where EventBridge puts events it could not send to the target's queue: a standard queue (EventBridge takes
 * no FIFO dead-letter queue), so for SIEM kinds the same queue as deadLetterQueueName, for ITSM kinds a second
 * one next to the `-dlq.fifo`.
 */
export function ruleDeadLetterQueueName(stackName: string, target: Pick<TargetConfig, 'name'>): string {
  return `${stackName}-target-${target.name}-dlq`;
}

/** A target without the fields only the infrastructure reads. */
function runtimeFields({ maxReceiveCount: _, ...target }: DeployedTarget): TargetConfig {
  return target;
}

/**
 * STINT_TARGETS, the same for every delivery function: every target as lib/targets/config.ts's TargetConfig
 * (parsed again, so a value the functions would refuse at cold start fails synth instead).
 */
export function targetsEnvironment(targets: readonly DeployedTarget[]): string {
  return JSON.stringify(z.array(TargetConfig).parse(targets.map(runtimeFields)));
}

/** One on-call provider, checked alone: its API URL and its secret reference, as for targets. */
function oncallSchema(mode: ConfigMode) {
  return OnCallProviderConfig.superRefine((provider, ctx) => {
    for (const issue of [...apiUrlIssues(provider.apiUrl, mode), ...secretRefIssues(provider, mode)]) {
      ctx.addIssue({ code: 'custom', ...issue });
    }
  });
}

/**
 * A provider's apiUrl: HTTPS in a deployed stack (PagerDuty refuses plain HTTP anyway), no credentials, query or
 * fragment, and no literal loopback or private address (the vendors are public SaaS APIs; the outbound guard refuses
 * such addresses after DNS too). Locally, plain HTTP and loopback are allowed for the stand-ins.
 */
function apiUrlIssues(apiUrl: string | undefined, mode: ConfigMode): Issue[] {
  if (apiUrl === undefined || !URL.canParse(apiUrl)) return []; // the schema already says "must be a URL"
  const url = new URL(apiUrl);
  const path = ['apiUrl'];
  const schemes = mode === 'local' ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol))
    return [{ path, message: `must be an https URL, got ${url.protocol.slice(0, -1)}:` }];
  if (url.username !== '' || url.password !== '') {
    return [{ path, message: 'must not carry credentials (the API key goes in the secret secretRef names)' }];
  }
  if (url.search !== '' || url.hash !== '') return [{ path, message: 'must be a base URL, without query or fragment' }];
  if (mode === 'local') return [];
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost' || host.endsWith('.localhost')) return [{ path, message: `${host} is a loopback address` }];
  if (!ipaddr.isValid(host)) return [];
  const range = ipaddr.process(host).range();
  if (PUBLIC_RANGES.has(range)) return [];
  return [{ path, message: `${host} is a ${RANGE_NAMES[range] ?? range} address, not a public one` }];
}

/** Across providers: unique names (flows name them), and all of them fit in a function's environment. */
function oncallListIssues(providers: OnCallProviderConfig[]): Issue[] {
  const issues: Issue[] = [];
  const first = new Map<string, number>();
  providers.forEach((provider, i) => {
    const earlier = first.get(provider.name);
    if (earlier === undefined) first.set(provider.name, i);
    else issues.push({ path: [i, 'name'], message: `"${provider.name}" is already the name of oncall[${earlier}]` });
  });
  // Runs even when an entry failed its own checks: measure, do not re-parse.
  const bytes = Buffer.byteLength(JSON.stringify(providers));
  if (bytes > MAX_ONCALL_JSON_BYTES) {
    issues.push({
      path: [],
      message: `the on-call providers' configuration is ${bytes} bytes as JSON, more than the ${MAX_ONCALL_JSON_BYTES} a function's environment can spare`,
    });
  }
  return issues;
}

/**
 * STINT_ONCALL for the functions that ask on-call providers (parsed again by lib/oncall/config.ts's schema, so a value
 * the functions would refuse at cold start fails synth instead). Not wired into any function here.
 */
export function oncallEnvironment(providers: readonly OnCallProviderConfig[]): string {
  return JSON.stringify(z.array(OnCallProviderConfig).parse(providers));
}

/** What infra/stint.config.ts exports (defaults may be omitted). */
export type StintConfigInput = z.input<typeof StintConfigSchema>;
/** The validated configuration the stack is built from. */
export type StintConfig = z.output<typeof StintConfigSchema>;

export class StintConfigError extends Error {
  override readonly name = 'StintConfigError';
}

/** Gives the config file's type to an object literal: `export default defineConfig({ ... })`. */
export function defineConfig(config: StintConfigInput): StintConfigInput {
  return config;
}

/** Validates a configuration; throws a StintConfigError naming every wrong field. */
export function parseStintConfig(
  raw: unknown,
  source = 'stint.config.ts',
  options: { readonly mode?: ConfigMode } = {},
): StintConfig {
  const parsed = stintConfigSchema(options.mode ?? 'deployed').safeParse(raw);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const field = issue.path.map(String).join('.');
    return field === '' ? `${source}: ${issue.message}` : `${source}: ${field}: ${issue.message}`;
  });
  throw new StintConfigError(lines.join('\n'));
}

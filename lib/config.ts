import * as z from 'zod';
import { DEFAULT_GRAPH_URL, DEFAULT_TEAMS_SERVICE_URL } from '#lib/channels/teams/defaults.ts';
import { lazy } from '#lib/lazy.ts';

/**
 * Runtime configuration of every Lambda (and of the local runtime, which sets the same variables).
 * Parsed once at cold start; a missing variable a function needs fails with a clear message.
 * The house construct (infra/constructs/stint-function.ts) sets these; nothing else reads process.env.
 */
const Env = z.object({
  STINT_TABLE_NAME: z.string().min(1).optional(),
  STINT_STATE_MACHINE_ARN: z.string().min(1).optional(),
  STINT_EVENT_BUS_NAME: z.string().min(1).optional(),
  /** Members of this group administer flows, integrations and bundles and may list all requests. */
  STINT_ADMIN_GROUP: z.string().min(1).default('stint-admins'),
  /** Members of this group may list and read all requests (read-only). */
  STINT_AUDITOR_GROUP: z.string().min(1).default('stint-auditors'),
  /** Secret reference (see SecretRef) of the key that seals issued credentials. */
  STINT_CREDENTIALS_KEY_REF: z.string().min(1).optional(),
  /** Secret reference (see SecretRef) of the bearer token SCIM clients (Okta, Entra ID) present. */
  STINT_SCIM_TOKEN_REF: z.string().min(1).optional(),
  /** Non-secret configuration of every SIEM/ITSM target (JSON array of TargetConfig), for delivery functions. */
  STINT_TARGETS: z.string().min(2).optional(),
  /** Non-secret configuration of every on-call provider (JSON array of OnCallProviderConfig); absent: none. */
  STINT_ONCALL: z.string().min(2).optional(),
  /** Slack, all optional: only the Slack functions read them. */
  STINT_SLACK_API_URL: z.url().default('https://slack.com/api/'),
  /** Secret reference of the Slack bot token (xoxb-…). */
  STINT_SLACK_BOT_TOKEN_REF: z.string().min(1).optional(),
  /** Secret reference of the Slack app's signing secret. */
  STINT_SLACK_SIGNING_SECRET_REF: z.string().min(1).optional(),
  /** Microsoft Teams, all optional: only the Teams function reads them. The bot's Microsoft App ID. */
  STINT_TEAMS_APP_ID: z.string().min(1).optional(),
  /** Bot Framework OpenID metadata document (a local stand-in in tests and the local runtime). */
  STINT_TEAMS_OPENID_METADATA_URL: z.url().default('https://login.botframework.com/v1/.well-known/openidconfiguration'),
  /** Proactive Teams cards (the notify function): the Entra ID tenant the bot belongs to. */
  STINT_TEAMS_TENANT_ID: z.guid().optional(),
  /** Secret reference of the bot's client secret (its Microsoft App password). */
  STINT_TEAMS_APP_PASSWORD_REF: z.string().min(1).optional(),
  /** Bot Connector service URL (a stand-in in tests and the local runtime). */
  STINT_TEAMS_SERVICE_URL: z.url().default(DEFAULT_TEAMS_SERVICE_URL),
  /** Microsoft Graph base URL (user lookup by email). */
  STINT_TEAMS_GRAPH_URL: z.url().default(DEFAULT_GRAPH_URL),
  /** OAuth2 token endpoint; default `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`. */
  STINT_TEAMS_LOGIN_URL: z.url().optional(),
  /** `false`: find people in Teams only by their linked account, never through Graph. */
  STINT_TEAMS_GRAPH_LOOKUP: z.enum(['true', 'false']).default('true'),
  /** Secret reference of the Jira webhook secret (approvals by Jira transitions). */
  STINT_JIRA_WEBHOOK_SECRET_REF: z.string().min(1).optional(),
  /** Public base URL of the API, shown to requesters in Slack ("GET <url>/requests/{id}/access"). */
  STINT_API_URL: z.url().optional(),
  /** Integration admin secrets must be Secrets Manager secrets whose name starts with this (infra secretsPrefix). */
  STINT_SECRETS_PREFIX: z.string().min(1).default('stint/'),
  /**
   * The issuer whose tokens the API accepts (the JWT authorizer's). API functions verify the bearer token themselves
   * against it, because the authorizer hands array claims (groups) to them flattened into one ambiguous string.
   */
  STINT_JWT_ISSUER: z.url().optional(),
  /** The authorizer's audiences, comma-separated: a token's `aud` or `client_id` must name one. */
  STINT_JWT_AUDIENCE: z.string().min(1).optional(),
  /** The issuer's JWKS; default: `jwks_uri` of `<issuer>/.well-known/openid-configuration`. */
  STINT_JWKS_URL: z.url().optional(),
  /**
   * The issuer's OIDC UserInfo endpoint, asked for the email of a caller whose token has none and whom the directory
   * does not know (Cognito: `https://<domain>/oauth2/userInfo`); default: `userinfo_endpoint` of the issuer's
   * OpenID configuration.
   */
  STINT_USERINFO_URL: z.url().optional(),
  /**
   * GET /auth-config only (what `stint login --url` reads before it has a token): the issuer to sign in at, and the
   * CLI's public OIDC client there with the scopes it asks for (space-separated), when there is one.
   */
  STINT_AUTH_ISSUER: z.url().optional(),
  STINT_CLI_CLIENT_ID: z.string().min(1).optional(),
  STINT_CLI_SCOPES: z
    .string()
    .regex(/^\S+( \S+)*$/)
    .default('openid email profile'),
  /** The driver function of each integration type, as JSON `{ type: name }`: routes that call drivers only. */
  STINT_DRIVER_FUNCTIONS: z.string().min(2).optional(),
  /** The functions custom integrations may call (stint.config.ts drivers.lambda, as JSON): put-integration only. */
  STINT_LAMBDA_INTEGRATIONS: z.string().min(2).optional(),
  /** Set by the local runtime only. Never set in AWS. */
  STINT_LOCAL: z.enum(['true', 'false']).default('false'),
});

export type Config = {
  readonly adminGroup: string;
  readonly auditorGroup: string;
  readonly local: boolean;
  readonly secretsPrefix: string;
  readonly tableName: string;
  readonly stateMachineArn: string;
  readonly eventBusName: string;
  readonly credentialsKeyRef: string;
  readonly scimTokenRef: string;
  /** STINT_TARGETS as set (JSON); parsed by targetsOf (lib/targets/config.ts), so only delivery code bundles the schemas. */
  readonly targetsJson: string;
  /**
   * STINT_ONCALL as set (JSON; absent: `[]`, no on-call provider); parsed by oncallProvidersOf (lib/oncall/config.ts),
   * so only code that asks providers bundles their schemas.
   */
  readonly oncallJson: string;
  readonly slack: { readonly apiUrl: string; readonly botTokenRef: string; readonly signingSecretRef: string };
  readonly teams: {
    readonly appId: string;
    readonly openIdMetadataUrl: string;
    readonly tenantId: string;
    readonly appPasswordRef: string;
    readonly serviceUrl: string;
    readonly loginUrl: string | undefined;
    readonly graphUrl: string;
    readonly graphLookup: boolean;
    /** Whether the function was given the tenant id and the bot's client secret reference (proactive Teams). */
    readonly tenantIdIfSet: string | undefined;
    readonly hasAppPassword: boolean;
  };
  readonly jiraApprovals: { readonly webhookSecretRef: string };
  readonly apiUrl: string | undefined;
  /** The token issuer, audiences and key set of the API (read by every API function). */
  readonly jwt: {
    readonly issuer: string;
    readonly audiences: readonly string[];
    readonly jwksUrl?: string;
    /** The issuer's OIDC UserInfo endpoint (absent: its discovery document's `userinfo_endpoint`). */
    readonly userinfoUrl?: string;
  };
  /** What GET /auth-config announces: the issuer, and the CLI's client there when one is configured. */
  readonly signIn: {
    readonly issuer: string;
    readonly cli: { readonly clientId: string; readonly scopes: readonly string[] } | undefined;
  };
  /**
   * What custom integrations may call, STINT_LAMBDA_INTEGRATIONS as JSON (absent: `{}`, nothing but, locally, `file:`
   * modules); parsed by lambdaIntegrationsOf (lib/integrations/lambda-deployment.ts).
   */
  readonly lambdaIntegrationsJson: string;
  /** The name of the driver function of an integration type (routes that call drivers: access, discover). */
  driverFunction(type: string): string;
};

function required(value: string | undefined, name: string): string {
  if (value === undefined)
    throw new Error(`Configuration error: environment variable ${name} is not set for this function`);
  return value;
}

export function parseConfig(env: NodeJS.ProcessEnv): Config {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Configuration error: ${details}`);
  }
  const e = parsed.data;
  return {
    adminGroup: e.STINT_ADMIN_GROUP,
    auditorGroup: e.STINT_AUDITOR_GROUP,
    local: e.STINT_LOCAL === 'true',
    secretsPrefix: e.STINT_SECRETS_PREFIX,
    get tableName() {
      return required(e.STINT_TABLE_NAME, 'STINT_TABLE_NAME');
    },
    get stateMachineArn() {
      return required(e.STINT_STATE_MACHINE_ARN, 'STINT_STATE_MACHINE_ARN');
    },
    get eventBusName() {
      return required(e.STINT_EVENT_BUS_NAME, 'STINT_EVENT_BUS_NAME');
    },
    get credentialsKeyRef() {
      return required(e.STINT_CREDENTIALS_KEY_REF, 'STINT_CREDENTIALS_KEY_REF');
    },
    slack: {
      apiUrl: e.STINT_SLACK_API_URL,
      get botTokenRef() {
        return required(e.STINT_SLACK_BOT_TOKEN_REF, 'STINT_SLACK_BOT_TOKEN_REF');
      },
      get signingSecretRef() {
        return required(e.STINT_SLACK_SIGNING_SECRET_REF, 'STINT_SLACK_SIGNING_SECRET_REF');
      },
    },
    teams: {
      get appId() {
        return required(e.STINT_TEAMS_APP_ID, 'STINT_TEAMS_APP_ID');
      },
      openIdMetadataUrl: e.STINT_TEAMS_OPENID_METADATA_URL,
      get tenantId() {
        return required(e.STINT_TEAMS_TENANT_ID, 'STINT_TEAMS_TENANT_ID');
      },
      get appPasswordRef() {
        return required(e.STINT_TEAMS_APP_PASSWORD_REF, 'STINT_TEAMS_APP_PASSWORD_REF');
      },
      serviceUrl: e.STINT_TEAMS_SERVICE_URL,
      loginUrl: e.STINT_TEAMS_LOGIN_URL,
      graphUrl: e.STINT_TEAMS_GRAPH_URL,
      graphLookup: e.STINT_TEAMS_GRAPH_LOOKUP === 'true',
      tenantIdIfSet: e.STINT_TEAMS_TENANT_ID,
      hasAppPassword: e.STINT_TEAMS_APP_PASSWORD_REF !== undefined,
    },
    jiraApprovals: {
      get webhookSecretRef() {
        return required(e.STINT_JIRA_WEBHOOK_SECRET_REF, 'STINT_JIRA_WEBHOOK_SECRET_REF');
      },
    },
    apiUrl: e.STINT_API_URL,
    get jwt() {
      const audiences = required(e.STINT_JWT_AUDIENCE, 'STINT_JWT_AUDIENCE')
        .split(',')
        .map((a) => a.trim())
        .filter((a) => a !== '');
      if (audiences.length === 0) throw new Error('Configuration error: STINT_JWT_AUDIENCE names no audience');
      return {
        issuer: required(e.STINT_JWT_ISSUER, 'STINT_JWT_ISSUER'),
        audiences,
        ...(e.STINT_JWKS_URL === undefined ? {} : { jwksUrl: e.STINT_JWKS_URL }),
        ...(e.STINT_USERINFO_URL === undefined ? {} : { userinfoUrl: e.STINT_USERINFO_URL }),
      };
    },
    get signIn() {
      return {
        issuer: required(e.STINT_AUTH_ISSUER, 'STINT_AUTH_ISSUER'),
        cli:
          e.STINT_CLI_CLIENT_ID === undefined
            ? undefined
            : { clientId: e.STINT_CLI_CLIENT_ID, scopes: e.STINT_CLI_SCOPES.split(' ') },
      };
    },
    get scimTokenRef() {
      return required(e.STINT_SCIM_TOKEN_REF, 'STINT_SCIM_TOKEN_REF');
    },
    get targetsJson() {
      return required(e.STINT_TARGETS, 'STINT_TARGETS');
    },
    driverFunction(type) {
      const parsed = z
        .record(z.string(), z.string())
        .safeParse(JSON.parse(required(e.STINT_DRIVER_FUNCTIONS, 'STINT_DRIVER_FUNCTIONS')));
      if (!parsed.success) throw new Error('Configuration error: STINT_DRIVER_FUNCTIONS is not a JSON map of names');
      const name = parsed.data[type];
      if (name === undefined) throw new Error(`Configuration error: STINT_DRIVER_FUNCTIONS names no ${type} function`);
      return name;
    },
    lambdaIntegrationsJson: e.STINT_LAMBDA_INTEGRATIONS ?? '{}',
    oncallJson: e.STINT_ONCALL ?? '[]',
  };
}

/** The function's configuration, parsed on first use (locally: once per function, from its own environment). */
export const config: () => Config = /* @__PURE__ */ lazy(() => parseConfig(process.env));

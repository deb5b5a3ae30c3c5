import { Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { type Route, routes } from '#functions/api/routes.ts';
import { SCIM_TABLE_ACTIONS, type ScimRoute, scimEntries, scimRoutes } from '#functions/scim/routes.ts';
import type { StintConfig } from '#infra/config.ts';
import { StintFunction } from '#infra/constructs/stint-function.ts';
import { pascal } from '#infra/constructs/workflow.ts';
import { adminApiAcknowledgements, adminApiStatements, lambdaDeployment } from '#infra/drivers/lambda.ts';
import { CLI_REDIRECT_URIS } from '#lib/identity/loopback.ts';
import { CAPABILITIES } from '#lib/integrations/capabilities.ts';
import { DRIVER_TYPES, type DriverType } from '#lib/workflow/contract.ts';

export type ApiProps = {
  readonly config: StintConfig;
  readonly table: ITableV2;
  readonly credentialsKey: ISecret;
  readonly stateMachine: IStateMachine;
  /** The driver functions (infra/constructs/workflow.ts), for routes that call them directly. */
  readonly drivers: Readonly<Record<DriverType, StintFunction>>;
  /**
   * The origins the web portal is served from (`https://<distribution domain>`, a custom domain): the only
   * origins CORS admits, and the portal client's callback and sign-out URLs when the stack creates the pool.
   */
  readonly portalOrigins: readonly string[];
};

/** Request headers the portal sends (bearer token, JSON bodies, optimistic concurrency, the client's channel). */
export const CORS_ALLOW_HEADERS = [
  'authorization',
  'content-type',
  'if-match',
  'if-none-match',
  'x-stint-channel',
] as const;
/** Response headers the portal reads (the version of what it edits, where a created resource lives). */
export const CORS_EXPOSE_HEADERS = ['etag', 'location'] as const;

/**
 * The managed login domain prefix of the Cognito pool the stack creates: the stack name and the account, so it is
 * unique in the region (Cognito prefixes are global per region). Lower-case letters, digits and hyphens, at most
 * 63 characters, without the words Cognito reserves (aws, amazon, cognito).
 */
export function cognitoDomainPrefix(stackName: string): string {
  const base = stackName
    .toLowerCase()
    .replace(/aws|amazon|cognito/g, '')
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, 50)
    .replace(/^-+|-+$/g, '');
  return `${base === '' ? 'stint' : base}-${Aws.ACCOUNT_ID}`;
}

/** The origin of that managed login domain (authorize, token, userInfo and logout endpoints). */
export function cognitoSignInOrigin(stackName: string): string {
  return `https://${cognitoDomainPrefix(stackName)}.auth.${Aws.REGION}.amazoncognito.com`;
}

/** The origin of a Cognito pool's issuer (`https://cognito-idp.<region>.amazonaws.com/<pool id>`). */
export const cognitoIssuerOrigin = (): string => `https://cognito-idp.${Aws.REGION}.${Aws.URL_SUFFIX}`;

/** The OAuth scopes of the Cognito app clients the stack creates. */
const CLIENT_SCOPES = [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE];

/**
 * The HTTP API: one route and one function per entry of functions/api/routes.ts, each function granted only
 * the access its route lists, every route but the public ones behind the JWT authorizer. The local runtime adds
 * its own `/_local` routes; they are never part of this template.
 */
export class Api extends Construct {
  readonly httpApi: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly url: string;
  readonly issuer: string;
  readonly audience: readonly string[];
  /** The configured issuer's key set, when it has no OpenID discovery (`auth.jwksUrl`). */
  private readonly jwksUrl: string | undefined;
  readonly functions: ReadonlyMap<string, StintFunction>;
  /** The SCIM bearer token (generated); its value is given to the IdP administrator (Okta, Entra ID). */
  readonly scimToken: secretsmanager.Secret;
  /** Created when the config names no issuer. */
  readonly userPool?: cognito.UserPool;
  /** The managed login domain of that pool (sign-in pages, OAuth 2.0 and OIDC endpoints). */
  readonly userPoolDomain?: cognito.UserPoolDomain;
  /** The portal's app client (authorization code with PKCE, no secret). */
  readonly portalClient?: cognito.UserPoolClient;
  /** The CLI's app client (authorization code with PKCE and a loopback redirect, no secret). */
  readonly cliClient?: cognito.UserPoolClient;
  /** The OIDC UserInfo endpoint of the pool's domain, when the stack creates the pool. */
  private readonly userInfoUrl: string | undefined;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const { config } = props;
    const removalPolicy = config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    if (config.auth === undefined) {
      const pool = this.createUserPool(config, removalPolicy, props.portalOrigins);
      this.userPool = pool.userPool;
      this.userPoolDomain = pool.domain;
      this.portalClient = pool.portalClient;
      this.cliClient = pool.cliClient;
      this.issuer = pool.userPool.userPoolProviderUrl;
      // Cognito access tokens carry the client in `client_id` (no `aud`): the authorizer checks it against these.
      this.audience = [pool.portalClient.userPoolClientId, pool.cliClient.userPoolClientId];
      this.userInfoUrl = `${pool.domain.baseUrl()}/oauth2/userInfo`;
    } else {
      this.issuer = config.auth.issuer;
      this.audience = config.auth.audience;
      this.jwksUrl = config.auth.jwksUrl;
    }
    const authorizer = new HttpJwtAuthorizer('JwtAuthorizer', this.issuer, {
      jwtAudience: [...this.audience],
      identitySource: ['$request.header.Authorization'],
    });

    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      apiName: `${config.stackName}-api`,
      description: 'Stint just-in-time access API',
      createDefaultStage: false,
      // API Gateway answers preflights itself and adds these headers to responses for an admitted origin only.
      corsPreflight: {
        allowOrigins: [...props.portalOrigins],
        allowHeaders: [...CORS_ALLOW_HEADERS],
        exposeHeaders: [...CORS_EXPOSE_HEADERS],
        allowMethods: [
          apigw.CorsHttpMethod.GET,
          apigw.CorsHttpMethod.POST,
          apigw.CorsHttpMethod.PUT,
          apigw.CorsHttpMethod.DELETE,
        ],
        maxAge: Duration.minutes(10),
        allowCredentials: false,
      },
    });
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: config.logRetentionDays, removalPolicy });
    this.stage = new apigw.HttpStage(this, 'Stage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: config.api.throttleRateLimit, burstLimit: config.api.throttleBurstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(accessLogs),
        // Ids and outcomes only: no headers, no tokens, no bodies.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTime',
            ip: '$context.identity.sourceIp',
            routeKey: '$context.routeKey',
            status: '$context.status',
            latencyMs: '$context.responseLatency',
            sub: '$context.authorizer.claims.sub',
            authorizerError: '$context.authorizer.error',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    this.url = this.stage.url;

    const functions = new Map<string, StintFunction>();
    const handlers = new Construct(this, 'Routes');
    for (const route of routes) {
      const fn = this.routeFunction(handlers, route, props);
      functions.set(route.entry, fn);
      const [httpRoute] = this.httpApi.addRoutes({
        path: route.path,
        methods: [apigw.HttpMethod[route.method]],
        integration: new HttpLambdaIntegration(`${pascal(route.entry)}Integration`, fn.fn),
        ...(route.auth ? { authorizer } : {}),
      });
      if (!route.auth && httpRoute !== undefined) {
        Validations.of(httpRoute).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason: `${route.method} ${route.path} is public by design (routes.ts auth: false); it returns no data.`,
        });
      }
    }
    this.functions = functions;

    // SCIM 2.0 (functions/scim/routes.ts): same API, no JWT authorizer; the handler verifies the bearer token.
    this.scimToken = new secretsmanager.Secret(this, 'ScimToken', {
      description: 'Stint: bearer token SCIM clients (Okta, Entra ID) present to /scim/v2',
      generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
      removalPolicy,
    });
    Validations.of(this.scimToken).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The SCIM token is pasted into the IdP provisioning settings by an administrator; an automatic rotation ' +
        'would silently break provisioning. Rotate it by hand together with the IdP configuration.',
    });
    const scimFunctions = new Map<string, StintFunction>();
    const scimHandlers = new Construct(this, 'ScimRoutes');
    for (const entry of scimEntries) {
      const fn = new StintFunction(scimHandlers, pascal(entry), {
        entry: `functions/scim/${entry}.ts`,
        description: `Stint SCIM 2.0: ${entry}`,
        memorySize: 512,
        timeout: Duration.seconds(15),
        config: props.config,
      });
      const dynamo = SCIM_TABLE_ACTIONS[entry];
      if (dynamo.length > 0) fn.grantTable(props.table, dynamo);
      this.scimToken.grantRead(fn.fn);
      fn.fn.addEnvironment('STINT_SCIM_TOKEN_REF', this.scimToken.secretArn);
      scimFunctions.set(entry, fn);
      functions.set(entry, fn);
    }
    for (const route of scimRoutes) this.addScimRoute(route, scimFunctions);
  }

  private addScimRoute(route: ScimRoute, fns: ReadonlyMap<string, StintFunction>): void {
    const fn = fns.get(route.entry);
    if (fn === undefined) throw new Error(`no SCIM function ${route.entry}`);
    const [httpRoute] = this.httpApi.addRoutes({
      path: route.path,
      methods: [apigw.HttpMethod[route.method]],
      integration: new HttpLambdaIntegration(
        `Scim${route.method}${route.path.replace(/[^A-Za-z0-9]/g, '')}Integration`,
        fn.fn,
      ),
    });
    if (httpRoute !== undefined) {
      Validations.of(httpRoute).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason: `${route.method} ${route.path}: SCIM uses its own bearer token, verified in the handler (lib/scim/handler.ts) in constant time.`,
      });
    }
  }

  private routeFunction(scope: Construct, route: Route, props: ApiProps): StintFunction {
    const fn = new StintFunction(scope, pascal(route.entry), {
      entry: `functions/api/${route.entry}.ts`,
      description: `Stint API: ${route.method} ${route.path}`,
      memorySize: 512,
      timeout: Duration.seconds(15),
      config: props.config,
    });
    if (route.auth) this.setTokenEnvironment(fn);
    if (route.entry === 'auth-config') this.setSignInEnvironment(fn, props.config);
    const access = new Set(route.access);
    if (route.dynamo.length > 0) fn.grantTable(props.table, route.dynamo);
    if (access.has('startExecution')) fn.grantStartExecution(props.stateMachine);
    const results = (['success', 'failure'] as const).filter((r) =>
      access.has(r === 'success' ? 'taskSuccess' : 'taskFailure'),
    );
    if (results.length > 0) fn.grantTaskTokens(props.stateMachine, results);
    if (access.has('credentialsKey')) fn.grantCredentialsKey(props.credentialsKey);
    if (access.has('oncall')) fn.grantOnCall(props.config);
    if (access.has('oncallNames')) fn.grantOnCall(props.config, { keys: false });
    if (access.has('invokeDrivers')) {
      // The access route asks only drivers that issue credentials on read; discovery asks any driver.
      const called = DRIVER_TYPES.filter((t) => route.entry !== 'get-access' || CAPABILITIES[t].issuesCredentials);
      // Every name (one value for every function: the local runtime runs them in one process); invoke only `called`.
      const names = Object.fromEntries(DRIVER_TYPES.map((type) => [type, props.drivers[type].fn.functionName]));
      fn.fn.addEnvironment('STINT_DRIVER_FUNCTIONS', Stack.of(this).toJsonString(names));
      // The unqualified functions only (grantInvoke would add every version and alias: `<arn>:*`).
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: called.map((type) => props.drivers[type].fn.functionArn),
        }),
      );
    }
    if (access.has('lambdaIntegrations')) {
      fn.fn.addEnvironment('STINT_LAMBDA_INTEGRATIONS', JSON.stringify(lambdaDeployment(props.config)));
      for (const statement of adminApiStatements(props.config)) fn.role.addToPrincipalPolicy(statement);
      const acknowledgements = adminApiAcknowledgements(props.config);
      if (acknowledgements.length > 0) Validations.of(fn.role).acknowledge(...acknowledgements);
    }
    return fn;
  }

  /**
   * The function verifies the bearer token itself (the authorizer hands it array claims such as groups flattened
   * into one ambiguous string): same issuer and audiences as the authorizer, and the key set of the Cognito pool
   * the stack creates; a configured issuer's `jwksUrl`, else its key set is found through its OpenID configuration.
   */
  private setTokenEnvironment(fn: StintFunction): void {
    fn.fn.addEnvironment('STINT_JWT_ISSUER', this.issuer);
    fn.fn.addEnvironment('STINT_JWT_AUDIENCE', this.audience.join(','));
    const jwksUrl = this.userPool !== undefined ? `${this.issuer}/.well-known/jwks.json` : this.jwksUrl;
    if (jwksUrl !== undefined) fn.fn.addEnvironment('STINT_JWKS_URL', jwksUrl);
    if (this.userInfoUrl !== undefined) fn.fn.addEnvironment('STINT_USERINFO_URL', this.userInfoUrl);
  }

  /**
   * GET /auth-config answers where to sign in: the authorizer's issuer, and the CLI client (the pool's, or
   * `cli` of the config with a bring-your-own issuer). Only that function is told.
   */
  private setSignInEnvironment(fn: StintFunction, config: StintConfig): void {
    fn.fn.addEnvironment('STINT_AUTH_ISSUER', this.issuer);
    const cli =
      this.cliClient !== undefined
        ? { clientId: this.cliClient.userPoolClientId, scopes: CLIENT_SCOPES.map((s) => s.scopeName).join(' ') }
        : config.cli;
    if (cli === undefined) return;
    fn.fn.addEnvironment('STINT_CLI_CLIENT_ID', cli.clientId);
    fn.fn.addEnvironment('STINT_CLI_SCOPES', cli.scopes);
  }

  private createUserPool(
    config: StintConfig,
    removalPolicy: RemovalPolicy,
    portalOrigins: readonly string[],
  ): {
    userPool: cognito.UserPool;
    domain: cognito.UserPoolDomain;
    portalClient: cognito.UserPoolClient;
    cliClient: cognito.UserPoolClient;
  } {
    const userPool = new cognito.UserPool(this, 'UserPool', {
      userPoolName: `${config.stackName}-users`,
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      autoVerify: { email: true },
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 14,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      deletionProtection: config.removalPolicy === 'retain',
      removalPolicy,
    });
    Validations.of(userPool).acknowledge({
      id: 'AwsSolutions-COG8',
      reason:
        'The Plus feature plan (threat protection) is a paid Cognito tier; the default pool enforces TOTP MFA and a ' +
        'strong password policy, and production deployments are expected to bring their own issuer (auth.issuer).',
    });
    // The groups Stint's authorization reads (Cognito puts them in the `cognito:groups` claim).
    for (const [groupId, groupName] of [
      ['AdminGroup', config.adminGroup],
      ['AuditorGroup', config.auditorGroup],
    ] as const) {
      new cognito.CfnUserPoolGroup(this, groupId, {
        userPoolId: userPool.userPoolId,
        groupName,
        description: `Stint ${groupId === 'AdminGroup' ? 'administrators' : 'auditors'}`,
      });
    }
    // Managed login (the newer sign-in pages): sign-in, MFA and password change, on a Cognito domain.
    const domain = userPool.addDomain('Domain', {
      cognitoDomain: { domainPrefix: cognitoDomainPrefix(config.stackName) },
      managedLoginVersion: cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
    });
    // Both are public clients (no secret: a browser and a terminal cannot keep one), so the code flow requires
    // PKCE of them; tokens come only from the code flow and its refresh tokens.
    const common = {
      generateSecret: false,
      // One explicit flow, so ExplicitAuthFlows is exactly ALLOW_REFRESH_TOKEN_AUTH: without a list Cognito would
      // also allow SRP and custom authentication, which nothing uses.
      authFlows: { userSrp: false },
      preventUserExistenceErrors: true,
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.hours(12),
      enableTokenRevocation: true,
    };
    const portalUrls = portalOrigins.map((origin) => `${origin}/`);
    const portalClient = userPool.addClient('PortalClient', {
      ...common,
      userPoolClientName: `${config.stackName}-portal`,
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: CLIENT_SCOPES,
        callbackUrls: portalUrls,
        logoutUrls: portalUrls,
      },
    });
    const cliClient = userPool.addClient('CliClient', {
      ...common,
      userPoolClientName: `${config.stackName}-cli`,
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: CLIENT_SCOPES,
        // Cognito matches redirect_uri exactly, port included (lib/identity/loopback.ts).
        callbackUrls: [...CLI_REDIRECT_URIS],
      },
    });
    // A managed login style per client (Cognito's own look); managed login pages show for a client that has one.
    for (const [brandingId, client] of [
      ['PortalBranding', portalClient],
      ['CliBranding', cliClient],
    ] as const) {
      const branding = new cognito.CfnManagedLoginBranding(this, brandingId, {
        userPoolId: userPool.userPoolId,
        clientId: client.userPoolClientId,
        useCognitoProvidedValues: true,
      });
      branding.node.addDependency(domain);
    }
    return { userPool, domain, portalClient, cliClient };
  }
}

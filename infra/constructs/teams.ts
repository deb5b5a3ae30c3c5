import { Duration, Validations } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { teamsWebhookRoutes } from '#functions/callbacks/routes.ts';
import type { StintConfig } from '#infra/config.ts';
import { StintFunction } from '#infra/constructs/stint-function.ts';
import { exposeWebhook } from '#infra/constructs/webhook.ts';
import { pascal } from '#infra/constructs/workflow.ts';
import { TEAMS_EVENT_TYPES } from '#lib/channels/teams/notify.ts';

export type TeamsProps = {
  readonly config: StintConfig;
  readonly teams: NonNullable<StintConfig['teams']>;
  readonly table: ITableV2;
  readonly stateMachine: IStateMachine;
  readonly httpApi: apigw.HttpApi;
  readonly bus: events.IEventBus;
  readonly apiUrl: string;
};

/**
 * Microsoft Teams approvals, created only when the config has `teams`: the Bot Framework messaging endpoint
 * (no JWT authorizer: the handler verifies the Bot Framework token against the published signing keys; with
 * `tenantId` it refuses invokes from other tenants; with `appPasswordRef` and `graphLookup` it may read the bot's
 * client secret, to look an unlinked clicker up in Microsoft Graph), and, when
 * `appPasswordRef` is set, the notify function: an EventBridge target of request and grant events that sends the
 * approval cards, updates them and notifies requesters through the Bot Connector (retries, then a dead-letter queue).
 */
export class Teams extends Construct {
  readonly functions = new Map<string, StintFunction>();
  readonly deadLetters: sqs.Queue | undefined;

  constructor(scope: Construct, id: string, props: TeamsProps) {
    super(scope, id);
    const { teams } = props;
    for (const route of teamsWebhookRoutes) {
      const fn = new StintFunction(this, pascal(`callbacks-${route.entry}`), {
        entry: `functions/callbacks/${route.entry}.ts`,
        description: `Stint Teams webhook: ${route.method} ${route.path}`,
        memorySize: 512,
        timeout: Duration.seconds(10),
        config: props.config,
      });
      fn.grantTable(props.table, 'readWrite').grantTaskTokens(props.stateMachine);
      fn.fn.addEnvironment('STINT_TEAMS_APP_ID', teams.appId);
      if (teams.openIdMetadataUrl !== undefined) {
        fn.fn.addEnvironment('STINT_TEAMS_OPENID_METADATA_URL', teams.openIdMetadataUrl);
      }
      // Invokes naming another tenant are refused.
      if (teams.tenantId !== undefined) fn.fn.addEnvironment('STINT_TEAMS_TENANT_ID', teams.tenantId);
      if (teams.appPasswordRef !== undefined && teams.tenantId !== undefined && teams.graphLookup) {
        // Who clicked, when their Teams account is not linked: Microsoft Graph, with the bot's own token. The
        // reference only: the function resolves the secret itself.
        const graph: Record<string, string | undefined> = {
          STINT_TEAMS_APP_PASSWORD_REF: teams.appPasswordRef,
          STINT_TEAMS_LOGIN_URL: teams.loginUrl,
          STINT_TEAMS_GRAPH_URL: teams.graphUrl,
          STINT_TEAMS_GRAPH_LOOKUP: 'true',
        };
        for (const [name, value] of Object.entries(graph)) if (value !== undefined) fn.fn.addEnvironment(name, value);
        if (teams.appPasswordRef.startsWith('arn:')) {
          fn.role.addToPrincipalPolicy(
            new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [teams.appPasswordRef] }),
          );
        }
      }
      this.functions.set(route.entry, fn);
      exposeWebhook(
        props.httpApi,
        route,
        fn,
        "is called by the Bot Framework Connector, which sends its own JWT; the handler verifies it (RS256 key from the Bot Framework OpenID metadata, issuer, audience = the bot's app id, expiry, serviceUrl).",
      );
    }

    if (teams.appPasswordRef === undefined || teams.tenantId === undefined) return;
    const notify = new StintFunction(this, 'NotifyTeams', {
      entry: 'functions/notify/teams.ts',
      description: 'Stint: Teams approval cards and requester notifications',
      memorySize: 512,
      // Several Connector and Graph calls per event, each bounded by a 5 s timeout.
      timeout: Duration.seconds(60),
      config: props.config,
    });
    notify.grantTable(props.table, 'readWrite');
    const env: Record<string, string | undefined> = {
      STINT_API_URL: props.apiUrl,
      STINT_TEAMS_APP_ID: teams.appId,
      STINT_TEAMS_TENANT_ID: teams.tenantId,
      // The reference only: the function resolves the secret itself.
      STINT_TEAMS_APP_PASSWORD_REF: teams.appPasswordRef,
      STINT_TEAMS_SERVICE_URL: teams.serviceUrl,
      STINT_TEAMS_LOGIN_URL: teams.loginUrl,
      STINT_TEAMS_GRAPH_URL: teams.graphUrl,
      STINT_TEAMS_GRAPH_LOOKUP: String(teams.graphLookup),
    };
    for (const [name, value] of Object.entries(env)) if (value !== undefined) notify.fn.addEnvironment(name, value);
    if (teams.appPasswordRef.startsWith('arn:')) {
      notify.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [teams.appPasswordRef] }),
      );
    }
    this.functions.set('notify', notify);

    const deadLetters = new sqs.Queue(this, 'NotifyDeadLetters', {
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the Teams notification rule target.',
    });
    this.deadLetters = deadLetters;
    // EventBridge invokes the function asynchronously: the rule's retries and DLQ cover failures to invoke it, while a
    // failed run (the function threw: a Connector or Graph call it could not make) is retried by Lambda's own
    // asynchronous invocation, then sent to the same queue. Either way the event is kept.
    notify.fn.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new destinations.SqsDestination(deadLetters),
    });
    new events.Rule(this, 'NotifyRule', {
      eventBus: props.bus,
      description: 'Stint: request and grant events for Teams',
      eventPattern: { source: ['stint'], detailType: [...TEAMS_EVENT_TYPES] },
      targets: [
        new targets.LambdaFunction(notify.fn, {
          deadLetterQueue: deadLetters,
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
        }),
      ],
    });
  }
}

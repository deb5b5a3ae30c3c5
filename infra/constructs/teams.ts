import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { teamsWebhookRoutes } from '#functions/callbacks/routes.ts';
import type { StintConfig } from '#infra/config.ts';
import { routeToNotify } from '#infra/constructs/notify-rule.ts';
import { StintFunction } from '#infra/constructs/stint-function.ts';
import { exposeWebhook } from '#infra/constructs/webhook.ts';
import { pascal } from '#infra/constructs/workflow.ts';
import { TEAMS_EVENT_TYPES } from '#lib/channels/teams/notify.ts';
import {
  ACCOUNT_LINK,
  APPROVER_LOOKUP,
  CHAT_IDENTITY,
  ITEM_READ,
  REQUEST_UPDATE,
  SENT_CLAIMS,
  TEAMS_RECORD,
  tableActions,
} from '#lib/store/access.ts';

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
      // Votes: the approver, the request, the vote; the wait resumed or failed.
      fn.grantTable(props.table, tableActions(CHAT_IDENTITY, ITEM_READ, REQUEST_UPDATE)).grantTaskTokens(
        props.stateMachine,
        ['success', 'failure'],
      );
      fn.fn.addEnvironment('STINT_TEAMS_APP_ID', teams.appId);
      fn.grantOnCall(props.config); // votes are checked against who is on call
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
    // The request, its Teams record and send claims, its approvers (and the accounts found for them).
    notify.grantTable(props.table, tableActions(ITEM_READ, TEAMS_RECORD, SENT_CLAIMS, APPROVER_LOOKUP, ACCOUNT_LINK));
    notify.grantOnCall(props.config); // approver cards go to whoever is on call too
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

    this.deadLetters = routeToNotify(this, {
      bus: props.bus,
      fn: notify.fn,
      channel: 'Teams',
      eventTypes: TEAMS_EVENT_TYPES,
    });
  }
}

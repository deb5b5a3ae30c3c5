import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { teamsWebhookRoutes } from '#functions/callbacks/routes.ts';
import type { StintConfig } from '#infra/config.ts';
import { StintFunction } from '#infra/constructs/stint-function.ts';
import { exposeWebhook } from '#infra/constructs/webhook.ts';
import { pascal } from '#infra/constructs/workflow.ts';

export type TeamsProps = {
  readonly config: StintConfig;
  readonly teams: NonNullable<StintConfig['teams']>;
  readonly table: ITableV2;
  readonly stateMachine: IStateMachine;
  readonly httpApi: apigw.HttpApi;
};

/**
 * Microsoft Teams approvals, created only when the config has `teams`: the Bot Framework messaging endpoint
 * (no JWT authorizer: the handler verifies the Bot Framework token against the published signing keys).
 */
export class Teams extends Construct {
  readonly functions = new Map<string, StintFunction>();

  constructor(scope: Construct, id: string, props: TeamsProps) {
    super(scope, id);
    for (const route of teamsWebhookRoutes) {
      const fn = new StintFunction(this, pascal(`callbacks-${route.entry}`), {
        entry: `functions/callbacks/${route.entry}.ts`,
        description: `Stint Teams webhook: ${route.method} ${route.path}`,
        memorySize: 512,
        timeout: Duration.seconds(10),
        config: props.config,
      });
      fn.grantTable(props.table, 'readWrite').grantTaskTokens(props.stateMachine);
      fn.fn.addEnvironment('STINT_TEAMS_APP_ID', props.teams.appId);
      if (props.teams.openIdMetadataUrl !== undefined) {
        fn.fn.addEnvironment('STINT_TEAMS_OPENID_METADATA_URL', props.teams.openIdMetadataUrl);
      }
      this.functions.set(route.entry, fn);
      exposeWebhook(
        props.httpApi,
        route,
        fn,
        "is called by the Bot Framework Connector, which sends its own JWT; the handler verifies it (RS256 key from the Bot Framework OpenID metadata, issuer, audience = the bot's app id, expiry, serviceUrl).",
      );
    }
  }
}

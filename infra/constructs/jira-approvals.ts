import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { jiraWebhookRoutes } from '#functions/callbacks/routes.ts';
import { type StintConfig, targetsEnvironment } from '#infra/config.ts';
import { StintFunction } from '#infra/constructs/stint-function.ts';
import { exposeWebhook } from '#infra/constructs/webhook.ts';
import { pascal } from '#infra/constructs/workflow.ts';
import { CHAT_IDENTITY, ITEM_READ, JIRA_REPLAY_GUARD, REQUEST_UPDATE, tableActions } from '#lib/store/access.ts';

export type JiraApprovalsProps = {
  readonly config: StintConfig;
  readonly jiraApprovals: NonNullable<StintConfig['jiraApprovals']>;
  readonly table: ITableV2;
  readonly stateMachine: IStateMachine;
  readonly httpApi: apigw.HttpApi;
};

/**
 * Approvals by Jira transitions, created only when the config has `jiraApprovals`: `POST /webhooks/jira` without
 * the JWT authorizer (the handler verifies Jira's X-Hub-Signature), a function that may vote (table, task tokens),
 * read the webhook secret and the `jira` targets' credentials (to re-read issues), and nothing else.
 */
export class JiraApprovals extends Construct {
  readonly functions = new Map<string, StintFunction>();

  constructor(scope: Construct, id: string, props: JiraApprovalsProps) {
    super(scope, id);
    const jiraTargets = props.config.targets.filter((t) => t.kind === 'jira');
    const secretArns = [
      ...new Set([props.jiraApprovals.webhookSecretRef, ...jiraTargets.map((t) => t.secretRef)]),
    ].filter((ref) => ref.startsWith('arn:'));

    for (const route of jiraWebhookRoutes) {
      const fn = new StintFunction(this, pascal(`callbacks-${route.entry}`), {
        entry: `functions/callbacks/${route.entry}.ts`,
        description: `Stint Jira webhook: ${route.method} ${route.path}`,
        memorySize: 512,
        timeout: Duration.seconds(20),
        config: props.config,
      });
      // Votes: the replay guard, the approver, the request, the vote; the wait resumed or failed.
      fn.grantTable(
        props.table,
        tableActions(JIRA_REPLAY_GUARD, CHAT_IDENTITY, ITEM_READ, REQUEST_UPDATE),
      ).grantTaskTokens(props.stateMachine, ['success', 'failure']);
      fn.fn.addEnvironment('STINT_JIRA_WEBHOOK_SECRET_REF', props.jiraApprovals.webhookSecretRef);
      fn.fn.addEnvironment('STINT_TARGETS', targetsEnvironment(jiraTargets));
      fn.grantOnCall(props.config); // votes are checked against who is on call
      if (secretArns.length > 0) {
        fn.role.addToPrincipalPolicy(
          new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secretArns }),
        );
      }
      this.functions.set(route.entry, fn);
      exposeWebhook(
        props.httpApi,
        route,
        fn,
        'is called by Jira, which cannot send a JWT; the handler verifies the X-Hub-Signature HMAC of the body (age-bounded, one use per signature) and re-reads the issue from Jira.',
      );
    }
  }
}

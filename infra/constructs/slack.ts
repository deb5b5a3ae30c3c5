import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { slackWebhookRoutes } from '#functions/callbacks/routes.ts';
import type { StintConfig } from '#infra/config.ts';
import { routeToNotify } from '#infra/constructs/notify-rule.ts';
import { StintFunction } from '#infra/constructs/stint-function.ts';
import { exposeWebhook } from '#infra/constructs/webhook.ts';
import { pascal } from '#infra/constructs/workflow.ts';
import { SLACK_EVENT_TYPES } from '#lib/channels/slack/notify.ts';
import {
  APPROVER_LOOKUP,
  CHAT_IDENTITY,
  CONFIG_BATCH_READ,
  CONFIG_LIST,
  ITEM_READ,
  REQUEST_CREATE,
  REQUEST_UPDATE,
  SENT_CLAIMS,
  SLACK_POSTS,
  SLACK_REPLAY_GUARD,
  tableActions,
} from '#lib/store/access.ts';

/** Lambda's asynchronous retries of a failed notify invocation (2 is the most Lambda allows). */

export type SlackProps = {
  readonly config: StintConfig;
  readonly slack: NonNullable<StintConfig['slack']>;
  readonly table: ITableV2;
  readonly stateMachine: IStateMachine;
  readonly httpApi: apigw.HttpApi;
  readonly bus: events.IEventBus;
  readonly apiUrl: string;
};

/**
 * Slack approvals, created only when the config has `slack`: the interactions and `/stint` command webhooks
 * (no JWT authorizer: each handler verifies Slack's signature) and the notify function, an EventBridge target of request and grant events.
 */
export class Slack extends Construct {
  readonly functions = new Map<string, StintFunction>();
  /** Where Slack notifications end when every retry failed (the stack alarms on it). */
  readonly deadLetters: sqs.Queue;

  constructor(scope: Construct, id: string, props: SlackProps) {
    super(scope, id);
    const { slack } = props;

    for (const route of slackWebhookRoutes) {
      const fn = this.slackFunction(
        `callbacks/${route.entry}`,
        `Stint Slack webhook: ${route.method} ${route.path}`,
        props,
      );
      if (route.workflow === 'start') {
        // `/stint request|list|flows`: the replay guard, the caller, the catalog, their requests, a new request.
        fn.grantTable(
          props.table,
          tableActions(SLACK_REPLAY_GUARD, CHAT_IDENTITY, CONFIG_LIST, ITEM_READ, CONFIG_BATCH_READ, REQUEST_CREATE),
        );
        fn.grantStartExecution(props.stateMachine);
      } else {
        // Votes: the replay guard, the approver, the request and its posts, the vote; the wait resumed or failed.
        fn.grantTable(props.table, tableActions(SLACK_REPLAY_GUARD, CHAT_IDENTITY, ITEM_READ, REQUEST_UPDATE));
        fn.grantTaskTokens(props.stateMachine, ['success', 'failure']);
      }
      this.functions.set(route.entry, fn);
      exposeWebhook(
        props.httpApi,
        route,
        fn,
        "is called by Slack, which cannot send a JWT; the handler verifies Slack's v0 request signature (5-minute window, one use per signature).",
      );
    }

    // A flow whose approvers are a large group means several Slack calls per approver (lookup, open, post), each
    // bounded by a 5 s timeout: the notify function gets a minute, the webhooks (which must answer in 3 s) 10 s.
    const notify = this.slackFunction(
      'notify/slack',
      'Stint: Slack approval messages and requester notifications',
      props,
      Duration.seconds(60),
    );
    // The request, its Slack posts, the send claims of its messages, and its approvers in the directory.
    notify.grantTable(props.table, tableActions(ITEM_READ, SLACK_POSTS, SENT_CLAIMS, APPROVER_LOOKUP));
    notify.fn.addEnvironment('STINT_API_URL', props.apiUrl);
    this.functions.set('notify', notify);
    this.deadLetters = routeToNotify(this, {
      bus: props.bus,
      fn: notify.fn,
      channel: 'Slack',
      eventTypes: SLACK_EVENT_TYPES,
    });

    const secretArns = [slack.signingSecretRef, slack.botTokenRef].filter((ref) => ref.startsWith('arn:'));
    for (const fn of this.functions.values()) {
      if (secretArns.length > 0) {
        fn.role.addToPrincipalPolicy(
          new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secretArns }),
        );
      }
    }
  }

  private slackFunction(
    entry: string,
    description: string,
    props: SlackProps,
    timeout = Duration.seconds(10),
  ): StintFunction {
    const fn = new StintFunction(this, pascal(entry.replace('/', '-')), {
      entry: `functions/${entry}.ts`,
      description,
      memorySize: 512,
      timeout,
      config: props.config,
    });
    fn.fn.addEnvironment('STINT_SLACK_SIGNING_SECRET_REF', props.slack.signingSecretRef);
    fn.fn.addEnvironment('STINT_SLACK_BOT_TOKEN_REF', props.slack.botTokenRef);
    // Every Slack function asks who is on call: votes (interactions), requests (commands), approver DMs (notify).
    fn.grantOnCall(props.config);
    if (props.slack.apiUrl !== undefined) fn.fn.addEnvironment('STINT_SLACK_API_URL', props.slack.apiUrl);
    return fn;
  }
}

import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { StintConfig } from '#infra/config.ts';
import { Alerts } from '#infra/constructs/alerts.ts';
import { Api, cognitoIssuerOrigin, cognitoSignInOrigin } from '#infra/constructs/api.ts';
import { Data } from '#infra/constructs/data.ts';
import { Delivery } from '#infra/constructs/delivery.ts';
import { Events } from '#infra/constructs/events.ts';
import { JiraApprovals } from '#infra/constructs/jira-approvals.ts';
import { Portal, regionApiHosts } from '#infra/constructs/portal.ts';
import { Reconciler } from '#infra/constructs/reconciler.ts';
import { Slack } from '#infra/constructs/slack.ts';
import { Teams } from '#infra/constructs/teams.ts';
import { Workflow } from '#infra/constructs/workflow.ts';
import { METRIC } from '#lib/observability/metrics.ts';
import { PORTAL_DIST } from '../portal/build.ts';

export type StintStackProps = StackProps & {
  readonly config: StintConfig;
  /** The built web portal (default portal/dist, which infra/app.ts and `npm ci` build). */
  readonly portalDistPath?: string;
};

/** Everything Stint deploys into one account and region. */
export class StintStack extends Stack {
  readonly data: Data;
  readonly alerts: Alerts;
  readonly workflow: Workflow;
  readonly api: Api;
  readonly portal: Portal;
  readonly events: Events;
  readonly reconciler: Reconciler;
  readonly delivery: Delivery;
  readonly slack?: Slack;
  readonly teams?: Teams;
  readonly jiraApprovals?: JiraApprovals;

  constructor(scope: Construct, id: string, props: StintStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.data = new Data(this, 'Data', { config });
    this.alerts = new Alerts(this, 'Alerts', { config });
    this.workflow = new Workflow(this, 'Workflow', {
      config,
      table: this.data.table,
      credentialsKey: this.data.credentialsKey,
      alerts: this.alerts,
    });
    // The portal comes first: the API's CORS and the Cognito callback URLs name its origins. Its headers name
    // sign-in origins built from strings, never from the API's resources (infra/constructs/portal.ts says why).
    const signIn =
      config.auth === undefined
        ? [cognitoIssuerOrigin(), cognitoSignInOrigin(config.stackName)]
        : [new URL(config.auth.issuer).origin];
    const signInOrigins = [...new Set([...signIn, ...config.portal.idpOrigins])];
    this.portal = new Portal(this, 'Portal', {
      config,
      distPath: props.portalDistPath ?? PORTAL_DIST,
      connectOrigins: [regionApiHosts(), ...signInOrigins],
      formActionOrigins: signInOrigins,
    });
    this.api = new Api(this, 'Api', {
      config,
      table: this.data.table,
      credentialsKey: this.data.credentialsKey,
      stateMachine: this.workflow.stateMachine,
      drivers: this.workflow.drivers,
      portalOrigins: this.portal.origins,
    });
    const portalClientId = this.api.portalClient?.userPoolClientId ?? config.portal.clientId;
    if (portalClientId === undefined) throw new Error('portal.clientId is required with auth (infra/config.ts)');
    // The $default stage serves the API at its origin; the portal appends paths to it, so no trailing slash.
    const apiOrigin = `https://${this.api.httpApi.apiId}.execute-api.${this.region}.${this.urlSuffix}`;
    this.portal.deploy({
      apiUrl: apiOrigin,
      apiOrigin,
      issuer: this.api.issuer,
      clientId: portalClientId,
      scopes: config.portal.scopes,
    });
    this.events = new Events(this, 'Events', { config, table: this.data.table, alerts: this.alerts });
    this.delivery = new Delivery(this, 'Delivery', {
      config,
      bus: this.events.bus,
      table: this.data.table,
      alerts: this.alerts,
    });
    this.reconciler = new Reconciler(this, 'Reconciler', {
      config,
      table: this.data.table,
      stateMachine: this.workflow.stateMachine,
      stateMachineName: this.workflow.stateMachineName,
      drivers: this.workflow.drivers,
      bus: this.events.bus,
    });
    this.alerts.alarmOnMetric(
      this.reconciler,
      'SweepFailuresAlarm',
      METRIC.sweepFailures,
      'Stint: the orphan sweep could not read a target, remove an orphan, publish a finding, or read the live ' +
        'requests (then it removed nothing). The reconciler log names the integration; see docs/operations.md.',
    );
    this.alerts.alarmOnMetric(
      this.reconciler,
      'StuckRequestsAlarm',
      METRIC.stuckRequests,
      'Stint: the reconciler gave up on a request stuck in one status after repeated restarts (its reason is on ' +
        'the request and in its audit event). A grant is undone and ends FAILED, a revoke goes to REVOKE_FAILED and ' +
        'is retried; look for the cause in the workflow logs of that request.',
    );

    if (config.slack !== undefined) {
      this.slack = new Slack(this, 'Slack', {
        config,
        slack: config.slack,
        table: this.data.table,
        stateMachine: this.workflow.stateMachine,
        httpApi: this.api.httpApi,
        bus: this.events.bus,
        apiUrl: this.api.url,
      });
      this.alerts.alarmOnDeadLetters(
        this.slack,
        'NotifyDeadLettersAlarm',
        this.slack.deadLetters,
        'Stint: Slack notifications (approval messages, updates, requester DMs) failed after every retry; ' +
          'fix Slack access, then replay the events from the bus archive to the Slack notify rule.',
      );
    }

    if (config.teams !== undefined) {
      this.teams = new Teams(this, 'Teams', {
        config,
        teams: config.teams,
        table: this.data.table,
        stateMachine: this.workflow.stateMachine,
        httpApi: this.api.httpApi,
        bus: this.events.bus,
        apiUrl: this.api.url,
      });
      if (this.teams.deadLetters !== undefined) {
        this.alerts.alarmOnDeadLetters(
          this.teams,
          'NotifyDeadLettersAlarm',
          this.teams.deadLetters,
          'Stint: Teams notifications (approval cards, updates, requester notices) failed after every retry; ' +
            'fix the bot or Graph access, then replay the events from the bus archive to the Teams notify rule.',
        );
      }
    }

    if (config.jiraApprovals !== undefined) {
      this.jiraApprovals = new JiraApprovals(this, 'JiraApprovals', {
        config,
        jiraApprovals: config.jiraApprovals,
        table: this.data.table,
        stateMachine: this.workflow.stateMachine,
        httpApi: this.api.httpApi,
      });
    }

    new CfnOutput(this, 'ApiUrl', { description: 'Base URL of the Stint API', value: this.api.url });
    new CfnOutput(this, 'Issuer', { description: 'JWT issuer the API accepts', value: this.api.issuer });
    new CfnOutput(this, 'Audience', {
      description: 'JWT audience(s) the API accepts',
      value: this.api.audience.join(','),
    });
    new CfnOutput(this, 'EventBusName', { description: 'Audit events bus', value: this.events.bus.eventBusName });
    new CfnOutput(this, 'TableName', { description: 'Stint table', value: this.data.table.tableName });
    new CfnOutput(this, 'StateMachineArn', {
      description: 'Request workflow',
      value: this.workflow.stateMachine.stateMachineArn,
    });
    if (this.api.userPool !== undefined) {
      new CfnOutput(this, 'UserPoolId', { description: 'Cognito user pool', value: this.api.userPool.userPoolId });
    }
    if (this.api.portalClient !== undefined && this.api.cliClient !== undefined) {
      new CfnOutput(this, 'PortalClientId', {
        description: 'Cognito app client of the web portal',
        value: this.api.portalClient.userPoolClientId,
      });
      new CfnOutput(this, 'CliClientId', {
        description: 'Cognito app client of the stint CLI',
        value: this.api.cliClient.userPoolClientId,
      });
    }
    if (this.api.userPoolDomain !== undefined) {
      new CfnOutput(this, 'SignInUrl', {
        description: 'Cognito managed login domain (OAuth 2.0 and OIDC endpoints)',
        value: this.api.userPoolDomain.baseUrl(),
      });
    }
  }
}

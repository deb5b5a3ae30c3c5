import { Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { WebhookRoute } from '#functions/callbacks/routes.ts';
import type { StintFunction } from './stint-function.ts';
import { pascal } from './workflow.ts';

/**
 * A chat/ticket webhook route on the HTTP API WITHOUT the JWT authorizer (the caller cannot send one), with the
 * cdk-nag APIG4 acknowledgement saying how the handler verifies its caller instead.
 */
export function exposeWebhook(
  httpApi: apigw.HttpApi,
  route: WebhookRoute,
  fn: StintFunction,
  verifiedBy: string,
): void {
  const [httpRoute] = httpApi.addRoutes({
    path: route.path,
    methods: [apigw.HttpMethod[route.method]],
    integration: new HttpLambdaIntegration(`${pascal(route.entry)}Integration`, fn.fn),
  });
  if (httpRoute !== undefined) {
    Validations.of(httpRoute).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason: `${route.method} ${route.path} ${verifiedBy}`,
    });
  }
}

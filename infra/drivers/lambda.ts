import { Aws, Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { StintConfig } from '#infra/config.ts';
import { INTEGRATION_TAG, LambdaDeploymentConfig } from '#lib/integrations/lambda.ts';
import { DEFAULT_INVOKE_TIMEOUT_MS } from '#lib/integrations/lambda-invoker.ts';
import type { DriverSpec } from './spec.ts';

/**
 * The lambda driver's function may invoke only the functions the deployment allows (stint.config.ts
 * `drivers.lambda`, schema LambdaDeploymentConfig in lib/integrations/lambda.ts):
 *
 * - `functions`: these ARNs. A listed unqualified ARN also allows its versions and aliases (`<arn>:*`): IAM matches
 *   the ARN Lambda is called with, and an unqualified ARN in a policy matches unqualified calls only
 *   (https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html).
 * - `allowTagged: true`: every function of the deployment's account tagged `stint-integration: "true"`, through the
 *   `aws:ResourceTag/stint-integration` condition. The Service Authorization Reference lists `lambda:InvokeFunction`
 *   on the `function` resource type, and `aws:ResourceTag/${TagKey}` as a condition key of that resource type
 *   (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html; the Lambda guide, "Using
 *   attribute-based access control in Lambda", says resource-tag support is listed per resource type there). Tags
 *   live on the function, so its versions and aliases carry them too
 *   (https://docs.aws.amazon.com/lambda/latest/dg/configuration-tags.html).
 *
 * Nothing else: no ListTags, no GetFunction. `PUT /integrations` checks a function against the same rules
 * (lambdaFunctionProblem); in tag mode that check reads tags, so the admin API function needs `adminApiStatements`.
 */

/** The deployment's `drivers.lambda`, parsed (absent → nothing allowed; invalid → an error naming the field). */
export function lambdaDeployment(config: StintConfig): LambdaDeploymentConfig {
  return LambdaDeploymentConfig.parse(config.drivers.lambda ?? {});
}

/** Every function of the deployment's account, in any region (tag mode narrows it by the tag condition). */
const ACCOUNT_FUNCTIONS = `arn:${Aws.PARTITION}:lambda:*:${Aws.ACCOUNT_ID}:function:*`;

/** A listed ARN and, when it is unqualified, its versions and aliases. */
function listedResources(functions: readonly string[]): string[] {
  return [...new Set(functions.flatMap((arn) => (arn.split(':').length === 7 ? [arn, `${arn}:*`] : [arn])))];
}

const tagCondition = { StringEquals: { [`aws:ResourceTag/${INTEGRATION_TAG.key}`]: INTEGRATION_TAG.value } };

export const lambdaSpec: DriverSpec = {
  type: 'lambda',
  description: 'Stint custom integrations: invokes the customer functions the deployment allows',
  memorySize: 256,
  // The invoker gives a function 60 s; the rest is for recording the answer.
  timeout: Duration.millis(DEFAULT_INVOKE_TIMEOUT_MS + 15_000),
  inVpc: false,
  readsSecrets: false,

  statements(config) {
    const allowed = lambdaDeployment(config);
    const statements: iam.PolicyStatement[] = [];
    if (allowed.functions.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'InvokeListedIntegrationFunctions',
          actions: ['lambda:InvokeFunction'],
          resources: listedResources(allowed.functions),
        }),
      );
    }
    if (allowed.allowTagged) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'InvokeTaggedIntegrationFunctions',
          actions: ['lambda:InvokeFunction'],
          resources: [ACCOUNT_FUNCTIONS],
          conditions: tagCondition,
        }),
      );
    }
    return statements;
  },

  acknowledgements(config) {
    const allowed = lambdaDeployment(config);
    const acks = listedResources(allowed.functions)
      .filter((resource) => resource.endsWith(':*'))
      .map((resource) => ({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason:
          'The admin listed this function in drivers.lambda.functions; ":*" adds only its own versions and aliases, ' +
          'which run the code the admin allowed.',
      }));
    if (allowed.allowTagged) {
      acks.push({
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:lambda:*:<AWS::AccountId>:function:*]',
        reason:
          'drivers.lambda.allowTagged: InvokeFunction on functions of this account only, and only those tagged ' +
          'stint-integration=true (aws:ResourceTag condition); the function set is chosen by tagging, not by ARN.',
      });
    }
    return acks;
  },
};

/** For the admin API function (PUT /integrations): reading tags to check a function in tag mode. */
export function adminApiStatements(config: StintConfig): iam.PolicyStatement[] {
  if (!lambdaDeployment(config).allowTagged) return [];
  return [
    new iam.PolicyStatement({
      sid: 'ReadIntegrationFunctionTags',
      actions: ['lambda:ListTags'],
      resources: [ACCOUNT_FUNCTIONS],
    }),
  ];
}

/** The acknowledgement for `adminApiStatements`. */
export function adminApiAcknowledgements(config: StintConfig): { id: string; reason: string }[] {
  if (!lambdaDeployment(config).allowTagged) return [];
  return [
    {
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:lambda:*:<AWS::AccountId>:function:*]',
      reason:
        'drivers.lambda.allowTagged: an admin may name any function of this account; ListTags reads only its tags ' +
        'to check stint-integration=true before the integration is saved.',
    },
  ];
}

import { App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import {
  type AwsIdentityCenterDeployment,
  awsIdentityCenterAcknowledgements,
  awsIdentityCenterStatements,
  AwsIdentityCenterDeployment as DeploymentSchema,
} from '#infra/drivers/aws-identity-center.ts';

const base: AwsIdentityCenterDeployment = {
  instanceArns: ['arn:aws:sso:::instance/ssoins-1111222233334444'],
  identityStoreIds: ['d-1234567890'],
};

const json = (d: AwsIdentityCenterDeployment) => awsIdentityCenterStatements(d).map((s) => s.toStatementJson());

/** cdk-nag on a role holding the statements, with or without the acknowledgements. */
function nag(d: AwsIdentityCenterDeployment, acknowledge: boolean): string[] {
  const stack = new Stack(new App(), 'Nag');
  const role = new iam.Role(stack, 'DriverRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  for (const statement of awsIdentityCenterStatements(d)) role.addToPolicy(statement);
  if (acknowledge) for (const ack of awsIdentityCenterAcknowledgements(d)) Validations.of(role).acknowledge(ack);
  const report = new AwsSolutionsChecks().validateScope(stack);
  return report.violations.map((v) => v.ruleName);
}

describe('aws-identity-center driver IAM', () => {
  it('scopes assignment actions to the instance, its permission sets and the configured accounts', () => {
    const statements = json({ ...base, accountIds: ['222233334444'] });
    expect(statements[0]).toEqual({
      Sid: 'AccountAssignments',
      Effect: 'Allow',
      Action: ['sso:CreateAccountAssignment', 'sso:DeleteAccountAssignment', 'sso:ListAccountAssignments'],
      Resource: [
        'arn:aws:sso:::instance/ssoins-1111222233334444',
        'arn:aws:sso:::permissionSet/ssoins-1111222233334444/*',
        'arn:aws:sso:::account/222233334444',
      ],
    });
    const status = statements.find((s) => s.Sid === 'InstanceStatusAndListing');
    expect(status?.Resource).toBe('arn:aws:sso:::instance/ssoins-1111222233334444');
    const actions = statements.flatMap((s) => s.Action);
    expect(actions).toContain('sso:PutInlinePolicyToPermissionSet');
    expect(actions).toContain('sso:DescribePermissionSetProvisioningStatus');
    expect(actions).toContain('identitystore:GetUserId');
    expect(actions).not.toContain('iam:CreateRole');
    expect(actions.some((a: string) => a.endsWith('*'))).toBe(false);
  });

  it('adds the management-account IAM actions only when configured, scoped to the reserved SSO paths', () => {
    const statements = json({ ...base, managementAccountId: '111111111111' });
    const roles = statements.find((s) => s.Sid === 'ManagementAccountSsoRoles');
    expect(roles?.Resource).toBe('arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/*');
    expect(statements.find((s) => s.Sid === 'ManagementAccountSamlProvider')?.Resource).toBe(
      'arn:aws:iam::111111111111:saml-provider/AWSSSO_*',
    );
  });

  it('only assumes the configured roles when integrations assume roles', () => {
    const roleArns = ['arn:aws:iam::111111111111:role/stint-identity-center'];
    expect(json({ ...base, roleArns })).toEqual([
      { Sid: 'AssumeIntegrationRoles', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: roleArns[0] },
    ]);
  });

  it('passes cdk-nag with its acknowledgements, and fails IAM5 without them', () => {
    expect(nag(base, true)).toEqual([]);
    const findings = nag(base, false);
    expect(findings).toContain('AwsSolutions-IAM5[Resource::arn:aws:sso:::account/*]');
    expect(findings).toContain('AwsSolutions-IAM5[Resource::*]');
    expect(findings.every((f) => f.startsWith('AwsSolutions-IAM5['))).toBe(true);
  });

  it('rejects a deployment section without instances, naming the field', () => {
    const parsed = DeploymentSchema.safeParse({ instanceArns: [], identityStoreIds: ['d-1234567890'] });
    expect(parsed.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['instanceArns', 'must list at least one instance ARN'],
    ]);
  });
});

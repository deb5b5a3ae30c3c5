import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { StintConfigSchema } from '#infra/config.ts';
import {
  AwsIamRoleDeployment,
  awsIamRoleDeployment,
  awsIamRoleSpec,
  awsIamRoleSpecFor,
} from '#infra/drivers/aws-iam-role.ts';

/** A function role with the spec's statements, in a stack of its own; acknowledged or not. */
function synth(deployment: AwsIamRoleDeployment, acknowledge: boolean) {
  const app = new App();
  const stack = new Stack(app, 'Driver', { env: { account: '123456789012', region: 'eu-west-1' } });
  const role = new iam.Role(stack, 'DriverRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  const spec = awsIamRoleSpecFor(deployment);
  // The spec reads the deployment given above, not this configuration (which has no drivers section yet).
  const config = StintConfigSchema.parse({ stackName: 'StintTest' });
  for (const s of spec.statements(config)) role.addToPolicy(s);
  if (acknowledge) Validations.of(role).acknowledge(...(spec.acknowledgements?.(config) ?? []));
  return { stack, template: Template.fromStack(stack) };
}

const Statement = z.object({
  Sid: z.string().optional(),
  Action: z.union([z.string(), z.array(z.string())]),
  Resource: z.union([z.string(), z.array(z.string())]),
  Condition: z.unknown().optional(),
});
const PolicyResource = z.object({
  Properties: z.object({ PolicyDocument: z.object({ Statement: z.array(Statement) }) }),
});

function statements(template: Template): z.infer<typeof Statement>[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy'));
  return policies.flatMap((p) => PolicyResource.parse(p).Properties.PolicyDocument.Statement);
}

const explicit = AwsIamRoleDeployment.parse({
  roleArns: ['arn:aws:iam::123456789012:role/jit/*', 'arn:aws:iam::210987654321:role/ops'],
  adminRoleArns: ['arn:aws:iam::210987654321:role/stint-iam-admin'],
});

describe('aws-iam-role driver spec', () => {
  it('allows AssumeRole, SetSourceIdentity and Stint’s session tags on the configured roles only', () => {
    const all = statements(synth(explicit, true).template);
    const assume = all.find((s) => s.Sid === 'AssumeTargetRoles0');
    expect(assume?.Action).toEqual(['sts:AssumeRole', 'sts:SetSourceIdentity']);
    expect(assume?.Resource).toEqual(explicit.roleArns);
    const tag = all.find((s) => s.Sid === 'TagTargetSessions0');
    expect(tag?.Condition).toEqual({
      'ForAllValues:StringEquals': { 'aws:TagKeys': ['stint-request-id', 'stint-unit', 'stint-grantee'] },
    });
    const edit = all.find((s) => s.Sid === 'EditTargetRolePolicies0');
    expect(edit?.Resource).toEqual(explicit.roleArns);
    expect(edit?.Action).toContain('iam:PutRolePolicy');
    expect(all.find((s) => s.Sid === 'AssumeAdminRoles')?.Resource).toBe(
      'arn:aws:iam::210987654321:role/stint-iam-admin',
    );
    // Only ListRoles is on "*".
    expect(all.filter((s) => s.Resource === '*').map((s) => s.Action)).toEqual(['iam:ListRoles']);
  });

  it('scopes "any role" to roles tagged stint:jit=true', () => {
    const all = statements(synth(AwsIamRoleDeployment.parse({ taggedRoles: true }), true).template);
    const onAnyRole = all.filter((s) => s.Resource === 'arn:*:iam::*:role/*');
    expect(onAnyRole).toHaveLength(3);
    for (const s of onAnyRole)
      expect(s.Condition).toMatchObject({ StringEquals: { 'aws:ResourceTag/stint:jit': 'true' } });
  });

  it('passes cdk-nag with its acknowledgements, and fails without them', () => {
    const compliant = new AwsSolutionsChecks().validateScope(synth(explicit, true).stack);
    expect(compliant.violations.map((v) => v.ruleName)).toEqual([]);
    const bare = new AwsSolutionsChecks().validateScope(synth(explicit, false).stack);
    expect(bare.violations.map((v) => v.ruleName).sort()).toEqual([
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-IAM5[Resource::arn:aws:iam::123456789012:role/jit/*]',
    ]);
  });

  it('reads drivers.awsIamRole from the configuration: absent grants nothing, invalid fails synth', () => {
    const config = StintConfigSchema.parse({ stackName: 'StintTest' });
    expect(awsIamRoleDeployment(config)).toBeUndefined();
    expect(awsIamRoleSpec.statements(config)).toEqual([]);
    const withSection = StintConfigSchema.parse({
      stackName: 'StintTest',
      drivers: { awsIamRole: { roleArns: ['arn:aws:iam::123456789012:role/ops'] } },
    });
    expect(awsIamRoleDeployment(withSection)?.roleArns).toEqual(['arn:aws:iam::123456789012:role/ops']);
    const invalid = StintConfigSchema.safeParse({
      stackName: 'StintTest',
      drivers: { awsIamRole: { roleArns: ['arn:aws:iam::1234:role/x'] } },
    });
    expect(invalid.error?.issues[0]?.path.join('.')).toBe('drivers.awsIamRole.roleArns.0');
    expect(AwsIamRoleDeployment.safeParse({ roleArns: [] }).success).toBe(false);
  });
});

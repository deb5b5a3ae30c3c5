import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as z from 'zod';
import type { StintConfig } from '#infra/config.ts';
import { DISCOVER_TAG, TAG_GRANTEE, TAG_REQUEST, TAG_UNIT } from '#lib/integrations/aws-iam-role.ts';
import type { DriverSpec } from './spec.ts';

/**
 * The aws-iam-role driver's function: it assumes the target roles (sts:AssumeRole with SourceIdentity and session
 * tags) and reads and edits their inline policies (the revoke deny). Which roles is the deployment's choice,
 * written in `drivers.awsIamRole` of stint.config.ts:
 *
 * ```ts
 * drivers: {
 *   awsIamRole: {
 *     // Target roles: full ARNs, or with * in the path/name part (the account is always explicit).
 *     roleArns: ['arn:aws:iam::123456789012:role/jit/*', 'arn:aws:iam::210987654321:role/ops-admin'],
 *     // Or any role tagged stint:jit=true (aws:ResourceTag): for sts:AssumeRole and for the IAM calls.
 *     taggedRoles: false,
 *     // Admin roles integrations name in config.roleArn (IAM edits in another account).
 *     adminRoleArns: ['arn:aws:iam::210987654321:role/stint-iam-admin'],
 *   },
 * },
 * ```
 *
 * IAM edits of roles in another account are made by that account's admin role (its own policy grants them: see
 * docs/integrations/aws-iam-role.md); the statements here cover roles in Stint's own account.
 */

const Partition = '(aws|aws-cn|aws-us-gov)';
/** A role ARN, with `*` allowed in the path/name part only. */
const RoleArnPattern = z.string().regex(new RegExp(`^arn:${Partition}:iam::\\d{12}:role/[\\w+=,.@/*-]+$`), {
  error: 'must be an IAM role ARN (arn:aws:iam::<12-digit account>:role/<path/name>, * allowed in the name)',
});
const RoleArn = z.string().regex(new RegExp(`^arn:${Partition}:iam::\\d{12}:role/[\\w+=,.@/-]+$`), {
  error: 'must be an IAM role ARN without wildcards',
});

/** `drivers.awsIamRole` in stint.config.ts. */
export const AwsIamRoleDeployment = z
  .strictObject({
    roleArns: z.array(RoleArnPattern, { error: 'must be a list of role ARNs' }).default([]),
    taggedRoles: z.boolean({ error: 'must be true or false' }).default(false),
    adminRoleArns: z.array(RoleArn, { error: 'must be a list of role ARNs' }).default([]),
  })
  .refine((d) => d.roleArns.length > 0 || d.taggedRoles, {
    error: 'must name target roles: roleArns, or taggedRoles: true',
  });
export type AwsIamRoleDeployment = z.output<typeof AwsIamRoleDeployment>;

const TAG_KEYS = [TAG_REQUEST, TAG_UNIT, TAG_GRANTEE];
const ANY_ROLE = 'arn:*:iam::*:role/*';
/** `aws:ResourceTag/stint:jit` = true: the role carries the discover tag (IAM and STS support it on roles). */
const TAGGED = { StringEquals: { [`aws:ResourceTag/${DISCOVER_TAG}`]: 'true' } };

/** The statements of one deployment's `drivers.awsIamRole`. */
export function awsIamRoleStatements(deployment: AwsIamRoleDeployment): iam.PolicyStatement[] {
  const targets: { resources: string[]; conditions?: Record<string, Record<string, string>> }[] = [];
  if (deployment.roleArns.length > 0) targets.push({ resources: deployment.roleArns });
  if (deployment.taggedRoles) targets.push({ resources: [ANY_ROLE], conditions: TAGGED });
  const statements: iam.PolicyStatement[] = [];
  for (const [i, t] of targets.entries()) {
    const conditions = t.conditions ?? {};
    statements.push(
      new iam.PolicyStatement({
        sid: `AssumeTargetRoles${i}`,
        actions: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        resources: t.resources,
        conditions,
      }),
      // Only Stint's own session tags ("Permissions required to add session tags": aws:TagKeys on sts:TagSession).
      new iam.PolicyStatement({
        sid: `TagTargetSessions${i}`,
        actions: ['sts:TagSession'],
        resources: t.resources,
        conditions: { ...conditions, 'ForAllValues:StringEquals': { 'aws:TagKeys': TAG_KEYS } },
      }),
      new iam.PolicyStatement({
        sid: `EditTargetRolePolicies${i}`,
        actions: [
          'iam:GetRole',
          'iam:GetRolePolicy',
          'iam:PutRolePolicy',
          'iam:DeleteRolePolicy',
          'iam:ListRolePolicies',
          'iam:ListRoleTags',
        ],
        resources: t.resources,
        conditions,
      }),
    );
  }
  if (deployment.adminRoleArns.length > 0)
    statements.push(
      new iam.PolicyStatement({
        sid: 'AssumeAdminRoles',
        actions: ['sts:AssumeRole'],
        resources: deployment.adminRoleArns,
      }),
    );
  // Discover: ListRoles has no resource-level permissions (Service Authorization Reference, IAM: resource "*").
  statements.push(new iam.PolicyStatement({ sid: 'DiscoverRoles', actions: ['iam:ListRoles'], resources: ['*'] }));
  return statements;
}

/** cdk-nag IAM5 findings of those statements, each with its reason. */
export function awsIamRoleAcknowledgements(deployment: AwsIamRoleDeployment): { id: string; reason: string }[] {
  const acks = [
    {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'iam:ListRoles (discover) supports no resource-level permissions; it reads role names and ARNs only.',
    },
  ];
  for (const arn of deployment.roleArns.filter((a) => a.includes('*')))
    acks.push({
      id: `AwsSolutions-IAM5[Resource::${arn}]`,
      reason: `Target roles of the aws-iam-role driver, as the deployment configured them (drivers.awsIamRole.roleArns: ${arn}).`,
    });
  if (deployment.taggedRoles)
    acks.push({
      id: `AwsSolutions-IAM5[Resource::${ANY_ROLE}]`,
      reason: `Any role only when it carries the tag ${DISCOVER_TAG}=true (aws:ResourceTag condition on every statement): drivers.awsIamRole.taggedRoles.`,
    });
  return acks;
}

/**
 * `drivers.awsIamRole` of the deployment's configuration (validated at synth with the rest of it); undefined when
 * the section is absent: the function then gets no permission at all, and every grant fails permanently with
 * AccessDenied.
 */
export function awsIamRoleDeployment(config: StintConfig): AwsIamRoleDeployment | undefined {
  return config.drivers.awsIamRole;
}

/** The spec for an explicit deployment section (tests, or a StintConfig that does not carry `drivers` yet). */
export function awsIamRoleSpecFor(deployment?: AwsIamRoleDeployment): DriverSpec {
  const section = (config: StintConfig) => deployment ?? awsIamRoleDeployment(config);
  return {
    type: 'aws-iam-role',
    description: 'Stint aws-iam-role driver: assumes target roles for grantees, denies their sessions at revoke',
    memorySize: 256,
    // A few STS/IAM calls and one federation request; discover pages through ListRoles and ListRoleTags.
    timeout: Duration.seconds(60),
    inVpc: false,
    readsSecrets: false,
    statements: (config) => {
      const d = section(config);
      return d === undefined ? [] : awsIamRoleStatements(d);
    },
    acknowledgements: (config) => {
      const d = section(config);
      return d === undefined ? [] : awsIamRoleAcknowledgements(d);
    },
  };
}

/** Reads `drivers.awsIamRole` from the configuration. */
export const awsIamRoleSpec: DriverSpec = awsIamRoleSpecFor();

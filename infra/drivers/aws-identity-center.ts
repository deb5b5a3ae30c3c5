import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as z from 'zod';
import type { StintConfig } from '#infra/config.ts';
import type { DriverSpec } from './spec.ts';

/**
 * Infrastructure of the aws-identity-center driver (lib/integrations/aws-identity-center.ts).
 *
 * Deployment config section `drivers.awsIdentityCenter` (infra/config.ts), parsed by
 * `AwsIdentityCenterDeployment` below. Either the driver's function calls IAM Identity Center itself (its role
 * gets the statements below, scoped to the listed instances / identity stores / accounts), or every
 * integration assumes a role (`roleArns`): then the function may only `sts:AssumeRole` those roles, and the
 * statements of `identityCenterStatements` belong in the assumed role's policy (docs/integrations/aws-identity-center.md).
 *
 * Resource scoping follows "Actions, resources, and condition keys for AWS IAM Identity Center" (Service
 * Authorization Reference): Instance `arn:${Partition}:sso:::instance/${InstanceId}`, PermissionSet
 * `arn:${Partition}:sso:::permissionSet/${InstanceId}/${PermissionSetId}`, Account
 * `arn:${Partition}:sso:::account/${AccountId}`; Describe…Status and ListPermissionSets take the instance only;
 * identitystore:GetUserId the identity store and `user/*`; organizations:DescribeAccount an account ARN;
 * organizations:ListAccounts supports no resource type (`*`).
 */

const INSTANCE_ARN = /^arn:(aws[a-z-]*):sso:::instance\/((sso)?ins-[a-zA-Z0-9-.]{16})$/;

export const AwsIdentityCenterDeployment = z.strictObject({
  /** The IAM Identity Center instances integrations may name (arn:aws:sso:::instance/ssoins-…). */
  instanceArns: z
    .array(z.string().regex(INSTANCE_ARN, { error: 'must be an IAM Identity Center instance ARN' }))
    .min(1, { error: 'must list at least one instance ARN' }),
  /** Their identity stores (d-…), for identitystore:GetUserId. */
  identityStoreIds: z
    .array(
      z.string().regex(/^d-[0-9a-f]{10}$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, {
        error: 'must be an identity store id (d-…)',
      }),
    )
    .min(1, { error: 'must list at least one identity store id' }),
  /** Accounts assignments may target; default: every account of the organization. */
  accountIds: z
    .array(z.string().regex(/^\d{12}$/, { error: 'must be a 12-digit AWS account id' }))
    .min(1)
    .optional(),
  /** The organization (o-…), to scope organizations:DescribeAccount; default any. */
  organizationId: z
    .string()
    .regex(/^o-[a-z0-9]{10,32}$/, { error: 'must be an organization id (o-…)' })
    .optional(),
  /**
   * Set when Stint runs in the management account and may assign permission sets on the management account
   * itself: CreateAccountAssignment then needs IAM permissions there (it creates the role and SAML provider).
   */
  managementAccountId: z
    .string()
    .regex(/^\d{12}$/, { error: 'must be a 12-digit AWS account id' })
    .optional(),
  /** Roles integrations assume (config.roleArn): the function then only gets sts:AssumeRole on these. */
  roleArns: z
    .array(
      z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, { error: 'must be an IAM role ARN' }),
    )
    .min(1)
    .optional(),
});
export type AwsIdentityCenterDeployment = z.infer<typeof AwsIdentityCenterDeployment>;

function partitionOf(instanceArn: string): string {
  return INSTANCE_ARN.exec(instanceArn)?.[1] ?? 'aws';
}
function instanceIdOf(instanceArn: string): string {
  return INSTANCE_ARN.exec(instanceArn)?.[2] ?? '';
}

/** The statements IAM Identity Center calls need, wherever they run (the function's role, or an assumed role). */
export function identityCenterStatements(d: AwsIdentityCenterDeployment): iam.PolicyStatement[] {
  const partition = partitionOf(d.instanceArns[0] ?? '');
  const instances = d.instanceArns;
  const permissionSets = d.instanceArns.map((arn) => `arn:${partition}:sso:::permissionSet/${instanceIdOf(arn)}/*`);
  const accounts = (d.accountIds ?? ['*']).map((id) => `arn:${partition}:sso:::account/${id}`);
  const statements = [
    new iam.PolicyStatement({
      sid: 'AccountAssignments',
      actions: ['sso:CreateAccountAssignment', 'sso:DeleteAccountAssignment', 'sso:ListAccountAssignments'],
      resources: [...instances, ...permissionSets, ...accounts],
    }),
    new iam.PolicyStatement({
      sid: 'PermissionSetInlinePolicyAndProvisioning',
      actions: [
        'sso:DescribePermissionSet',
        'sso:GetInlinePolicyForPermissionSet',
        'sso:PutInlinePolicyToPermissionSet',
        'sso:DeleteInlinePolicyFromPermissionSet',
        'sso:ProvisionPermissionSet',
      ],
      resources: [...instances, ...permissionSets, ...accounts],
    }),
    new iam.PolicyStatement({
      sid: 'InstanceStatusAndListing',
      actions: [
        'sso:DescribeAccountAssignmentCreationStatus',
        'sso:DescribeAccountAssignmentDeletionStatus',
        'sso:DescribePermissionSetProvisioningStatus',
        'sso:ListAccountAssignmentCreationStatus',
        'sso:ListPermissionSets',
      ],
      resources: instances,
    }),
    new iam.PolicyStatement({
      sid: 'IdentityStoreUserLookup',
      actions: ['identitystore:GetUserId'],
      resources: [
        ...d.identityStoreIds.map((id) => `arn:${partition}:identitystore::*:identitystore/${id}`),
        `arn:${partition}:identitystore:::user/*`,
      ],
    }),
    new iam.PolicyStatement({
      sid: 'OrganizationAccountCheck',
      actions: ['organizations:DescribeAccount'],
      resources: (d.accountIds ?? ['*']).map(
        (id) => `arn:${partition}:organizations::*:account/${d.organizationId ?? 'o-*'}/${id}`,
      ),
    }),
    new iam.PolicyStatement({
      sid: 'OrganizationAccountDiscovery',
      actions: ['organizations:ListAccounts'],
      resources: ['*'],
    }),
  ];
  if (d.managementAccountId !== undefined)
    statements.push(
      // Assignments on the management account itself: IAM Identity Center creates and updates the
      // AWSReservedSSO_* role and the AWSSSO_* SAML provider with the caller's permissions there.
      new iam.PolicyStatement({
        sid: 'ManagementAccountSsoRoles',
        actions: [
          'iam:AttachRolePolicy',
          'iam:CreateRole',
          'iam:DeleteRole',
          'iam:DeleteRolePolicy',
          'iam:DetachRolePolicy',
          'iam:GetRole',
          'iam:ListAttachedRolePolicies',
          'iam:ListRolePolicies',
          'iam:PutRolePolicy',
          'iam:PutRolePermissionsBoundary',
          'iam:DeleteRolePermissionsBoundary',
          'iam:UpdateRole',
          'iam:UpdateRoleDescription',
        ],
        resources: [`arn:${partition}:iam::${d.managementAccountId}:role/aws-reserved/sso.amazonaws.com/*`],
      }),
      new iam.PolicyStatement({
        sid: 'ManagementAccountSamlProvider',
        actions: ['iam:GetSAMLProvider', 'iam:CreateSAMLProvider', 'iam:UpdateSAMLProvider', 'iam:DeleteSAMLProvider'],
        resources: [`arn:${partition}:iam::${d.managementAccountId}:saml-provider/AWSSSO_*`],
      }),
    );
  return statements;
}

/** The function's own statements: sts:AssumeRole on the configured roles only, or the Identity Center calls. */
export function awsIdentityCenterStatements(d: AwsIdentityCenterDeployment): iam.PolicyStatement[] {
  if (d.roleArns !== undefined)
    return [
      new iam.PolicyStatement({ sid: 'AssumeIntegrationRoles', actions: ['sts:AssumeRole'], resources: d.roleArns }),
    ];
  return identityCenterStatements(d);
}

/** Why each statement's wildcard resources are acceptable (cdk-nag AwsSolutions-IAM5), by statement id. */
const WILDCARD_REASONS: Record<string, string> = {
  AccountAssignments:
    'Any permission set of the configured instances (the instance bounds it); any account of the organization unless accountIds is configured.',
  PermissionSetInlinePolicyAndProvisioning:
    'Revoke writes the deny statement into the permission set that was granted, which may be any of the configured instances.',
  IdentityStoreUserLookup:
    'GetUserId resolves any grantee (user/*); the identity store ARN holds the account of the instance, unknown at synth.',
  OrganizationAccountCheck:
    'DescribeAccount checks a target account exists; its ARN holds the management account (and organization id when not configured).',
  OrganizationAccountDiscovery:
    'organizations:ListAccounts supports no resource type (Service Authorization Reference).',
  ManagementAccountSsoRoles:
    'IAM Identity Center names the AWSReservedSSO_* roles it creates in the management account.',
  ManagementAccountSamlProvider:
    'IAM Identity Center names the AWSSSO_* SAML provider it creates in the management account.',
};

/** cdk-nag IAM5 findings of those statements (every wildcard resource), each with its reason. */
export function awsIdentityCenterAcknowledgements(d: AwsIdentityCenterDeployment): { id: string; reason: string }[] {
  const acks = new Map<string, string>();
  for (const statement of awsIdentityCenterStatements(d))
    for (const resource of statement.resources)
      if (resource.includes('*'))
        acks.set(
          `AwsSolutions-IAM5[Resource::${resource}]`,
          WILDCARD_REASONS[statement.sid ?? ''] ?? 'Scoped as far as the API allows.',
        );
  return [...acks].map(([id, reason]) => ({ id, reason }));
}

/** The deployment's `drivers.awsIdentityCenter` (absent: no statements). */
export function awsIdentityCenterDeploymentOf(config: StintConfig): AwsIdentityCenterDeployment | undefined {
  return config.drivers.awsIdentityCenter;
}

export const awsIdentityCenterSpec: DriverSpec = {
  type: 'aws-identity-center',
  description: 'Stint aws-identity-center driver: IAM Identity Center account assignments',
  memorySize: 256,
  // A step is a few API calls (each retried by the SDK on throttling); never a wait.
  timeout: Duration.seconds(30),
  inVpc: false,
  readsSecrets: false,
  // The grantee's Identity Store user id, found once by user name and kept as a linked account.
  linksAccounts: true,
  statements: (config) => {
    const d = awsIdentityCenterDeploymentOf(config);
    return d === undefined ? [] : awsIdentityCenterStatements(d);
  },
  acknowledgements: (config) => {
    const d = awsIdentityCenterDeploymentOf(config);
    return d === undefined ? [] : awsIdentityCenterAcknowledgements(d);
  },
};

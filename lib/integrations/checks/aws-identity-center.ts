import * as z from 'zod';
import { IDENTITY_STORE_ID } from '#lib/directory/types.ts';
import { ValidationError } from '#lib/domain/errors.ts';
import type { Resource } from '#lib/domain/integration.ts';
import type { DriverChecks } from '#lib/integrations/types.ts';

/**
 * IAM Identity Center's config and checks: resources are account ids, each permission one permission set of the
 * configured instance (the driver, with the SSO Admin, Identity Store and Organizations clients, is
 * ../aws-identity-center.ts).
 */

export const INSTANCE_ARN = /^arn:aws[a-z-]*:sso:::instance\/(sso)?ins-[a-zA-Z0-9-.]{16}$/;
export const PERMISSION_SET_ARN =
  /^arn:aws[a-z-]*:sso:::permissionSet\/(sso)?ins-[a-zA-Z0-9-.]{16}\/ps-[a-zA-Z0-9-./]{16}$/;
export const ACCOUNT_ID = /^\d{12}$/;

const httpsUrl = z.url({ protocol: /^https$/, error: 'must be an https URL' });

export const AwsIdentityCenterConfig = z.strictObject({
  /** `arn:aws:sso:::instance/ssoins-…` (ListInstances, or Settings in the IAM Identity Center console). */
  instanceArn: z
    .string()
    .regex(INSTANCE_ARN, 'must be an IAM Identity Center instance ARN (arn:aws:sso:::instance/ssoins-…)'),
  /** `d-…` (the instance's identity store). */
  identityStoreId: z.string().regex(IDENTITY_STORE_ID, 'must be an identity store id (d-…)'),
  /** The Region of the Identity Center instance. */
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS Region, e.g. eu-west-1'),
  /** A role to assume (in the management or delegated administrator account); default: the function's role. */
  roleArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'must be an IAM role ARN')
    .optional(),
  /** The sts:ExternalId the role's trust policy requires (AssumeRole: 2–1224 characters of [\w+=,.@:/-]). */
  externalId: z
    .string()
    .regex(/^[\w+=,.@:/-]{2,1224}$/, 'must be 2–1224 characters of letters, digits and +=,.@:/-')
    .optional(),
  /** The AWS access portal start URL shown to grantees (https://d-….awsapps.com/start). */
  portalUrl: httpsUrl.optional(),
});
export type AwsIdentityCenterConfig = z.infer<typeof AwsIdentityCenterConfig>;

export const instanceIdOf = (instanceArn: string) => instanceArn.slice(instanceArn.lastIndexOf('/') + 1);
/** `arn:aws:sso:::permissionSet/ssoins-…/ps-…` → `ssoins-…` */
const instanceIdOfPermissionSet = (permissionSetArn: string) => permissionSetArn.split('/')[1];

/** Problems of an integration's resources for this driver (field paths as `resources.<i>…`). */
export function resourceIssues(resources: Resource[], instanceArn?: string): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  resources.forEach((resource, i) => {
    if (!ACCOUNT_ID.test(resource.id))
      issues.push({ path: `resources.${i}.id`, message: 'must be a 12-digit AWS account id' });
    resource.permissions.forEach((permission, j) => {
      const path = `resources.${i}.permissions.${j}.grants`;
      const [arn, ...rest] = permission.grants;
      if (arn === undefined || rest.length > 0)
        issues.push({ path, message: 'must name exactly one permission set ARN' });
      else if (!PERMISSION_SET_ARN.test(arn))
        issues.push({
          path: `${path}.0`,
          message: 'must be a permission set ARN (arn:aws:sso:::permissionSet/ssoins-…/ps-…)',
        });
      else if (instanceArn !== undefined && instanceIdOfPermissionSet(arn) !== instanceIdOf(instanceArn))
        issues.push({
          path: `${path}.0`,
          message: `must be a permission set of instance ${instanceIdOf(instanceArn)}`,
        });
    });
  });
  return issues;
}

/**
 * Checks an integration's resources (AWS account ids; each permission grants exactly one permission set of the
 * configured instance); throws a ValidationError naming the first offending field. For `PUT /integrations`.
 */
export function validateResources(resources: Resource[], config?: unknown): void {
  const parsed = AwsIdentityCenterConfig.safeParse(config);
  const issues = resourceIssues(resources, parsed.success ? parsed.data.instanceArn : undefined);
  const first = issues[0];
  if (first !== undefined)
    throw new ValidationError(
      `invalid aws-identity-center resources: ${first.path}: ${first.message}`,
      first.path,
      issues,
    );
}

export const awsIdentityCenterChecks: DriverChecks = {
  type: 'aws-identity-center',
  configSchema: AwsIdentityCenterConfig,
  needsSecret: false,
  checkIntegration: async (input) => validateResources(input.resources, input.config),
};

import * as z from 'zod';
import type { DriverChecks } from '#lib/integrations/types.ts';

/**
 * AWS IAM role's config and checks: the schema alone, resources and grants are checked at grant (the driver, with the
 * IAM and STS clients, is ../aws-iam-role.ts).
 */

export const Region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-west-1');
export const RoleArnPattern = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role\/(?:[\x21-\x7e]*\/)?([\w+=,.@-]{1,64})$/;
export const RoleArn = z
  .string()
  .max(2048)
  .regex(RoleArnPattern, 'an IAM role ARN (arn:aws:iam::<account>:role/<name>)');
export const PolicyArn = z
  .string()
  .max(2048)
  .regex(/^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}|aws):policy\/[\w+=,.@/-]+$/, 'a managed policy ARN');
/** sts:ExternalId: 2–1224 characters of [\w+=,.@:/-] (AssumeRole API reference). */
const ExternalId = z.string().regex(/^[\w+=,.@:/-]{2,1224}$/, '2–1224 characters of letters, digits and +=,.@:/-');

export const AwsIamRoleConfig = z.strictObject({
  /** The region of the STS endpoint and of the credentials handed out; default: the function's region. */
  region: Region.optional(),
  /**
   * An admin role Stint assumes for the IAM calls (GetRole, Put/Get/DeleteRolePolicy, ListRoles) in the target
   * roles' account; default: the driver function's own role (target roles in Stint's account).
   */
  roleArn: RoleArn.optional(),
  /**
   * Passed as ExternalId on every AssumeRole this integration makes (the admin role and the target roles): their
   * trust policies may require it with `sts:ExternalId` (a guard against the confused deputy).
   */
  externalId: ExternalId.optional(),
  /** Where the console sign-in link lands; default: the console home page of `region`. */
  consoleDestination: z.url({ protocol: /^https$/ }).optional(),
});
export type AwsIamRoleConfig = z.infer<typeof AwsIamRoleConfig>;

export const awsIamRoleChecks: DriverChecks = {
  type: 'aws-iam-role',
  configSchema: AwsIamRoleConfig,
  needsSecret: false,
};

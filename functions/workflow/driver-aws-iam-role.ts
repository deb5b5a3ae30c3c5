import { awsIamRoleDriver } from '#lib/integrations/aws-iam-role.ts';
import { driverStep } from '#lib/services/driver-step.ts';

/** IAM role sessions for grantees and the deny that ends them. */
export const handler = driverStep(awsIamRoleDriver);

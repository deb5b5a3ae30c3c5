import { awsIdentityCenterDriver } from '#lib/integrations/aws-identity-center.ts';
import { driverStep } from '#lib/services/driver-step.ts';

/** IAM Identity Center account assignments (AWS API calls, no VPC). */
export const handler = driverStep(awsIdentityCenterDriver);

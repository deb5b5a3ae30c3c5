import { lambdaDriver } from '#lib/integrations/lambda.ts';
import { driverStep } from '#lib/services/driver-step.ts';

/** custom integrations: the customer's own Lambda functions. */
export const handler = driverStep(lambdaDriver);

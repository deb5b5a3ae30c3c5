import { deliveryHandler } from '#lib/targets/handler.ts';
import { serviceNowDriver } from '#lib/targets/kinds/servicenow.ts';

export const handler = deliveryHandler(serviceNowDriver);

import { deliveryHandler } from '#lib/targets/handler.ts';
import { microsoftSentinelDriver } from '#lib/targets/kinds/microsoft-sentinel.ts';

export const handler = deliveryHandler(microsoftSentinelDriver);

import { deliveryHandler } from '#lib/targets/handler.ts';
import { splunkHecDriver } from '#lib/targets/kinds/splunk-hec.ts';

export const handler = deliveryHandler(splunkHecDriver);

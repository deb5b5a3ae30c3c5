import { deliveryHandler } from '#lib/targets/handler.ts';
import { datadogLogsDriver } from '#lib/targets/kinds/datadog-logs.ts';

export const handler = deliveryHandler(datadogLogsDriver);

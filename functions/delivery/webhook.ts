import { deliveryHandler } from '#lib/targets/handler.ts';
import { webhookDriver } from '#lib/targets/kinds/webhook.ts';

export const handler = deliveryHandler(webhookDriver);

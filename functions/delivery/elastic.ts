import { deliveryHandler } from '#lib/targets/handler.ts';
import { elasticDriver } from '#lib/targets/kinds/elastic.ts';

export const handler = deliveryHandler(elasticDriver);

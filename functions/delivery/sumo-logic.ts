import { deliveryHandler } from '#lib/targets/handler.ts';
import { sumoLogicDriver } from '#lib/targets/kinds/sumo-logic.ts';

export const handler = deliveryHandler(sumoLogicDriver);

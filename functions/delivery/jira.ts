import { deliveryHandler } from '#lib/targets/handler.ts';
import { jiraDriver } from '#lib/targets/kinds/jira.ts';

export const handler = deliveryHandler(jiraDriver);

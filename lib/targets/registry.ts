import { ValidationError } from '#lib/domain/errors.ts';
import type { TargetConfig, TargetKind } from './config.ts';
import { datadogLogsDriver } from './kinds/datadog-logs.ts';
import { elasticDriver } from './kinds/elastic.ts';
import { jiraDriver } from './kinds/jira.ts';
import { microsoftSentinelDriver } from './kinds/microsoft-sentinel.ts';
import { serviceNowDriver } from './kinds/servicenow.ts';
import { splunkHecDriver } from './kinds/splunk-hec.ts';
import { sumoLogicDriver } from './kinds/sumo-logic.ts';
import { webhookDriver } from './kinds/webhook.ts';
import { parseTargetOptions } from './options.ts';
import type { TargetDriver } from './types.ts';

/** One line per kind. */
const drivers: Record<TargetKind, TargetDriver> = {
  webhook: webhookDriver,
  'splunk-hec': splunkHecDriver,
  'sumo-logic': sumoLogicDriver,
  'datadog-logs': datadogLogsDriver,
  elastic: elasticDriver,
  'microsoft-sentinel': microsoftSentinelDriver,
  jira: jiraDriver,
  servicenow: serviceNowDriver,
};

/** The driver of a target kind; a kind without one is an error naming it (a ValidationError on `kind`). */
export function driverFor(kind: TargetKind): TargetDriver {
  const driver = drivers[kind];
  if (driver === undefined) throw new ValidationError(`target kind "${kind}" is not supported yet`, 'kind');
  return driver;
}

/** Checks a target's kind-specific options (at synth and at cold start); the error names `options.<field>`. */
export function validateTargetOptions(target: TargetConfig): void {
  const driver = driverFor(target.kind);
  parseTargetOptions(target, driver.optionsSchema);
  driver.checkTarget?.(target);
}

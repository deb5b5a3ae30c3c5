/**
 * `datadog-logs`: Datadog Logs API v2, "Send logs" (docs.datadoghq.com/api/latest/logs/send-logs):
 * `POST https://http-intake.logs.<site>/api/v2/logs`, header `DD-API-KEY`, a JSON array of HTTPLogItem
 * (`ddsource`, `ddtags`, `hostname`, `service`, `message` + extra attributes), optionally gzip-compressed
 * (`Content-Encoding: gzip`). Documented limits per request: 5 MB uncompressed payload, 1 MB per log,
 * 1000 entries per array; answers 202 Accepted; 400/401/403/413 are the caller's fault, 408/429/5xx are retried.
 *
 * Datadog has no de-duplication: a retried batch can show twice (the event id is in every entry as `event_id`).
 */

import { gzipSync } from 'node:zlib';
import * as z from 'zod';
import type { StintEvent } from '#events/schemas.ts';
import { ValidationError } from '#lib/domain/errors.ts';
import type { TargetConfig } from '../config.ts';
import { parseTargetOptions, plainEndpoint } from '../options.ts';
import { type EventFormatter, sizeBatches, stintFormat } from '../payload.ts';
import { type DeliveryContext, expectSuccess, PermanentDeliveryError, type TargetDriver } from '../types.ts';

/** The Datadog sites and their logs intake hosts (the "Send logs" endpoint table). */
export const DATADOG_SITES = [
  'datadoghq.com',
  'us3.datadoghq.com',
  'us5.datadoghq.com',
  'datadoghq.eu',
  'ap1.datadoghq.com',
  'ap2.datadoghq.com',
  'uk1.datadoghq.com',
  'ddog-gov.com',
  'us2.ddog-gov.com',
] as const;
export type DatadogSite = (typeof DATADOG_SITES)[number];
export const datadogIntakeHost = (site: DatadogSite): string => `http-intake.logs.${site}`;

const LOGS_PATH = '/api/v2/logs';
/** "Maximum array size if sending multiple logs in an array: 1000 entries". */
export const DATADOG_MAX_ENTRIES = 1000;
/** "Maximum content size per payload (uncompressed): 5MB" (counted in decimal megabytes, to stay under either reading). */
export const DATADOG_MAX_PAYLOAD_BYTES = 5_000_000;
/** "Maximum size for a single log: 1MB" (larger logs are truncated by Datadog: refuse them instead). */
export const DATADOG_MAX_ENTRY_BYTES = 1_000_000;
/** "Log events can be submitted with a timestamp that is up to 18 hours in the past" (and 2 hours in the future,
 * Log Date Remapper notes); outside that window the entry carries no `timestamp` and Datadog stamps it on receipt. */
const MAX_PAST_MS = 17 * 3600_000;
const MAX_FUTURE_MS = 2 * 3600_000;

/** Datadog tag rules ("Getting Started with Tags"): starts with a letter; letters, digits, `_ - : . /`; ≤ 200 chars. */
const Tag = z.string().regex(/^[A-Za-z][A-Za-z0-9_\-:./]{0,199}$/, {
  error: 'must start with a letter and hold only letters, digits, _ - : . / (at most 200 characters)',
});

export const DatadogLogsOptions = z.strictObject({
  /** The Datadog site; inferred from the endpoint host when omitted. */
  site: z.enum(DATADOG_SITES, { error: `must be one of ${DATADOG_SITES.join(', ')}` }).optional(),
  /** The endpoint is not a Datadog intake but a relay that speaks the same API (Observability Pipelines Worker). */
  customIntake: z.boolean().default(false),
  service: z.string().min(1).max(100).default('stint'),
  hostname: z.string().min(1).max(255).optional(),
  /** Added to every entry's `ddtags`, with `event_type:<type>` and `severity:<severity>`. */
  tags: z.array(Tag).max(50).default([]),
  /** gzip the body (`Content-Encoding: gzip`), as Datadog recommends. */
  compress: z.boolean().default(true),
});
export type DatadogLogsOptions = z.infer<typeof DatadogLogsOptions>;

const parseOptions = (target: TargetConfig) => parseTargetOptions(target, DatadogLogsOptions);

/**
 * The URL a target posts to. Without `customIntake` the endpoint must be the HTTPS logs intake of the
 * configured site (`https://http-intake.logs.<site>`, optionally with `/api/v2/logs`); with `customIntake`, the
 * endpoint is a relay and `/api/v2/logs` is appended to its path unless already there. Throws ValidationError.
 */
export function datadogLogsUrl(target: TargetConfig): string {
  const options = parseOptions(target);
  const url = plainEndpoint(target);
  if (options.customIntake) {
    if (options.site !== undefined) {
      throw new ValidationError(
        `target ${target.name}: options.site does not apply to a custom intake`,
        'options.site',
      );
    }
    const base = url.pathname.replace(/\/+$/, '');
    return `${url.origin}${base.endsWith(LOGS_PATH) ? base : `${base}${LOGS_PATH}`}`;
  }
  const site = options.site ?? DATADOG_SITES.find((s) => datadogIntakeHost(s) === url.hostname);
  if (site === undefined) {
    throw new ValidationError(
      `target ${target.name}: ${url.hostname} is not a Datadog logs intake host (http-intake.logs.<site>); ` +
        'set options.site, or options.customIntake for a relay',
      'endpoint',
    );
  }
  const expected = `https://${datadogIntakeHost(site)}`;
  if (url.origin !== expected) {
    throw new ValidationError(
      `target ${target.name}: the endpoint ${url.origin} does not match site ${site} (expected ${expected})`,
      'endpoint',
    );
  }
  if (url.pathname !== '/' && url.pathname !== LOGS_PATH) {
    throw new ValidationError(`target ${target.name}: the endpoint path must be empty or ${LOGS_PATH}`, 'endpoint');
  }
  return `${expected}${LOGS_PATH}`;
}

const STATUS: Record<StintEvent['severity'], string> = { info: 'info', warning: 'warning', high: 'error' };

function logEntry(event: StintEvent, options: DatadogLogsOptions, format: EventFormatter, ctx: DeliveryContext) {
  const time = Date.parse(event.time);
  const now = ctx.now().getTime();
  const inWindow = time >= now - MAX_PAST_MS && time <= now + MAX_FUTURE_MS;
  return {
    ddsource: 'stint',
    ddtags: [...options.tags, `event_type:${event.type}`, `severity:${event.severity}`].join(','),
    ...(options.hostname === undefined ? {} : { hostname: options.hostname }),
    service: options.service,
    /** HTTPLogItem.message is a string (required): the event's JSON, whole, so nothing is lost. */
    message: JSON.stringify(format(event, ctx.target.format)),
    status: STATUS[event.severity],
    event_id: event.id,
    /** `timestamp` is one of the default date attributes (Log Date Remapper), in epoch milliseconds. */
    ...(inWindow ? { timestamp: time } : {}),
  };
}

export type DatadogLogsDriver = TargetDriver & {
  /** Validates the endpoint against the options (site, relay) at synth and cold start; throws ValidationError. */
  checkTarget(target: TargetConfig): void;
};

export function createDatadogLogsDriver(deps: { format?: EventFormatter } = {}): DatadogLogsDriver {
  const format = deps.format ?? stintFormat;
  return {
    kind: 'datadog-logs',
    optionsSchema: DatadogLogsOptions,
    maxBatch: DATADOG_MAX_ENTRIES,
    checkTarget(target) {
      datadogLogsUrl(target);
    },
    async deliver(events, ctx) {
      if (events.length === 0) return;
      let url: string;
      let options: DatadogLogsOptions;
      try {
        url = datadogLogsUrl(ctx.target);
        options = parseOptions(ctx.target);
      } catch (error) {
        throw new PermanentDeliveryError(error instanceof Error ? error.message : 'invalid target');
      }
      const entries = events.map((event) => ({
        id: event.id,
        text: JSON.stringify(logEntry(event, options, format, ctx)),
      }));
      for (const entry of entries) {
        if (Buffer.byteLength(entry.text, 'utf8') > DATADOG_MAX_ENTRY_BYTES) {
          throw new PermanentDeliveryError(`event ${entry.id} is over Datadog's 1 MB per-log limit`);
        }
      }
      const batches = sizeBatches(entries, {
        maxCount: DATADOG_MAX_ENTRIES,
        maxBytes: DATADOG_MAX_PAYLOAD_BYTES,
        overhead: 2,
        separator: 1,
        what: 'Datadog payload limit',
      });
      for (const batch of batches) {
        const json = `[${batch.map((e) => e.text).join(',')}]`;
        const response = await ctx.http.send({
          method: 'POST',
          url,
          headers: {
            'DD-API-KEY': ctx.secret,
            'Content-Type': 'application/json',
            ...(options.compress ? { 'Content-Encoding': 'gzip' } : {}),
          },
          body: options.compress ? gzipSync(json) : json,
        });
        expectSuccess(response, `datadog-logs ${ctx.target.name}`);
      }
    },
  };
}

export const datadogLogsDriver = createDatadogLogsDriver();

import * as z from 'zod';
import type { StintEvent } from '#events/schemas.ts';
import { sizeBatches, stintFormat } from '../payload.ts';
import {
  type DeliveryContext,
  expectSuccess,
  type OutboundResponse,
  PermanentDeliveryError,
  RetryableDeliveryError,
  type TargetDriver,
} from '../types.ts';

/**
 * `splunk-hec`: Splunk HTTP Event Collector, per Splunk's "Format events for HTTP Event Collector" and "HTTP Event
 * Collector REST API endpoints" (help.splunk.com, Splunk Enterprise / Splunk Cloud Platform, Get Data In):
 * - `POST <endpoint>/services/collector/event`, `Authorization: Splunk <HEC token>` (the secret);
 * - body: event objects concatenated back to back (no array, no separator — the documented batch form), each
 *   `{ time: <epoch seconds[.ms]>, host?, source, sourcetype, index?, event: <the Stint event> }`;
 * - with indexer acknowledgement on the token, every request carries `X-Splunk-Request-Channel: <GUID>` (option
 *   `channel`); without it Splunk answers code 10 "Data channel is missing".
 * Splunk answers `{ "text": "...", "code": n }`: 0 is success; 8 (internal error) and 9 (server is busy, HTTP 503)
 * are retried; any other code (2/3 token required/invalid authorization, 4 invalid token, 6 invalid data format,
 * 7 incorrect index, 10/11 channel…) is permanent, whatever the HTTP status says.
 * Requests are capped at `maxBatchBytes` (a conservative 1 MB default: HEC refuses bodies over `max_content_length`,
 * limits.conf [http_input], which only Splunk Enterprise admins can raise) and `maxBatchEvents`.
 * Indexer acknowledgement is not polled (`/services/collector/ack`): a 200 means HEC accepted the batch.
 */
export const SplunkHecOptions = z.strictObject({
  sourcetype: z.string().min(1).max(256).default('stint:audit'),
  source: z.string().min(1).max(256).default('stint'),
  /** Must be an index the HEC token may write to (else HEC code 7, "Incorrect index"). */
  index: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,79}$/, { error: 'must be a Splunk index name (lowercase letters, digits, _ and -)' })
    .optional(),
  host: z.string().min(1).max(256).optional(),
  /** The HEC channel (a GUID), required when the token has indexer acknowledgement turned on. */
  channel: z.guid({ error: 'must be a GUID (the HEC request channel)' }).optional(),
  maxBatchEvents: z.int().min(1).max(1000).default(100),
  maxBatchBytes: z
    .int()
    .min(4096)
    .max(800 * 1024 * 1024)
    .default(1_000_000),
});
export type SplunkHecOptions = z.infer<typeof SplunkHecOptions>;

const HecAnswer = z.looseObject({
  text: z.string(),
  code: z.number().int(),
  'invalid-event-number': z.number().int().optional(),
});
type HecAnswer = z.infer<typeof HecAnswer>;

/** HEC codes worth retrying: 8 internal server error, 9 server is busy. */
const RETRYABLE_CODES = new Set([8, 9]);

/** `https://splunk:8088` → `https://splunk:8088/services/collector/event` (a path already there is kept). */
export function hecEventUrl(endpoint: string): string {
  const url = new URL(endpoint);
  const path = url.pathname.replace(/\/+$/, '');
  if (path.endsWith('/services/collector/event')) url.pathname = path;
  else if (path.endsWith('/services/collector')) url.pathname = `${path}/event`;
  else url.pathname = `${path}/services/collector/event`;
  return url.toString();
}

/** One HEC event object for a Stint event. */
export function hecEvent(event: StintEvent, options: SplunkHecOptions, format: 'stint' | 'ocsf'): string {
  return JSON.stringify({
    time: Date.parse(event.time) / 1000,
    ...(options.host === undefined ? {} : { host: options.host }),
    source: options.source,
    sourcetype: options.sourcetype,
    ...(options.index === undefined ? {} : { index: options.index }),
    event: stintFormat(event, format),
  });
}

function parseAnswer(body: string): HecAnswer | undefined {
  try {
    const parsed = HecAnswer.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Classifies HEC's answer by its `code` first (a proxy may rewrite statuses), then by the HTTP status. */
function checkAnswer(response: OutboundResponse, what: string): void {
  const answer = parseAnswer(response.body);
  const ok = response.status >= 200 && response.status < 300;
  if (ok && (answer === undefined || answer.code === 0)) return;
  if (answer === undefined) {
    expectSuccess(response, what);
    return;
  }
  const which = answer['invalid-event-number'] === undefined ? '' : ` (event #${answer['invalid-event-number']})`;
  const message = `${what}: HTTP ${response.status}, HEC code ${answer.code} "${answer.text}"${which}`;
  const answerText = response.body.slice(0, 2000);
  if (RETRYABLE_CODES.has(answer.code)) throw new RetryableDeliveryError(message, response.status, answerText);
  if (!ok && (response.status === 429 || response.status === 408 || response.status >= 500)) {
    throw new RetryableDeliveryError(message, response.status, answerText);
  }
  throw new PermanentDeliveryError(message, response.status, answerText);
}

async function deliver(events: StintEvent[], ctx: DeliveryContext): Promise<void> {
  const options = SplunkHecOptions.parse(ctx.target.options);
  const url = hecEventUrl(ctx.target.endpoint);
  const records = events.map((event) => ({ id: event.id, text: hecEvent(event, options, ctx.target.format) }));
  const what = `splunk-hec ${ctx.target.name}`;
  const limits = {
    maxCount: options.maxBatchEvents,
    maxBytes: options.maxBatchBytes,
    overhead: 0,
    separator: 0,
    what: 'HEC request limit',
  };
  for (const batch of sizeBatches(records, limits).map((b) => b.map((r) => r.text))) {
    const response = await ctx.http.send({
      method: 'POST',
      url,
      headers: {
        authorization: `Splunk ${ctx.secret}`,
        'content-type': 'application/json',
        ...(options.channel === undefined ? {} : { 'x-splunk-request-channel': options.channel }),
      },
      body: batch.join(''),
    });
    checkAnswer(response, what);
  }
}

export const splunkHecDriver: TargetDriver = {
  kind: 'splunk-hec',
  optionsSchema: SplunkHecOptions,
  maxBatch: 100,
  deliver,
};

/**
 * `elastic`: Elasticsearch Bulk API (elastic.co, "Bulk API", `POST /_bulk`) with an API key
 * (`Authorization: ApiKey <encoded>`, the `encoded` value of the "Create API key" answer).
 *
 * The body is NDJSON (`Content-Type: application/x-ndjson`): per event an action line
 * `{"create":{"_index":<index>,"_id":<event id>}}` and the document, and "the final line of data must end
 * with a newline character". `create` is the one action data streams accept, and with the event id as `_id`
 * a re-delivered event fails with 409 `version_conflict_engine_exception` instead of indexing twice: a 409
 * item is an event already delivered.
 *
 * "The bulk API's response contains the individual results of each operation in the request, returned in the
 * order submitted", and a top-level `errors` flag. The response is filtered with `filter_path` (common options,
 * "Response filtering") so it stays small whatever the batch size, keeping `error` and `status` for non-2xx answers.
 */

import * as z from 'zod';
import type { TargetConfig } from '../config.ts';
import { parseTargetOptions, plainEndpoint } from '../options.ts';
import { type EventFormatter, sizeBatches, stintFormat } from '../payload.ts';
import {
  expectSuccess,
  type OutboundResponse,
  PermanentDeliveryError,
  RetryableDeliveryError,
  type TargetDriver,
} from '../types.ts';

/** Events per request: small enough that the filtered response (≈ 350 bytes per failed item) stays readable. */
export const ELASTIC_MAX_BATCH = 100;
/** Bytes per request, well under `http.max_content_length` (100 MB by default) and Elastic Cloud proxies. */
export const ELASTIC_MAX_BYTES = 10 * 1024 * 1024;
export const ELASTIC_FILTER_PATH = 'errors,error,status,items.*.status,items.*.error.type,items.*.error.reason';

/**
 * Index (or data stream, or alias) names, as the "Create index API" restricts them: lowercase; none of
 * `\ / * ? " < > | , #`, space or `:`; not starting with `-`, `_` or `+`; not `.` or `..`; at most 255 bytes.
 */
export const ElasticIndexName = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => s === s.toLowerCase(), { error: 'must be lowercase' })
  .refine((s) => !/[\\/*?"<>|, #:]/.test(s), { error: 'must not contain \\ / * ? " < > | , # : or spaces' })
  .refine((s) => !/^[-_+]/.test(s) && s !== '.' && s !== '..', { error: 'must not start with - _ + or be . or ..' });

export const ElasticOptions = z.strictObject({
  /** The index, data stream (e.g. `logs-stint.audit-default`) or write alias the events go to. */
  index: ElasticIndexName,
  /** An ingest pipeline to run on each document (`?pipeline=`). */
  pipeline: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/)
    .optional(),
});
export type ElasticOptions = z.infer<typeof ElasticOptions>;

const parseOptions = (target: TargetConfig) => parseTargetOptions(target, ElasticOptions);

/** `{endpoint}/_bulk` (the endpoint may carry a path prefix, e.g. behind a proxy) with the response filter. */
export function elasticBulkUrl(target: TargetConfig): string {
  const options = parseOptions(target);
  const url = plainEndpoint(target);
  const query = new URLSearchParams({ filter_path: ELASTIC_FILTER_PATH });
  if (options.pipeline !== undefined) query.set('pipeline', options.pipeline);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}/_bulk?${query.toString()}`;
}

const BulkItemResult = z.object({
  status: z.number().int(),
  error: z.object({ type: z.string(), reason: z.string().nullish() }).optional(),
});
const BulkResponse = z.object({
  errors: z.boolean(),
  items: z.array(z.record(z.string(), BulkItemResult)).optional(),
});

type ItemFailure = { id: string; status: number; type?: string; reason?: string };

/** Classifies one bulk answer (HTTP 200). Throws for failed items; 409 on `create` counts as delivered. */
export function checkBulkResponse(response: OutboundResponse, ids: string[], what: string): void {
  let json: unknown;
  try {
    json = JSON.parse(response.body);
  } catch {
    // The outbound client caps the body it reads; the filtered answer starts with the `errors` flag.
    if (/^\{"errors":false[,}]/.test(response.body)) return;
    throw new RetryableDeliveryError(`${what}: unreadable bulk response`, response.status, response.body.slice(0, 500));
  }
  const parsed = BulkResponse.safeParse(json);
  if (!parsed.success) {
    throw new RetryableDeliveryError(`${what}: unexpected bulk response`, response.status, response.body.slice(0, 500));
  }
  if (!parsed.data.errors) return;
  const items = parsed.data.items ?? [];
  if (items.length !== ids.length) {
    throw new RetryableDeliveryError(
      `${what}: ${items.length} results for ${ids.length} operations`,
      response.status,
      response.body.slice(0, 2000),
    );
  }
  const retryable: ItemFailure[] = [];
  const permanent: ItemFailure[] = [];
  items.forEach((item, i) => {
    const result = item.create ?? Object.values(item)[0];
    const id = ids[i] ?? `#${i}`;
    if (result === undefined) {
      retryable.push({ id, status: 0, reason: 'no result' });
      return;
    }
    const { status } = result;
    if ((status >= 200 && status < 300) || status === 409) return;
    const failure: ItemFailure = {
      id,
      status,
      ...(result.error === undefined ? {} : { type: result.error.type }),
      ...(result.error?.reason == null ? {} : { reason: result.error.reason }),
    };
    if (status === 429 || status >= 500) retryable.push(failure);
    else permanent.push(failure);
  });
  // Retry first: a retry re-sends every event (delivered ones answer 409), and what still fails for good then
  // ends as a permanent failure.
  if (retryable.length > 0) {
    throw new RetryableDeliveryError(
      `${what}: ${retryable.length} of ${ids.length} events refused for now (${retryable[0]?.status})`,
      retryable[0]?.status,
      JSON.stringify([...retryable, ...permanent]).slice(0, 2000),
    );
  }
  if (permanent.length > 0) {
    const first = permanent[0];
    throw new PermanentDeliveryError(
      `${what}: ${permanent.length} of ${ids.length} events refused (${first?.status} ${first?.type ?? ''})`.trim(),
      first?.status,
      JSON.stringify(permanent).slice(0, 2000),
    );
  }
}

export type ElasticDriver = TargetDriver & { checkTarget(target: TargetConfig): void };

export function createElasticDriver(deps: { format?: EventFormatter } = {}): ElasticDriver {
  const format = deps.format ?? stintFormat;
  return {
    kind: 'elastic',
    optionsSchema: ElasticOptions,
    maxBatch: ELASTIC_MAX_BATCH,
    checkTarget(target) {
      elasticBulkUrl(target);
    },
    async deliver(events, ctx) {
      if (events.length === 0) return;
      let url: string;
      let options: ElasticOptions;
      try {
        url = elasticBulkUrl(ctx.target);
        options = parseOptions(ctx.target);
      } catch (error) {
        throw new PermanentDeliveryError(error instanceof Error ? error.message : 'invalid target');
      }
      const what = `elastic ${ctx.target.name}`;
      const operations = events.map((event) => ({
        id: event.id,
        text: `${JSON.stringify({ create: { _index: options.index, _id: event.id } })}\n${JSON.stringify({
          '@timestamp': event.time,
          ...format(event, ctx.target.format),
        })}\n`,
      }));
      const batches = sizeBatches(operations, {
        maxCount: ELASTIC_MAX_BATCH,
        maxBytes: ELASTIC_MAX_BYTES,
        overhead: 0,
        separator: 0,
        what: 'bulk request limit',
      });
      for (const batch of batches) {
        const response = await ctx.http.send({
          method: 'POST',
          url,
          headers: { Authorization: `ApiKey ${ctx.secret}`, 'Content-Type': 'application/x-ndjson' },
          body: batch.map((o) => o.text).join(''),
        });
        expectSuccess(response, what);
        checkBulkResponse(
          response,
          batch.map((o) => o.id),
          what,
        );
      }
    },
  };
}

export const elasticDriver = createElasticDriver();

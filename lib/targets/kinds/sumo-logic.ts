import { gzipSync } from 'node:zlib';
import * as z from 'zod';
import type { StintEvent } from '#events/schemas.ts';
import { sizeBatches, stintFormat } from '../payload.ts';
import { type DeliveryContext, expectSuccess, PermanentDeliveryError, type TargetDriver } from '../types.ts';

/**
 * `sumo-logic`: a Sumo Logic HTTP Logs and Metrics Source, per Sumo Logic's "HTTP Logs and Metrics Source" and
 * "Upload Logs to an HTTP Source" (help.sumologic.com, Send Data > Hosted Collectors > HTTP Source):
 * - `POST` to the source's unique upload URL `https://<endpoint>/receiver/v1/http/<code>`; the URL itself is the
 *   credential, so it is the secret (secretRef) and `endpoint` only names the collection host it must be on;
 * - the body is the log lines, one message per line: one event JSON per line (newline-delimited JSON);
 * - optional metadata headers `X-Sumo-Category`, `X-Sumo-Name`, `X-Sumo-Host`, `X-Sumo-Fields` override the
 *   source's configured values; no metric Content-Type, so the payload is ingested as logs;
 * - `Content-Encoding: gzip` (Sumo Logic recommends compressed uploads; option `gzip`, on by default);
 * - a request carries at most 1 MB of uncompressed data (Sumo's documented maximum; 100 KB–1 MB recommended).
 */
const HeaderValue = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^\P{Cc}*$/u, { error: 'must not contain control characters' });

export const SumoLogicOptions = z.strictObject({
  /** X-Sumo-Category: the source category (`_sourceCategory`), e.g. `security/stint`. */
  category: HeaderValue.optional(),
  /** X-Sumo-Name: the source name (`_sourceName`). */
  sourceName: HeaderValue.optional(),
  /** X-Sumo-Host: the source host (`_sourceHost`). */
  sourceHost: HeaderValue.optional(),
  /** X-Sumo-Fields: extra fields, sent as `key=value,key=value`. */
  fields: z
    .record(
      z.string().regex(/^[A-Za-z0-9_.-]{1,255}$/, { error: 'must be a field name (letters, digits, _ . -)' }),
      z
        .string()
        .max(200)
        .regex(/^[^,=\p{Cc}]*$/u, { error: 'must not contain ",", "=" or control characters' }),
    )
    .optional(),
  gzip: z.boolean().default(true),
  maxBatchBytes: z.int().min(4096).max(1_000_000).default(1_000_000),
});
export type SumoLogicOptions = z.infer<typeof SumoLogicOptions>;

/** The upload URL from the secret, checked against the configured endpoint's host; never echoed in errors. */
export function uploadUrl(secret: string, endpoint: string): string {
  let url: URL;
  try {
    url = new URL(secret.trim());
  } catch {
    throw new PermanentDeliveryError('sumo-logic: the secret must be the HTTP source upload URL');
  }
  const expected = new URL(endpoint);
  if (url.host !== expected.host) {
    throw new PermanentDeliveryError(
      `sumo-logic: the upload URL in the secret is not on the endpoint's host ${expected.host}`,
    );
  }
  if (!url.pathname.startsWith('/receiver/v1/http/') || url.pathname.length <= '/receiver/v1/http/'.length) {
    throw new PermanentDeliveryError('sumo-logic: the upload URL in the secret is not an HTTP source URL');
  }
  return url.toString();
}

function fieldsHeader(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

async function deliver(events: StintEvent[], ctx: DeliveryContext): Promise<void> {
  const options = SumoLogicOptions.parse(ctx.target.options);
  const url = uploadUrl(ctx.secret, ctx.target.endpoint);
  const lines = events.map((event) => ({ id: event.id, text: JSON.stringify(stintFormat(event, ctx.target.format)) }));
  const headers: Record<string, string> = {
    ...(options.category === undefined ? {} : { 'x-sumo-category': options.category }),
    ...(options.sourceName === undefined ? {} : { 'x-sumo-name': options.sourceName }),
    ...(options.sourceHost === undefined ? {} : { 'x-sumo-host': options.sourceHost }),
    ...(options.fields === undefined ? {} : { 'x-sumo-fields': fieldsHeader(options.fields) }),
    ...(options.gzip ? { 'content-encoding': 'gzip' } : {}),
  };
  const limits = {
    maxCount: Number.MAX_SAFE_INTEGER,
    maxBytes: options.maxBatchBytes,
    overhead: 0,
    separator: 1,
    what: 'Sumo Logic request limit',
  };
  for (const batch of sizeBatches(lines, limits)) {
    const text = batch.map((line) => line.text).join('\n');
    const response = await ctx.http.send({
      method: 'POST',
      url,
      headers,
      body: options.gzip ? gzipSync(text) : text,
    });
    expectSuccess(response, `sumo-logic ${ctx.target.name}`);
  }
}

export const sumoLogicDriver: TargetDriver = {
  kind: 'sumo-logic',
  optionsSchema: SumoLogicOptions,
  maxBatch: 100,
  deliver,
};

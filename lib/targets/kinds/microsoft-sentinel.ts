/**
 * `microsoft-sentinel`: the Azure Monitor Logs Ingestion API through a data collection rule (learn.microsoft.com,
 * "Logs Ingestion API in Azure Monitor", REST API call):
 * `POST {endpoint}/dataCollectionRules/{dcrImmutableId}/streams/{streamName}?api-version=2023-01-01`, where the
 * endpoint is the DCR's logs ingestion endpoint or a data collection endpoint (DCE), with
 * `Authorization: Bearer <token>` and `Content-Type: application/json`; the body is a JSON array of records
 * matching the stream's declared columns; success is 204 No Content.
 *
 * The token comes from the Microsoft identity platform client credentials flow ("OAuth 2.0 client credentials
 * flow", shared secret): `POST https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token` with the form
 * `client_id`, `client_secret`, `grant_type=client_credentials` and `scope=https://monitor.azure.com//.default`
 * (the scope the Logs Ingestion REST sample and the Azure SDK's LogsIngestionClient use; `monitor.azure.us` and
 * `monitor.azure.cn` in the US Government and 21Vianet clouds). The answer's `expires_in` (seconds) bounds the cache.
 *
 * Limits ("Azure Monitor service limits", Logs Ingestion API): 1 MB per API call, compressed or not (we batch
 * under it); field values over 64 KB are truncated (the `Detail` column holds the whole event: a Stint event is
 * a few KB); 429 with `Retry-After` when a DCR's per-minute limits are exceeded (retried by the caller).
 *
 * Records (declare these columns on the DCR stream and the custom table):
 *   TimeGenerated (datetime, the event time), EventId, EventType, Severity, Actor, ActorChannel, RequestId,
 *   Status, FlowId (string), Detail (dynamic: the event, or its OCSF form).
 * `Type` is a standard column of every Log Analytics table (it holds the table name: "Standard columns in Azure
 * Monitor Logs"), so Stint's event type goes in `EventType`.
 */

import { createHash } from 'node:crypto';
import * as z from 'zod';
import type { StintEvent } from '#events/schemas.ts';
import type { TargetConfig } from '../config.ts';
import { parseTargetOptions, plainEndpoint } from '../options.ts';
import { type EventFormatter, sizeBatches, stintFormat } from '../payload.ts';
import { type DeliveryContext, expectSuccess, PermanentDeliveryError, type TargetDriver } from '../types.ts';

export const LOGS_INGESTION_API_VERSION = '2023-01-01';
/** "Maximum size of API call: 1 MB" (decimal, to stay under either reading). */
export const SENTINEL_MAX_CALL_BYTES = 1_000_000;
export const SENTINEL_MAX_BATCH = 500;
/** The documented `.default` scopes of Azure Monitor per cloud (public, US Government, 21Vianet). */
export const MONITOR_SCOPES = [
  'https://monitor.azure.com//.default',
  'https://monitor.azure.us//.default',
  'https://monitor.azure.cn//.default',
] as const;
/** Refresh a cached token this long before it expires. */
const TOKEN_MARGIN_MS = 5 * 60_000;

const Guid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, {
  error: 'must be a GUID',
});
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** An https:// authority; plain http:// only on a loopback host (the local runtime and tests). */
const AuthorityHost = z
  .url({ error: 'must be a URL' })
  .refine(
    (value) => {
      const url = new URL(value);
      return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
    },
    { error: 'must be an https:// URL (http:// only on a loopback host, for local runs)' },
  )
  .refine(
    (value) => {
      const url = new URL(value);
      return url.search === '' && url.hash === '' && url.username === '' && url.password === '';
    },
    { error: 'must have no query, fragment or credentials' },
  );

export const MicrosoftSentinelOptions = z.strictObject({
  /** The Entra tenant (directory) id, or a verified domain such as contoso.onmicrosoft.com. */
  tenantId: z.union([Guid, z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i)], {
    error: 'must be a tenant GUID or domain',
  }),
  /** The app registration's Application (client) id; the target's secret is its client secret. */
  clientId: Guid,
  /** The DCR's immutable id (`dcr-` and 32 hex digits), from its JSON view or overview page. */
  dcrImmutableId: z.string().regex(/^dcr-[0-9a-f]{32}$/, { error: 'must be dcr- followed by 32 hex digits' }),
  /** The DCR stream, e.g. `Custom-StintAudit_CL`. */
  streamName: z.string().regex(/^(Custom|Microsoft)-[A-Za-z0-9_]{1,100}$/, {
    error: 'must be Custom-<name> or Microsoft-<name> (letters, digits, _)',
  }),
  authorityHost: AuthorityHost.default('https://login.microsoftonline.com'),
  scope: z.enum(MONITOR_SCOPES).default('https://monitor.azure.com//.default'),
});
export type MicrosoftSentinelOptions = z.infer<typeof MicrosoftSentinelOptions>;

const parseOptions = (target: TargetConfig) => parseTargetOptions(target, MicrosoftSentinelOptions);

export function sentinelIngestionUrl(target: TargetConfig): string {
  const options = parseOptions(target);
  const url = plainEndpoint(target, 'the endpoint (DCE or DCR logs ingestion endpoint)');
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  return `${base}/dataCollectionRules/${options.dcrImmutableId}/streams/${options.streamName}?api-version=${LOGS_INGESTION_API_VERSION}`;
}

export function entraTokenUrl(options: MicrosoftSentinelOptions): string {
  return `${options.authorityHost.replace(/\/+$/, '')}/${encodeURIComponent(options.tenantId)}/oauth2/v2.0/token`;
}

const TokenResponse = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  /** Seconds; a number from the v2.0 endpoint (older answers sent it as a string). */
  expires_in: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]),
});

type CachedToken = { token: string; refreshAt: number };

/** Caches Entra tokens per (authority, tenant, client, scope, secret): one token request per expiry. */
export class EntraTokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<CachedToken>>();

  async get(options: MicrosoftSentinelOptions, ctx: DeliveryContext): Promise<string> {
    const key = cacheKey(options, ctx.secret);
    const cached = this.tokens.get(key);
    if (cached !== undefined && ctx.now().getTime() < cached.refreshAt) return cached.token;
    let request = this.pending.get(key);
    if (request === undefined) {
      request = requestToken(options, ctx).finally(() => this.pending.delete(key));
      this.pending.set(key, request);
    }
    const fresh = await request;
    this.tokens.set(key, fresh);
    return fresh.token;
  }

  invalidate(options: MicrosoftSentinelOptions, secret: string): void {
    this.tokens.delete(cacheKey(options, secret));
  }
}

function cacheKey(options: MicrosoftSentinelOptions, secret: string): string {
  // The secret is part of the key (a rotated secret gets its own token) only as a digest.
  const digest = createHash('sha256').update(secret).digest('base64url').slice(0, 22);
  return [options.authorityHost, options.tenantId, options.clientId, options.scope, digest].join('|');
}

async function requestToken(options: MicrosoftSentinelOptions, ctx: DeliveryContext): Promise<CachedToken> {
  const what = `microsoft-sentinel ${ctx.target.name}: Entra token`;
  const response = await ctx.http.send({
    method: 'POST',
    url: entraTokenUrl(options),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: options.clientId,
      client_secret: ctx.secret,
      grant_type: 'client_credentials',
      scope: options.scope,
    }).toString(),
  });
  expectSuccess(response, what);
  let json: unknown;
  try {
    json = JSON.parse(response.body);
  } catch {
    throw new PermanentDeliveryError(`${what}: the answer is not JSON`, response.status);
  }
  const parsed = TokenResponse.safeParse(json);
  if (!parsed.success) throw new PermanentDeliveryError(`${what}: the answer has no access_token`, response.status);
  const lifetimeMs = parsed.data.expires_in * 1000;
  const margin = Math.min(TOKEN_MARGIN_MS, lifetimeMs / 10);
  return { token: parsed.data.access_token, refreshAt: ctx.now().getTime() + lifetimeMs - margin };
}

/** One row of the stream (columns documented above). Absent values are left out (the column stays empty). */
export function sentinelRecord(event: StintEvent, detail: Record<string, unknown>): Record<string, unknown> {
  const request = 'request' in event ? event.request : undefined;
  const flowId = request?.flowId ?? (event.type.startsWith('flow.') && 'after' in event ? event.after.id : undefined);
  return {
    TimeGenerated: event.time,
    EventId: event.id,
    EventType: event.type,
    Severity: event.severity,
    Actor: event.actor.sub,
    ActorChannel: event.actor.channel,
    ...(request === undefined ? {} : { RequestId: request.id, Status: request.status }),
    ...(flowId === undefined ? {} : { FlowId: flowId }),
    Detail: detail,
  };
}

export type MicrosoftSentinelDriver = TargetDriver & { checkTarget(target: TargetConfig): void };

export function createMicrosoftSentinelDriver(
  deps: { format?: EventFormatter; tokens?: EntraTokenCache } = {},
): MicrosoftSentinelDriver {
  const format = deps.format ?? stintFormat;
  const tokens = deps.tokens ?? new EntraTokenCache();
  return {
    kind: 'microsoft-sentinel',
    optionsSchema: MicrosoftSentinelOptions,
    maxBatch: SENTINEL_MAX_BATCH,
    checkTarget(target) {
      sentinelIngestionUrl(target);
    },
    async deliver(events, ctx) {
      if (events.length === 0) return;
      let url: string;
      let options: MicrosoftSentinelOptions;
      try {
        url = sentinelIngestionUrl(ctx.target);
        options = parseOptions(ctx.target);
      } catch (error) {
        throw new PermanentDeliveryError(error instanceof Error ? error.message : 'invalid target');
      }
      const what = `microsoft-sentinel ${ctx.target.name}`;
      const records = events.map((event) => ({
        id: event.id,
        text: JSON.stringify(sentinelRecord(event, format(event, ctx.target.format))),
      }));
      const batches = sizeBatches(records, {
        maxCount: SENTINEL_MAX_BATCH,
        maxBytes: SENTINEL_MAX_CALL_BYTES,
        overhead: 2,
        separator: 1,
        what: 'Logs Ingestion API call limit',
      });
      for (const batch of batches) {
        const body = `[${batch.map((r) => r.text).join(',')}]`;
        const post = async () =>
          ctx.http.send({
            method: 'POST',
            url,
            headers: {
              Authorization: `Bearer ${await tokens.get(options, ctx)}`,
              'Content-Type': 'application/json',
            },
            body,
          });
        let response = await post();
        if (response.status === 401) {
          // The token was revoked or expired early: fetch a new one and try once more.
          tokens.invalidate(options, ctx.secret);
          response = await post();
        }
        expectSuccess(response, what);
      }
    },
  };
}

export const microsoftSentinelDriver = createMicrosoftSentinelDriver();

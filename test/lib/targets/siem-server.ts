import { createServer, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterEach } from 'vitest';
import { type StintEvent, StintEvent as StintEventSchema } from '#events/schemas.ts';
import { buildSamples } from '#lib/events/samples.ts';
import { TargetConfig, type TargetConfigInput } from '#lib/targets/config.ts';
import { createOutbound } from '#lib/targets/outbound.ts';
import {
  type DeliveryContext,
  PermanentDeliveryError,
  RetryableDeliveryError,
  type TicketStore,
} from '#lib/targets/types.ts';

/** What a vendor stand-in received: one request, read whole (the body gunzipped when it says gzip). */
export type Received = {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  body: string;
};

export type Answer = { status: number; body?: string; headers?: Record<string, string> };

/** A real local HTTP server (port 0) answering with `answer`, closed after the test. */
export async function startVendor(answer: (request: Received, index: number) => Answer) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://local');
      const request: Received = {
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        raw,
        body: (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8'),
      };
      received.push(request);
      const reply = answer(request, received.length - 1);
      res.writeHead(
        reply.status,
        reply.headers ?? (reply.body === undefined ? {} : { 'content-type': 'application/json' }),
      );
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the vendor stand-in has no port');
  const { port } = address;
  servers.push(server);
  return { url: `http://127.0.0.1:${port}`, received };
}

const servers: ReturnType<typeof createServer>[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

const tickets: TicketStore = {
  get: async () => undefined,
  put: async () => undefined,
};

export function context(target: TargetConfigInput, secret: string, now = new Date()): DeliveryContext {
  return {
    target: TargetConfig.parse(target),
    secret,
    http: createOutbound({ local: true, allowPrivateNetwork: true }),
    tickets,
    now: () => now,
  };
}

/** The generated sample events (events/samples), validated. */
export function samples(): StintEvent[] {
  return Object.values(buildSamples()).map((e) => StintEventSchema.parse(e));
}

/** `count` distinct copies of a request event, with ids `<prefix>:<n>` and an optional padded justification. */
export function manyEvents(count: number, padding = 0): StintEvent[] {
  const base = buildSamples()['grant.active'];
  if (!('request' in base)) throw new Error('grant.active carries a request');
  return Array.from({ length: count }, (_, n) => ({
    ...base,
    id: `request:01JTEST:${n}`,
    request: { ...base.request, justification: padding > 0 ? 'x'.repeat(padding) : base.request.justification },
  }));
}

/** The delivery error a promise rejects with; fails the test when it resolves or throws anything else. */
export async function deliveryError(promise: Promise<void>): Promise<RetryableDeliveryError | PermanentDeliveryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RetryableDeliveryError || error instanceof PermanentDeliveryError) return error;
    throw error;
  }
  throw new Error('expected the delivery to fail');
}

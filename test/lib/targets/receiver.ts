import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TargetConfig, type TargetConfigInput } from '#lib/targets/config.ts';
import { createOutbound } from '#lib/targets/outbound.ts';
import type { DeliveryContext } from '#lib/targets/types.ts';

/** One request as the receiving server saw it on the wire. */
export type Received = {
  method: string;
  /** Path and query, as sent. */
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
};

export type Answer = { status: number; body?: string; headers?: Record<string, string> };

export type Receiver = {
  /** `http://127.0.0.1:<port>` */
  url: string;
  received: Received[];
  close(): Promise<void>;
};

/**
 * A real HTTP server on 127.0.0.1 (port 0) that records every request and answers with `answer(request, index)`.
 * The vendor's wire format is checked by the test on `received`.
 */
export async function startReceiver(answer: (request: Received, index: number) => Answer): Promise<Receiver> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: Received = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      received.push(request);
      const { status, body = '', headers = {} } = answer(request, received.length - 1);
      res.writeHead(status, headers).end(body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address: AddressInfo | string | null = server.address();
  if (address === null || typeof address === 'string') throw new Error('the receiver has no TCP address');
  const { port } = address;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** The single value of a request header (fails the test when absent or repeated). */
export function header(request: Received, name: string): string {
  const value = request.headers[name.toLowerCase()];
  if (typeof value !== 'string') throw new Error(`expected one "${name}" header, got ${JSON.stringify(value)}`);
  return value;
}

/** The request at `index` (fails the test when there is none). */
export function nth(received: Received[], index: number): Received {
  const request = received[index];
  if (request === undefined) throw new Error(`expected a request #${index}, got ${received.length}`);
  return request;
}

/** A delivery context for kind tests: the real outbound client in local mode, real time. */
export function contextFor(target: TargetConfigInput, secret: string): DeliveryContext {
  return {
    target: TargetConfig.parse(target),
    secret,
    http: createOutbound({ local: true, allowPrivateNetwork: true }),
    tickets: {
      get: async () => undefined,
      put: async () => {
        throw new Error('SIEM kinds keep no tickets');
      },
    },
    now: () => new Date(),
  };
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

import {
  type Outbound,
  type OutboundRequest,
  type OutboundResponse,
  PermanentDeliveryError,
  RetryableDeliveryError,
} from './types.ts';

export type OutboundOptions = {
  /** Local mode (the local runtime, tests): plain http:// and private addresses are allowed. */
  local: boolean;
  allowPrivateNetwork: boolean;
  connectTimeoutMs?: number;
  totalTimeoutMs?: number;
  maxResponseBytes?: number;
};

/**
 * Outbound HTTP for delivery targets. FIRST VERSION: scheme check, total timeout and response cap over fetch.
 * To be hardened (DNS resolution + private/loopback/link-local/metadata refusal, connect timeout) — see issue 3.
 */
export function createOutbound(options: OutboundOptions): Outbound {
  const total = options.totalTimeoutMs ?? 10_000;
  const cap = options.maxResponseBytes ?? 64 * 1024;
  return {
    async send(request: OutboundRequest): Promise<OutboundResponse> {
      const url = new URL(request.url);
      if (url.protocol !== 'https:' && !(options.local && url.protocol === 'http:')) {
        throw new PermanentDeliveryError(`refused ${url.protocol}// destination: HTTPS only`);
      }
      let res: Response;
      try {
        res = await fetch(url, {
          method: request.method,
          ...(request.headers === undefined ? {} : { headers: request.headers }),
          ...(request.body === undefined ? {} : { body: request.body }),
          redirect: 'manual',
          signal: AbortSignal.timeout(total),
        });
      } catch (error) {
        throw new RetryableDeliveryError(`${url.host}: ${error instanceof Error ? error.name : 'connection failed'}`);
      }
      const buffer = Buffer.from(await res.arrayBuffer());
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => {
        headers[k] = v;
      });
      return { status: res.status, headers, body: buffer.subarray(0, cap).toString('utf8') };
    },
  };
}

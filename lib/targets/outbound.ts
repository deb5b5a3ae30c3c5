import { lookup as dnsLookup } from 'node:dns/promises';
import { type ClientRequest, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import {
  type Outbound,
  type OutboundRequest,
  type OutboundResponse,
  PermanentDeliveryError,
  RetryableDeliveryError,
} from './types.ts';

export type ResolvedAddress = { address: string; family: 4 | 6 };
/** Resolves a host name to every address it has (the production resolver is `dns.lookup(host, { all: true })`). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export type OutboundOptions = {
  /** Local mode (the local runtime, tests): plain http:// and every address are allowed. */
  local: boolean;
  /** The target explicitly allows private, loopback, link-local, unique-local and CGNAT addresses (a SIEM in the
   * VPC). Cloud metadata addresses stay refused. */
  allowPrivateNetwork: boolean;
  /** From the start of the TCP connection until it is established (default 5 s). */
  connectTimeoutMs?: number;
  /** The whole exchange: resolution, connection, TLS, request and reading the answer (default 10 s). */
  totalTimeoutMs?: number;
  /** Bytes of the answer kept; the rest is discarded (default 64 KiB). */
  maxResponseBytes?: number;
  /** Extra trusted CA certificates (PEM), e.g. a private CA in front of an in-VPC SIEM. */
  ca?: string | string[];
  /** Host name resolution; defaults to the system resolver. Tests inject names here. */
  resolve?: Resolver;
};

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_TOTAL_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

/** Instance metadata services (EC2 IMDS over IPv4 and IPv6, ECS task metadata): never a delivery target. */
const METADATA_ADDRESSES = new Set(['169.254.169.254', 'fd00:ec2::254', '169.254.170.2', '169.254.170.23']);

/** ipaddr.js range names a private network may use (with `allowPrivateNetwork`), with a readable name each. */
const PRIVATE_RANGES: Record<string, string> = {
  private: 'private network address',
  uniqueLocal: 'unique local (private) address',
  carrierGradeNat: 'carrier-grade NAT address',
  loopback: 'loopback address',
  linkLocal: 'link-local address',
};
const NEVER_RANGES: Record<string, string> = {
  unspecified: 'unspecified address',
  broadcast: 'broadcast address',
  multicast: 'multicast address',
};

export type AddressClass = {
  /** The address as checked (an IPv4-mapped or NAT64 IPv6 address is checked as its IPv4 address). */
  address: string;
  /** ipaddr.js range name: `unicast` for a public address, else `private`, `loopback`, `linkLocal`, `metadata`… */
  range: string;
  /** Human-readable class, for error messages. */
  label: string;
  /** `public`: always allowed; `private`: allowed with allowPrivateNetwork; `never`: only in local mode. */
  policy: 'public' | 'private' | 'never';
};

/** Classifies an IP address for the outbound guard (ipaddr.js ranges, no hand-rolled CIDR math). */
export function classifyAddress(raw: string): AddressClass {
  let ip = ipaddr.process(raw); // IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes its IPv4 address
  // NAT64 (64:ff9b::/96, RFC 6052) reaches the embedded IPv4 address: judge that one.
  if (ip.kind() === 'ipv6' && ip.range() === 'rfc6052') {
    const bytes = ip.toByteArray();
    if (bytes.slice(0, 12).join() === [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0].join()) {
      ip = ipaddr.fromByteArray(bytes.slice(12));
    }
  }
  const address = ip.toString();
  if (METADATA_ADDRESSES.has(address) || METADATA_ADDRESSES.has(ip.toNormalizedString())) {
    return { address, range: 'metadata', label: 'cloud metadata address', policy: 'never' };
  }
  const range = ip.range();
  if (range === 'unicast') return { address, range, label: 'public address', policy: 'public' };
  const privateLabel = PRIVATE_RANGES[range];
  if (privateLabel !== undefined) return { address, range, label: privateLabel, policy: 'private' };
  return { address, range, label: NEVER_RANGES[range] ?? `reserved address (${range})`, policy: 'never' };
}

const systemResolver: Resolver = async (hostname) => {
  const found = await dnsLookup(hostname, { all: true, verbatim: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/**
 * Outbound HTTP for delivery targets ("outbound safety"):
 * - HTTPS only, unless `local`;
 * - the host is resolved once, every address is classified (classifyAddress) and a private, loopback, link-local,
 *   metadata, unspecified or CGNAT one refuses the destination (PermanentDeliveryError) unless allowed;
 * - the connection goes to the verified addresses through a `lookup` that returns them (no second resolution, so a
 *   DNS rebinding cannot swap the address); TLS SNI, certificate check and Host stay the host name;
 * - connect and total timeouts (RetryableDeliveryError); the answer is read up to a size cap, the rest discarded;
 * - redirects are not followed: a 3xx is returned as is (expectSuccess then treats it as permanent).
 * Nothing here logs: bodies and headers hold credentials.
 */
export function createOutbound(options: OutboundOptions): Outbound {
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const totalTimeoutMs = options.totalTimeoutMs ?? DEFAULT_TOTAL_TIMEOUT_MS;
  const cap = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const resolve = options.resolve ?? systemResolver;

  function check(host: string, found: AddressClass): void {
    if (options.local || found.policy === 'public') return;
    if (found.policy === 'private' && options.allowPrivateNetwork) return;
    const hint = found.policy === 'private' ? ' (set allowPrivateNetwork on the target to allow it)' : '';
    const via = host === found.address ? '' : ` resolves to ${found.address}, which`;
    throw new PermanentDeliveryError(`refused destination ${host}:${via} is a ${found.label}${hint}`);
  }

  async function verifiedAddresses(host: string): Promise<ResolvedAddress[] | undefined> {
    if (ipaddr.isValid(host)) {
      check(host, classifyAddress(host));
      return undefined; // an IP literal: nothing to resolve, Node connects to it directly
    }
    let found: ResolvedAddress[];
    try {
      found = await resolve(host);
    } catch (error) {
      const code = error instanceof Error && 'code' in error ? String(error.code) : 'resolution failed';
      throw new RetryableDeliveryError(`${host}: DNS ${code}`);
    }
    if (found.length === 0) throw new RetryableDeliveryError(`${host}: DNS returned no address`);
    // Every address must pass: a resolver mixing a public and a private answer is refused.
    for (const a of found) check(host, classifyAddress(a.address));
    return found;
  }

  return {
    async send(request: OutboundRequest): Promise<OutboundResponse> {
      const url = new URL(request.url);
      if (url.protocol !== 'https:' && !(options.local && url.protocol === 'http:')) {
        throw new PermanentDeliveryError(`refused ${url.protocol}// destination ${url.hostname}: HTTPS only`);
      }
      const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
      const deadline = AbortSignal.timeout(totalTimeoutMs);
      const addresses = await Promise.race([verifiedAddresses(host), rejectOn(deadline, host, totalTimeoutMs)]);
      return exchange(request, url, host, addresses, {
        connectTimeoutMs,
        totalTimeoutMs,
        deadline,
        cap,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      });
    },
  };
}

type ExchangeLimits = {
  connectTimeoutMs: number;
  totalTimeoutMs: number;
  deadline: AbortSignal;
  cap: number;
  ca?: string | string[];
};

function rejectOn(signal: AbortSignal, host: string, ms: number): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(new RetryableDeliveryError(`${host}: timed out after ${ms} ms`));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

/** A `lookup` that answers with the addresses already verified, never asking DNS again. */
function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return (_hostname, lookupOptions, callback) => {
    const family = lookupOptions.family === 4 || lookupOptions.family === 6 ? lookupOptions.family : undefined;
    const usable = addresses.filter((a) => family === undefined || a.family === family);
    const first = usable[0];
    if (first === undefined) {
      callback(Object.assign(new Error('no verified address of the requested family'), { code: 'ENOTFOUND' }), '');
      return;
    }
    if (lookupOptions.all === true) callback(null, usable);
    else callback(null, first.address, first.family);
  };
}

function exchange(
  request: OutboundRequest,
  url: URL,
  host: string,
  addresses: ResolvedAddress[] | undefined,
  limits: ExchangeLimits,
): Promise<OutboundResponse> {
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  const headers: Record<string, string> = { ...request.headers };
  if (body !== undefined) headers['content-length'] = String(body.byteLength);
  const secure = url.protocol === 'https:';
  const requestOptions: RequestOptions & { servername?: string; ca?: string | string[] } = {
    protocol: url.protocol,
    host,
    port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
    path: `${url.pathname}${url.search}`,
    method: request.method,
    headers,
    agent: false, // one connection per exchange: no socket pooled across destinations
    ...(addresses === undefined ? {} : { lookup: pinnedLookup(addresses) }),
    ...(secure && !ipaddr.isValid(host) ? { servername: host } : {}),
    ...(secure && limits.ca !== undefined ? { ca: limits.ca } : {}),
  };

  return new Promise<OutboundResponse>((resolvePromise, rejectPromise) => {
    let settled = false;
    let req: ClientRequest | undefined;
    const timers: NodeJS.Timeout[] = [];
    const finish = (outcome: { ok: OutboundResponse } | { error: Error }) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      limits.deadline.removeEventListener('abort', onDeadline);
      if ('ok' in outcome) resolvePromise(outcome.ok);
      else rejectPromise(outcome.error);
    };
    const fail = (error: Error) => {
      finish({ error });
      req?.destroy();
    };
    const onDeadline = () => fail(new RetryableDeliveryError(`${host}: timed out after ${limits.totalTimeoutMs} ms`));
    if (limits.deadline.aborted) {
      onDeadline();
      return;
    }
    limits.deadline.addEventListener('abort', onDeadline, { once: true });

    try {
      req = (secure ? httpsRequest : httpRequest)(requestOptions, (res) => readCapped(res, limits.cap, host, finish));
    } catch (error) {
      // Node refuses a malformed request up front (e.g. a line break in a header value): retrying cannot help.
      const code = error instanceof Error && 'code' in error ? String(error.code) : 'invalid request';
      finish({ error: new PermanentDeliveryError(`${host}: request refused before sending (${code})`) });
      return;
    }
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (settled) return;
      finish({ error: new RetryableDeliveryError(`${host}: ${error.code ?? error.name}`) });
    });
    req.on('socket', (socket) => {
      if (!socket.connecting) return;
      const connectTimer = setTimeout(
        () => fail(new RetryableDeliveryError(`${host}: connect timed out after ${limits.connectTimeoutMs} ms`)),
        limits.connectTimeoutMs,
      );
      timers.push(connectTimer);
      socket.once('connect', () => clearTimeout(connectTimer));
    });
    req.end(body);
  });
}

/** Reads at most `cap` bytes of the answer, then stops reading and closes the connection (the rest is discarded). */
function readCapped(
  res: IncomingMessage,
  cap: number,
  host: string,
  finish: (outcome: { ok: OutboundResponse } | { error: Error }) => void,
): void {
  const chunks: Buffer[] = [];
  let kept = 0;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const done = () =>
    finish({ ok: { status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') } });
  res.on('data', (chunk: Buffer) => {
    const room = cap - kept;
    if (room > 0) {
      const part = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
      chunks.push(part);
      kept += part.byteLength;
    }
    if (kept >= cap) {
      done();
      res.destroy();
    }
  });
  res.on('end', done);
  res.on('error', () => finish({ error: new RetryableDeliveryError(`${host}: the answer was cut off`) }));
  res.on('aborted', () => finish({ error: new RetryableDeliveryError(`${host}: the answer was cut off`) }));
}

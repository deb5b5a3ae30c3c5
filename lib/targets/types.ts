import type * as z from 'zod';
import type { StintEvent } from '#events/schemas.ts';
import type { TargetConfig, TargetKind } from './config.ts';

/** An HTTP exchange with a target, through the outbound guard (lib/targets/outbound.ts). */
export type OutboundRequest = {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH';
  url: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
};
export type OutboundResponse = { status: number; headers: Record<string, string>; body: string };
export interface Outbound {
  /** Never throws for an HTTP status; throws RetryableDeliveryError on timeouts and connection errors and
   * PermanentDeliveryError for a refused destination (scheme, private address). */
  send(request: OutboundRequest): Promise<OutboundResponse>;
}

/** Where ITSM kinds remember the ticket of a request (stored on the request item). */
export interface TicketStore {
  get(requestId: string, target: string): Promise<string | undefined>;
  put(requestId: string, target: string, key: string): Promise<void>;
}

export type DeliveryContext = {
  target: TargetConfig;
  /** The resolved secretRef (token, API key, JSON…, per kind). Never log it. */
  secret: string;
  http: Outbound;
  tickets: TicketStore;
  now: () => Date;
};

export interface TargetDriver {
  readonly kind: TargetKind;
  /** Validates `target.options` at synth and at cold start. */
  readonly optionsSchema: z.ZodType;
  /** Most events one deliver() call takes (the vendor's batching limit). */
  readonly maxBatch: number;
  /**
   * Delivers the events (already filtered by the rule), in order. Idempotent per event id where the vendor
   * allows it. Throws RetryableDeliveryError (timeouts, 429, 5xx) or PermanentDeliveryError (other 4xx).
   */
  deliver(events: StintEvent[], ctx: DeliveryContext): Promise<void>;
  /** Checks what the options schema alone cannot (e.g. the endpoint against the options); throws ValidationError. */
  checkTarget?(target: TargetConfig): void;
}

/** Try again later: a timeout, a connection error, 429 or 5xx. */
export class RetryableDeliveryError extends Error {
  override readonly name = 'RetryableDeliveryError';
  constructor(
    message: string,
    readonly status?: number,
    readonly answer?: string,
  ) {
    super(message);
  }
}

/** Retrying cannot help (400, 401, 403, 404…): the event goes to the target's DLQ with the answer. */
export class PermanentDeliveryError extends Error {
  override readonly name = 'PermanentDeliveryError';
  constructor(
    message: string,
    readonly status?: number,
    readonly answer?: string,
  ) {
    super(message);
  }
}

/** Classifies a vendor answer: 2xx passes, 429/5xx retry, anything else is permanent. */
export function expectSuccess(response: OutboundResponse, what: string): OutboundResponse {
  if (response.status >= 200 && response.status < 300) return response;
  const answer = response.body.slice(0, 2000);
  if (response.status === 429 || response.status >= 500 || response.status === 408) {
    throw new RetryableDeliveryError(`${what}: HTTP ${response.status}`, response.status, answer);
  }
  throw new PermanentDeliveryError(`${what}: HTTP ${response.status}`, response.status, answer);
}

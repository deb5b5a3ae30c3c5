import type { StintEvent } from '#events/schemas.ts';
import { toOcsf } from './ocsf.ts';
import { PermanentDeliveryError } from './types.ts';

/**
 * What SIEM kinds send, in one place: an event as Stint's JSON or OCSF (lib/targets/ocsf.ts), and vendor-sized
 * batches of serialized events.
 */
export type EventFormatter = (event: StintEvent, format: 'stint' | 'ocsf') => Record<string, unknown>;

/** The target's format: Stint's event JSON (default) or OCSF User Access Management (class 3005). */
export const stintFormat: EventFormatter = (event, format) => (format === 'ocsf' ? toOcsf(event) : event);

export const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/**
 * Splits serialized entries into batches that respect a vendor's limits: at most `maxCount` entries and at
 * most `maxBytes` for the whole request, where a request costs `overhead` bytes plus each entry plus
 * `separator` bytes between entries. Order is kept. An entry that can never fit refuses the delivery
 * (PermanentDeliveryError naming the event), since retrying cannot make it smaller.
 */
export function sizeBatches<T extends { id: string; text: string }>(
  entries: T[],
  limits: { maxCount: number; maxBytes: number; overhead: number; separator: number; what: string },
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let size = limits.overhead;
  for (const entry of entries) {
    const bytes = utf8Bytes(entry.text);
    if (limits.overhead + bytes > limits.maxBytes) {
      throw new PermanentDeliveryError(
        `event ${entry.id} is ${bytes} bytes serialized, over the ${limits.maxBytes}-byte ${limits.what}`,
      );
    }
    const added = bytes + (current.length === 0 ? 0 : limits.separator);
    if (current.length > 0 && (current.length >= limits.maxCount || size + added > limits.maxBytes)) {
      batches.push(current);
      current = [];
      size = limits.overhead;
      size += bytes;
    } else {
      size += added;
    }
    current.push(entry);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

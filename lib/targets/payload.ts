import type { StintEvent } from '#events/schemas.ts';
import type { TargetConfig } from './config.ts';
import { toOcsf } from './ocsf.ts';

/**
 * What a SIEM kind sends for one event: Stint's own event JSON (format `stint`, the default) or its OCSF form.
 * The OCSF mapping (lib/targets/ocsf.ts) is wired here, in one place, for every SIEM kind.
 */
export function eventPayload(event: StintEvent, format: TargetConfig['format']): unknown {
  return format === 'ocsf' ? toOcsf(event) : event;
}

/**
 * Splits serialized records into request bodies of at most `maxCount` records and `maxBytes` bytes (UTF-8), in
 * order. A record larger than `maxBytes` on its own travels alone (the vendor then answers for it).
 */
export function batchBySize(records: string[], maxBytes: number, maxCount: number, separator = ''): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let size = 0;
  const sepBytes = Buffer.byteLength(separator);
  for (const record of records) {
    const bytes = Buffer.byteLength(record);
    const added = current.length === 0 ? bytes : bytes + sepBytes;
    if (current.length > 0 && (current.length >= maxCount || size + added > maxBytes)) {
      batches.push(current);
      current = [];
      size = 0;
    }
    size += current.length === 0 ? bytes : bytes + sepBytes;
    current.push(record);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

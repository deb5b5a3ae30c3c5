import { nextEscalationAt } from '#lib/domain/escalation.ts';
import { type AccessRequest, type RequestStatus, TERMINAL_STATUSES } from '#lib/domain/request.ts';

/**
 * Key design of the one table (see lib/store/README.md for the access patterns behind each key).
 * Timestamps inside sort keys are normalised to UTC `toISOString()` so that string order is time order even when
 * the domain object carries an offset (`+02:00`).
 */

/** Shards of each status partition in gsi2, so a busy status is spread over several partitions. */
export const STATUS_SHARDS = 8;

export type Key = { pk: string; sk: string };

export function sortableTime(iso: string): string {
  return new Date(iso).toISOString();
}

/** `<time>#<id>`: orders by time, ties broken by id, unique per partition. */
export function timeKey(iso: string, id: string): string {
  return `${sortableTime(iso)}#${id}`;
}

/** FNV-1a, 32 bit: a stable, well-spread shard for a request id. */
export function shardOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % STATUS_SHARDS;
}

export function isTerminal(status: RequestStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export const requestKey = (id: string): Key => ({ pk: `REQUEST#${id}`, sk: 'REQUEST' });
export const requesterPartition = (sub: string): string => `REQUESTER#${sub}`;
/** gsi2's pseudo-status of ended requests that still have a cleanup to run (sparse: only while one is pending). */
export const CLEANUP_STATUS = 'CLEANUP';
export type IndexedStatus = RequestStatus | typeof CLEANUP_STATUS;
export const statusPartition = (status: IndexedStatus, shard: number): string => `STATUS#${status}#${shard}`;
export const dayPartition = (day: string): string => `DAY#${day}`;
export const approverPartition = (approverKey: string): string => `APPROVER#${approverKey}`;

/**
 * When a request in this status is due: the reconciler's ordering in gsi2. A PENDING request of an escalating flow
 * is due at its next escalation when that comes before the approval deadline.
 */
export function dueAt(request: AccessRequest): string {
  const escalation = nextEscalationAt(request);
  if (request.status === 'PENDING' && request.approvalDeadline !== undefined) {
    return escalation !== undefined && Date.parse(escalation) < Date.parse(request.approvalDeadline)
      ? escalation
      : request.approvalDeadline;
  }
  if (request.status === 'ACTIVE' && request.expiresAt !== undefined) return request.expiresAt;
  return request.lastChange.at;
}

/** Index attributes of a request item; gsi2 only while the status is non-terminal, or a cleanup is pending (sparse). */
export function requestIndexAttributes(request: AccessRequest): Record<string, string> {
  const created = timeKey(request.createdAt, request.id);
  const attributes: Record<string, string> = {
    gsi1pk: requesterPartition(request.requester.sub),
    gsi1sk: created,
    gsi3pk: dayPartition(sortableTime(request.createdAt).slice(0, 10)),
    gsi3sk: created,
  };
  if (!isTerminal(request.status)) {
    attributes.gsi2pk = statusPartition(request.status, shardOf(request.id));
    attributes.gsi2sk = timeKey(dueAt(request), request.id);
  } else {
    // An ended request whose revoke asked for later work (lib/services/workflow.ts cleanup), by the earliest due.
    const due = request.grants.flatMap((g) => (g.cleanup === undefined ? [] : [g.cleanup.dueAt])).sort()[0];
    if (due !== undefined) {
      attributes.gsi2pk = statusPartition(CLEANUP_STATUS, shardOf(request.id));
      attributes.gsi2sk = timeKey(due, request.id);
    }
  }
  return attributes;
}

export const userApproverKey = (sub: string): string => `user:${sub}`;
export const groupApproverKey = (group: string): string => `group:${group}`;

export type ConfigEntity = 'flow' | 'integration' | 'bundle';

export const configKey = (entity: ConfigEntity, id: string): Key => ({
  pk: `${entity.toUpperCase()}#${id}`,
  sk: entity.toUpperCase(),
});
/** gsi1 partition listing every live item of one configuration kind, sorted by id. */
export const configListPartition = (entity: ConfigEntity): string => `${entity.toUpperCase()}S`;

/**
 * A free-form component of a key, URI-encoded so `#` cannot collide. It never throws: `encodeURIComponent` throws
 * `URIError` on a lone UTF-16 surrogate, so those become U+FFFD first. Validated input is well-formed (lib/domain/
 * text.ts), so its encoding, and every key already in a table, is exactly `encodeURIComponent(value)`.
 */
export function keyPart(value: string): string {
  return encodeURIComponent(value.toWellFormed());
}

/** One lease per driver lease key (lib/integrations/types.ts leaseKeys); URI-encoded so `#` cannot collide. */
export function leaseKey(key: string): Key {
  return { pk: `LEASE#${keyPart(key)}`, sk: 'LEASE' };
}

/** A request status as a badge whose colour is never the only signal (the text says it). */
export function StatusBadge(props: { status: string }) {
  return <span className={`badge badge-${props.status.toLowerCase()}`}>{props.status.replace('_', ' ')}</span>;
}

/** Statuses where something is still happening: pages poll these with backoff. */
export const IN_FLIGHT = new Set(['PENDING', 'APPROVED', 'GRANTING', 'REVOKING']);

/** Poll interval for a query whose data is in flight: 1 s, 2 s, 4 s … up to 15 s, and none once settled. */
export function backoff(inFlight: boolean, attempt: number): number | false {
  if (!inFlight) return false;
  return Math.min(15_000, 1_000 * 2 ** Math.min(attempt, 4));
}

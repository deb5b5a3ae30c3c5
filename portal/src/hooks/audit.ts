import { useInfiniteQuery } from '@tanstack/react-query';
import { type Ok, unwrap } from '../api/client.ts';
import { useApi } from '../app-context.tsx';

export type AuditRequest = Ok<'list-requests'>['items'][number];
export type Status = AuditRequest['status'];

/** Every status, complete by type: a status the API adds fails the type-check here until it is listed. */
const EVERY_STATUS: Record<Status, null> = {
  PENDING: null,
  APPROVED: null,
  REJECTED: null,
  CANCELLED: null,
  TIMED_OUT: null,
  GRANTING: null,
  ACTIVE: null,
  FAILED: null,
  REVOKING: null,
  REVOKED: null,
  EXPIRED: null,
  REVOKE_FAILED: null,
};
export const STATUSES = Object.keys(EVERY_STATUS) as Status[];

/** GET /requests?scope=all (auditors and admins), filtered by status on the server, one page per `cursor`. */
export function useAllRequests(status: Status | undefined) {
  const api = useApi();
  return useInfiniteQuery({
    queryKey: ['audit', status ?? 'any'],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET('/requests', {
          params: {
            query: {
              scope: 'all',
              limit: 100,
              ...(status === undefined ? {} : { status }),
              ...(pageParam === undefined ? {} : { cursor: pageParam }),
            },
          },
        }),
      ),
    getNextPageParam: (last) => last.cursor ?? undefined,
  });
}

/** What the API cannot filter on: applied to the requests loaded so far. */
export type ClientFilters = {
  flowId: string;
  /** Part of the requester's subject or email, any case. */
  requester: string;
  grantee: string;
  /** Creation time bounds (inclusive), as Date-parsable strings; empty = unbounded. */
  createdFrom: string;
  createdTo: string;
};

export const NO_FILTERS: ClientFilters = { flowId: '', requester: '', grantee: '', createdFrom: '', createdTo: '' };

function matchesPerson(person: { sub: string; email: string }, term: string): boolean {
  const t = term.trim().toLowerCase();
  return t === '' || person.sub.toLowerCase().includes(t) || person.email.toLowerCase().includes(t);
}

export function applyFilters(rows: readonly AuditRequest[], f: ClientFilters): AuditRequest[] {
  const from = f.createdFrom === '' ? undefined : new Date(f.createdFrom).getTime();
  const to = f.createdTo === '' ? undefined : new Date(f.createdTo).getTime();
  return rows.filter((r) => {
    const created = new Date(r.createdAt).getTime();
    return (
      (f.flowId === '' || r.flowId === f.flowId) &&
      matchesPerson(r.requester, f.requester) &&
      matchesPerson(r.grantee, f.grantee) &&
      (from === undefined || Number.isNaN(from) || created >= from) &&
      (to === undefined || Number.isNaN(to) || created <= to)
    );
  });
}

/** The audit table's columns, which are also the CSV's: header and the cell of each request. */
export const COLUMNS: readonly { header: string; cell: (r: AuditRequest) => string }[] = [
  { header: 'id', cell: (r) => r.id },
  { header: 'status', cell: (r) => r.status },
  { header: 'flowId', cell: (r) => r.flowId },
  { header: 'flowName', cell: (r) => r.flowName },
  { header: 'requester', cell: (r) => r.requester.email },
  { header: 'requesterSub', cell: (r) => r.requester.sub },
  { header: 'grantee', cell: (r) => r.grantee.email },
  { header: 'granteeSub', cell: (r) => r.grantee.sub },
  { header: 'units', cell: (r) => r.units.map((u) => `${u.integrationId}/${u.resource}/${u.permission}`).join('; ') },
  { header: 'bundle', cell: (r) => r.bundle ?? '' },
  { header: 'justification', cell: (r) => r.justification ?? '' },
  { header: 'durationMinutes', cell: (r) => String(r.durationMinutes) },
  {
    header: 'decision',
    cell: (r) =>
      r.decision === undefined ? '' : `${r.decision.outcome} by ${r.decision.by} via ${r.decision.channel}`,
  },
  { header: 'createdAt', cell: (r) => r.createdAt },
  { header: 'grantedAt', cell: (r) => r.grantedAt ?? '' },
  { header: 'expiresAt', cell: (r) => r.expiresAt ?? '' },
  { header: 'revokedAt', cell: (r) => r.revokedAt ?? '' },
  { header: 'endReason', cell: (r) => r.endReason ?? '' },
];

/**
 * One CSV cell (RFC 4180): quoted when it holds a quote, a comma or a line break, quotes doubled. A cell a
 * spreadsheet would run as a formula (starting with = + - @, or a tab or carriage return) gets a leading `'`.
 */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** The CSV of these requests: a header line, one line per request, CRLF line ends. */
export function toCsv(rows: readonly AuditRequest[]): string {
  const lines = [COLUMNS.map((c) => csvCell(c.header)), ...rows.map((r) => COLUMNS.map((c) => csvCell(c.cell(r))))];
  return `${lines.map((l) => l.join(',')).join('\r\n')}\r\n`;
}

/** `stint-requests-<YYYY-MM-DD>.csv` for today (UTC). */
export function csvFileName(now = new Date()): string {
  return `stint-requests-${now.toISOString().slice(0, 10)}.csv`;
}

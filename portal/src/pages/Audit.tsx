import { useState } from 'react';
import { Link } from 'wouter';
import { LoadMore } from '../components/admin.tsx';
import { ErrorAlert, Field, Loading } from '../components/form.tsx';
import { StatusBadge } from '../components/status.tsx';
import {
  applyFilters,
  type ClientFilters,
  COLUMNS,
  csvFileName,
  NO_FILTERS,
  STATUSES,
  type Status,
  toCsv,
  useAllRequests,
} from '../hooks/audit.ts';

/** Saves text as a file download (a Blob URL, nothing leaves the browser). */
function download(text: string, name: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/**
 * Audit (auditors and admins): every request, filtered by status on the server and by flow, requester, grantee
 * and creation time over the requests loaded; the table and the CSV download hold exactly the same rows and columns.
 */
export function Audit() {
  const [status, setStatus] = useState<Status | undefined>(undefined);
  const [filters, setFilters] = useState<ClientFilters>(NO_FILTERS);
  const requests = useAllRequests(status);
  const loaded = requests.data?.pages.flatMap((p) => p.items) ?? [];
  const rows = applyFilters(loaded, filters);
  const flows = [...new Map(loaded.map((r) => [r.flowId, r.flowName])).entries()].sort((a, b) =>
    a[1].localeCompare(b[1]),
  );
  const set = (patch: Partial<ClientFilters>) => setFilters((f) => ({ ...f, ...patch }));
  return (
    <section>
      <h1>Audit</h1>
      <form className="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <Field label="Status">
          {(c) => (
            <select
              {...c}
              value={status ?? ''}
              onChange={(e) => setStatus(e.target.value === '' ? undefined : (e.target.value as Status))}
            >
              <option value="">Any status</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Flow">
          {(c) => (
            <select {...c} value={filters.flowId} onChange={(e) => set({ flowId: e.target.value })}>
              <option value="">Any flow</option>
              {flows.map(([id, name]) => (
                <option key={id} value={id}>
                  {name} ({id})
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Requester" hint="Part of a user id or email.">
          {(c) => <input {...c} value={filters.requester} onChange={(e) => set({ requester: e.target.value })} />}
        </Field>
        <Field label="Grantee" hint="Part of a user id or email.">
          {(c) => <input {...c} value={filters.grantee} onChange={(e) => set({ grantee: e.target.value })} />}
        </Field>
        <Field label="Created from">
          {(c) => (
            <input
              {...c}
              type="datetime-local"
              value={filters.createdFrom}
              onChange={(e) => set({ createdFrom: e.target.value })}
            />
          )}
        </Field>
        <Field label="Created to">
          {(c) => (
            <input
              {...c}
              type="datetime-local"
              value={filters.createdTo}
              onChange={(e) => set({ createdTo: e.target.value })}
            />
          )}
        </Field>
      </form>
      {requests.isPending ? <Loading what="the requests" /> : null}
      <ErrorAlert error={requests.error} title="Could not list the requests" />
      {requests.data === undefined ? null : (
        <>
          <p role="status" className="audit-count">
            Showing {rows.length} of {loaded.length} requests loaded
            {status === undefined ? '' : ` with status ${status}`}. Filters other than status apply to the{' '}
            {loaded.length} requests loaded
            {requests.hasNextPage ? ': load more to include older ones.' : ', which are all there are.'}
          </p>
          <div className="actions">
            <button type="button" className="primary" onClick={() => download(toCsv(rows), csvFileName())}>
              Download CSV ({rows.length} rows)
            </button>
            <button type="button" onClick={() => setFilters(NO_FILTERS)}>
              Clear filters
            </button>
          </div>
          {rows.length === 0 ? (
            <p>No request matches these filters.</p>
          ) : (
            <div className="table-wrap">
              <table className="audit">
                <caption className="visually-hidden">Requests matching the filters</caption>
                <thead>
                  <tr>
                    {COLUMNS.map((c) => (
                      <th scope="col" key={c.header}>
                        {c.header}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r) => (
                    <tr key={r.id}>
                      {COLUMNS.map((c) => (
                        <td key={c.header} className={`col-${c.header}`}>
                          {c.header === 'id' ? (
                            <Link href={`/requests/${encodeURIComponent(r.id)}`}>{r.id}</Link>
                          ) : c.header === 'status' ? (
                            <StatusBadge status={r.status} />
                          ) : (
                            c.cell(r)
                          )}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <LoadMore {...requests} what="requests" />
        </>
      )}
    </section>
  );
}

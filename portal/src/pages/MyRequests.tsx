import { Link } from 'wouter';
import { ErrorAlert, Loading } from '../components/form.tsx';
import { Countdown, unitText, When } from '../components/request-parts.tsx';
import { StatusBadge } from '../components/status.tsx';
import { useRequests } from '../hooks/requests.ts';

/** Requests I made (GET /requests, scope mine), live while any is in flight. */
export function MyRequests() {
  const list = useRequests('mine');
  const items = list.data?.items ?? [];
  return (
    <section>
      <h1>My requests</h1>
      {list.isPending ? <Loading what="your requests" /> : null}
      <ErrorAlert error={list.error} title="Could not load your requests" />
      {list.data !== undefined && items.length === 0 ? (
        <p>
          You have made no request yet. <Link href="/">Request access</Link>
        </p>
      ) : null}
      {items.length === 0 ? null : (
        <div className="table-wrap">
          <table className="requests">
            <caption className="visually-hidden">Your requests, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Request</th>
                <th scope="col">Status</th>
                <th scope="col">Flow</th>
                <th scope="col">Access</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id}>
                  <td>
                    <Link href={`/requests/${r.id}`}>{r.id}</Link>
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>{r.flowName}</td>
                  <td>{r.bundle === undefined ? r.units.map(unitText).join(', ') : `bundle ${r.bundle}`}</td>
                  <td>
                    <When at={r.createdAt} />
                  </td>
                  <td>
                    {r.status === 'ACTIVE' && r.expiresAt !== undefined ? (
                      <Countdown until={r.expiresAt} onElapsed={() => void list.refetch()} />
                    ) : (
                      '—'
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

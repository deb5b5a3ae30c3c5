import { Link } from 'wouter';
import { LoadMore } from '../../components/admin.tsx';
import { ErrorAlert, Loading } from '../../components/form.tsx';
import { useAdminList } from '../../hooks/admin.ts';

/** Integrations: each with its type and how many resources it offers, linked to its editor. */
export function Integrations() {
  const list = useAdminList('integrations');
  const integrations = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section>
      <h1>Integrations</h1>
      <div className="actions">
        <Link href="/admin/integrations/new" className="button primary">
          New integration
        </Link>
      </div>
      {list.isPending ? <Loading what="the integrations" /> : null}
      <ErrorAlert error={list.error} title="Could not list the integrations" />
      {list.data === undefined ? null : integrations.length === 0 ? (
        <p>No integrations yet.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Integrations</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Id</th>
                <th scope="col">Type</th>
                <th scope="col">Resources</th>
              </tr>
            </thead>
            <tbody>
              {integrations.map((x) => (
                <tr key={x.id}>
                  <td>
                    <Link href={`/admin/integrations/${encodeURIComponent(x.id)}`}>{x.name}</Link>
                  </td>
                  <td>
                    <code>{x.id}</code>
                  </td>
                  <td>{x.type}</td>
                  <td>{x.resources.length}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore {...list} what="integrations" />
    </section>
  );
}

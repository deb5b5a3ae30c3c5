import { Link } from 'wouter';
import { LoadMore } from '../../components/admin.tsx';
import { ErrorAlert, Loading } from '../../components/form.tsx';
import { useAdminList } from '../../hooks/admin.ts';

/** Bundles: each with the access units it groups, linked to its editor. */
export function Bundles() {
  const list = useAdminList('bundles');
  const bundles = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section>
      <h1>Bundles</h1>
      <div className="actions">
        <Link href="/admin/bundles/new" className="button primary">
          New bundle
        </Link>
      </div>
      {list.isPending ? <Loading what="the bundles" /> : null}
      <ErrorAlert error={list.error} title="Could not list the bundles" />
      {list.data === undefined ? null : bundles.length === 0 ? (
        <p>No bundles yet.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Bundles</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Id</th>
                <th scope="col">Units</th>
              </tr>
            </thead>
            <tbody>
              {bundles.map((b) => (
                <tr key={b.id}>
                  <td>
                    <Link href={`/admin/bundles/${encodeURIComponent(b.id)}`}>{b.name}</Link>
                  </td>
                  <td>
                    <code>{b.id}</code>
                  </td>
                  <td>
                    <ul className="plain">
                      {b.units.map((u) => (
                        <li key={`${u.integrationId}/${u.resource}/${u.permission}`}>
                          {u.integrationId} / {u.resource} / {u.permission}
                        </li>
                      ))}
                    </ul>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore {...list} what="bundles" />
    </section>
  );
}

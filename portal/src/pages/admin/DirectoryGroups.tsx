import { Link } from 'wouter';
import { ErrorAlert, Loading } from '../../components/form.tsx';
import { useAllDirectoryGroups } from '../../hooks/admin.ts';

/** Directory groups: the names flows use for requestors and approvers, with how many members each has. */
export function DirectoryGroups() {
  const groups = useAllDirectoryGroups();
  return (
    <section>
      <h1>Directory groups</h1>
      <p>
        <Link href="/admin/directory/users">Users</Link>
      </p>
      {groups.isPending ? <Loading what="the groups" /> : null}
      <ErrorAlert error={groups.error} title="Could not list the groups" />
      {groups.data === undefined ? null : groups.data.length === 0 ? (
        <p>No groups in the directory yet.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Directory groups</caption>
            <thead>
              <tr>
                <th scope="col">Group</th>
                <th scope="col">Members</th>
              </tr>
            </thead>
            <tbody>
              {groups.data.map((g) => (
                <tr key={g.id}>
                  <td>
                    <Link href={`/admin/directory/groups/${encodeURIComponent(g.id)}`}>{g.displayName}</Link>
                  </td>
                  <td>{g.members.length}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

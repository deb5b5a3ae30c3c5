import { Link } from 'wouter';
import { ErrorAlert, Loading } from '../../components/form.tsx';
import { useDirectoryGroup } from '../../hooks/admin.ts';

/** One directory group and its members (directory user ids, each linked to the user's page). */
export function DirectoryGroup(props: { id: string }) {
  const group = useDirectoryGroup(props.id);
  return (
    <section>
      <p className="crumbs">
        <Link href="/admin/directory/groups">Groups</Link>
      </p>
      {group.isPending ? <Loading what="the group" /> : null}
      <ErrorAlert error={group.error} title={`Could not read group ${props.id}`} />
      {group.data === undefined ? null : (
        <>
          <h1>Group {group.data.displayName}</h1>
          <dl className="facts">
            <dt>Id</dt>
            <dd>{group.data.id}</dd>
            {group.data.externalId === undefined ? null : (
              <>
                <dt>External id</dt>
                <dd>{group.data.externalId}</dd>
              </>
            )}
            <dt>Last change</dt>
            <dd>
              {group.data.lastChange.action} by {group.data.lastChange.by} at {group.data.lastChange.at}
            </dd>
          </dl>
          <h2>Members ({group.data.members.length})</h2>
          {group.data.members.length === 0 ? (
            <p>No members.</p>
          ) : (
            <ul>
              {group.data.members.map((m) => (
                <li key={m}>
                  <Link href={`/admin/directory/users/${encodeURIComponent(m)}`}>{m}</Link>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}

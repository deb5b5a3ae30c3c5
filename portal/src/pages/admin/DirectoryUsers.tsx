import { useState } from 'react';
import { Link } from 'wouter';
import { LoadMore } from '../../components/admin.tsx';
import { ErrorAlert, Field, Loading } from '../../components/form.tsx';
import { type Account, useAllDirectoryGroups, useDirectoryUsers } from '../../hooks/admin.ts';

export function accountLabel(a: Account): string {
  switch (a.kind) {
    case 'slack':
      return `Slack ${a.teamId}/${a.userId}`;
    case 'teams':
      return `Teams ${a.aadObjectId}`;
    case 'jira':
      return `Jira ${a.accountId}`;
    case 'aws-identity-store':
      return `Identity Center ${a.userId}`;
  }
}

/** Directory users (provisioned by SCIM or an admin): their groups, whether active, and their linked accounts. */
export function DirectoryUsers() {
  const [typed, setTyped] = useState('');
  const [search, setSearch] = useState('');
  const users = useDirectoryUsers(search);
  const groups = useAllDirectoryGroups();
  const rows = users.data?.pages.flatMap((p) => p.items) ?? [];
  const groupsOf = (id: string) => (groups.data ?? []).filter((g) => g.members.includes(id)).map((g) => g.displayName);
  return (
    <section>
      <h1>Directory users</h1>
      <p>
        <Link href="/admin/directory/groups">Groups</Link>
      </p>
      <form
        className="search"
        aria-label="User search"
        onSubmit={(e) => {
          e.preventDefault();
          setSearch(typed);
        }}
      >
        <Field label="Find a user" hint="An exact email or user name; empty lists everyone.">
          {(c) => <input {...c} type="search" value={typed} onChange={(e) => setTyped(e.target.value)} />}
        </Field>
        <div className="actions">
          <button type="submit">Search</button>
        </div>
      </form>
      {users.isPending ? <Loading what="the users" /> : null}
      <ErrorAlert error={users.error} title="Could not list the users" />
      <ErrorAlert error={groups.error} title="Could not list the groups" />
      {users.data === undefined ? null : rows.length === 0 ? (
        <p>{search === '' ? 'No users in the directory yet.' : `No user matches ${search}.`}</p>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Directory users</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Email</th>
                <th scope="col">Groups</th>
                <th scope="col">Active</th>
                <th scope="col">Linked accounts</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((u) => (
                <tr key={u.id}>
                  <td>
                    <Link href={`/admin/directory/users/${encodeURIComponent(u.id)}`}>
                      {u.displayName ?? u.userName}
                    </Link>
                  </td>
                  <td>{u.emails[0]}</td>
                  <td>{groupsOf(u.id).join(', ') || '—'}</td>
                  <td>{u.active ? 'Yes' : 'No'}</td>
                  <td>{u.accounts.length === 0 ? '—' : u.accounts.map(accountLabel).join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore {...users} what="users" />
    </section>
  );
}

import { useState } from 'react';
import { Link } from 'wouter';
import { ProblemError } from '../../api/problem.ts';
import { exactError } from '../../components/admin.tsx';
import { ErrorAlert, Field, Loading } from '../../components/form.tsx';
import {
  type Account,
  type DirectoryUser as User,
  useAllDirectoryGroups,
  useDirectoryUser,
  useSaveAccounts,
} from '../../hooks/admin.ts';
import { accountLabel } from './DirectoryUsers.tsx';

/** One directory user: details, groups, and the form linking their Slack, Teams and Jira accounts. */
export function DirectoryUser(props: { id: string }) {
  const user = useDirectoryUser(props.id);
  const groups = useAllDirectoryGroups();
  return (
    <section>
      <p className="crumbs">
        <Link href="/admin/directory/users">Users</Link>
      </p>
      {user.isPending ? <Loading what="the user" /> : null}
      <ErrorAlert error={user.error} title={`Could not read user ${props.id}`} />
      {user.data === undefined ? null : (
        <>
          <h1>User {user.data.user.displayName ?? user.data.user.userName}</h1>
          <dl className="facts">
            <dt>Id (subject)</dt>
            <dd>{user.data.user.id}</dd>
            <dt>User name</dt>
            <dd>{user.data.user.userName}</dd>
            <dt>Emails</dt>
            <dd>{user.data.user.emails.join(', ')}</dd>
            <dt>Active</dt>
            <dd>{user.data.user.active ? 'Yes' : 'No'}</dd>
            <dt>Manager</dt>
            <dd>
              {user.data.user.manager === undefined ? (
                '—'
              ) : (
                <Link href={`/admin/directory/users/${encodeURIComponent(user.data.user.manager)}`}>
                  {user.data.user.manager}
                </Link>
              )}
            </dd>
            <dt>Groups</dt>
            <dd>
              {groups.data === undefined
                ? '…'
                : groups.data
                    .filter((g) => g.members.includes(props.id))
                    .map((g) => g.displayName)
                    .join(', ') || '—'}
            </dd>
          </dl>
          <Accounts key={user.data.user.id} user={user.data.user} etag={user.data.etag} />
        </>
      )}
    </section>
  );
}

type Linkable = { slackTeam: string; slackUser: string; teams: string; jira: string };

function linkableOf(accounts: readonly Account[]): Linkable {
  const slack = accounts.find((a) => a.kind === 'slack');
  const teams = accounts.find((a) => a.kind === 'teams');
  const jira = accounts.find((a) => a.kind === 'jira');
  return {
    slackTeam: slack?.teamId ?? '',
    slackUser: slack?.userId ?? '',
    teams: teams?.aadObjectId ?? '',
    jira: jira?.accountId ?? '',
  };
}

/**
 * The accounts form: the first Slack, Teams and Jira account are editable (empty = not linked); any other account
 * (an Identity Center user, a second workspace) is kept as it is. The save is the complete list, If-Match the
 * version read.
 */
function Accounts(props: { user: User; etag: string | undefined }) {
  const save = useSaveAccounts(props.user.id);
  const [form, setForm] = useState<Linkable>(() => linkableOf(props.user.accounts));
  const [saved, setSaved] = useState(false);
  const kept = (() => {
    const seen = new Set<string>();
    return props.user.accounts.filter((a) => {
      if (a.kind === 'aws-identity-store' || seen.has(a.kind)) return true;
      seen.add(a.kind);
      return false;
    });
  })();
  const accounts: Account[] = [];
  const index: Partial<Record<'slack' | 'teams' | 'jira', number>> = {};
  if (form.slackTeam.trim() !== '' || form.slackUser.trim() !== '') {
    index.slack = accounts.length;
    accounts.push({ kind: 'slack', teamId: form.slackTeam.trim(), userId: form.slackUser.trim() });
  }
  if (form.teams.trim() !== '') {
    index.teams = accounts.length;
    accounts.push({ kind: 'teams', aadObjectId: form.teams.trim() });
  }
  if (form.jira.trim() !== '') {
    index.jira = accounts.length;
    accounts.push({ kind: 'jira', accountId: form.jira.trim() });
  }
  const error = save.error;
  const at = (kind: 'slack' | 'teams' | 'jira', field: string) =>
    index[kind] === undefined ? undefined : exactError(error, `accounts.${index[kind]}.${field}`);
  const stale = error instanceof ProblemError && error.status === 412;
  const set = (patch: Partial<Linkable>) => {
    setSaved(false);
    setForm((f) => ({ ...f, ...patch }));
  };
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate({ accounts: [...accounts, ...kept], etag: props.etag }, { onSuccess: () => setSaved(true) });
      }}
    >
      <h2>Linked accounts</h2>
      <p className="hint">
        Stint maps a Slack, Teams or Jira user to this person through these ids before it accepts their approval.
      </p>
      {saved ? (
        <div className="alert alert-ok" role="status">
          Saved the linked accounts.
        </div>
      ) : null}
      {stale ? (
        <div className="alert alert-warning" role="alert">
          <strong>Someone else changed this user since you opened it.</strong> Nothing was saved; reload the page to see
          their change.
        </div>
      ) : (
        <ErrorAlert error={error} title="The accounts were not saved" />
      )}
      <fieldset>
        <legend>Slack</legend>
        <Field label="Slack workspace (team) id" hint="T…" error={at('slack', 'teamId')}>
          {(c) => <input {...c} value={form.slackTeam} onChange={(e) => set({ slackTeam: e.target.value })} />}
        </Field>
        <Field label="Slack user id" hint="U… or W…" error={at('slack', 'userId')}>
          {(c) => <input {...c} value={form.slackUser} onChange={(e) => set({ slackUser: e.target.value })} />}
        </Field>
      </fieldset>
      <fieldset>
        <legend>Microsoft Teams</legend>
        <Field label="Entra ID object id" hint="A GUID." error={at('teams', 'aadObjectId')}>
          {(c) => <input {...c} value={form.teams} onChange={(e) => set({ teams: e.target.value })} />}
        </Field>
      </fieldset>
      <fieldset>
        <legend>Jira</legend>
        <Field label="Atlassian account id" error={at('jira', 'accountId')}>
          {(c) => <input {...c} value={form.jira} onChange={(e) => set({ jira: e.target.value })} />}
        </Field>
      </fieldset>
      {kept.length === 0 ? null : (
        <p className="hint">Also linked, kept as they are: {kept.map(accountLabel).join(', ')}.</p>
      )}
      <div className="actions">
        <button type="submit" className="primary" disabled={save.isPending}>
          {save.isPending ? 'Saving…' : 'Save linked accounts'}
        </button>
      </div>
    </form>
  );
}

import { type FormEvent, useState } from 'react';
import { useApp } from '../app-context.tsx';
import { ErrorAlert, Field } from '../components/form.tsx';

/** Local runtime: a form that mints a token from the runtime's own issuer. In AWS: the issuer's sign-in page. */
export function SignIn() {
  const { auth, setSession } = useApp();
  const [sub, setSub] = useState('');
  const [email, setEmail] = useState('');
  const [groups, setGroups] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  if (auth.kind === 'oidc') {
    return (
      <section className="sign-in">
        <h1>Sign in to Stint</h1>
        <p>You sign in with your organisation's account.</p>
        <button type="button" className="primary" onClick={() => void auth.signIn()}>
          Sign in
        </button>
      </section>
    );
  }

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const list = groups
        .split('\n')
        .map((g) => g.trim())
        .filter((g) => g !== '');
      setSession(await auth.signIn({ sub: sub.trim(), email: email.trim(), groups: list }));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="sign-in">
      <h1>Sign in to Stint</h1>
      <div className="alert alert-warning" role="note">
        <strong>Local runtime only.</strong> Anyone can sign in as anyone here: the local runtime mints a token for
        whatever you type. A deployed Stint signs you in with your organisation's identity provider.
      </div>
      <form onSubmit={(e) => void submit(e)}>
        <Field label="User id">
          {(c) => <input {...c} name="sub" required value={sub} onChange={(e) => setSub(e.target.value)} />}
        </Field>
        <Field label="Email">
          {(c) => (
            <input {...c} name="email" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          )}
        </Field>
        <Field label="Groups" hint="One group name per line (names may contain spaces and commas).">
          {(c) => <textarea {...c} name="groups" rows={3} value={groups} onChange={(e) => setGroups(e.target.value)} />}
        </Field>
        <ErrorAlert error={error} title="Could not sign in" />
        <button type="submit" className="primary" disabled={busy}>
          Sign in (local)
        </button>
      </form>
    </section>
  );
}

import { type ReactNode, useEffect, useRef, useState } from 'react';
import { unwrap } from '../api/client.ts';
import { useApi } from '../app-context.tsx';
import { ErrorAlert } from './form.tsx';
import { record, text, unitText } from './request-parts.tsx';

/**
 * The grantee's credentials (GET /requests/{id}/access), fetched only when asked for and held only in this
 * component's state: never in the query cache, the URL or storage. "Hide", leaving the page, or the grant
 * leaving ACTIVE (the parent stops rendering this) drops them.
 */
export function Credentials(props: { requestId: string }) {
  const api = useApi();
  const [access, setAccess] = useState<Record<string, unknown> | undefined>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const live = useRef(true);
  useEffect(() => {
    live.current = true;
    return () => {
      live.current = false;
    };
  }, []);

  const reveal = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const answer = unwrap(await api.GET('/requests/{id}/access', { params: { path: { id: props.requestId } } }));
      if (live.current) setAccess(answer as Record<string, unknown>);
    } catch (e) {
      if (live.current) setError(e);
    } finally {
      if (live.current) setBusy(false);
    }
  };

  if (access === undefined) {
    return (
      <section aria-labelledby="credentials-heading">
        <h2 id="credentials-heading">Credentials</h2>
        <p className="hint">Shown only to you, only while the grant is active, and only when you ask.</p>
        <ErrorAlert error={error} title="Could not read the credentials" />
        <button type="button" className="primary" disabled={busy} onClick={() => void reveal()}>
          {busy ? 'Reading…' : 'Reveal credentials'}
        </button>
      </section>
    );
  }

  const units = Array.isArray(access.units) ? access.units.map(record).filter((u) => u !== undefined) : [access];
  return (
    <section aria-labelledby="credentials-heading" className="credentials">
      <h2 id="credentials-heading">Credentials</h2>
      {units.map((unit) => (
        <UnitCredentials
          key={[unit.integrationId, unit.resource, unit.permission].map((v) => text(v) ?? '').join('/')}
          unit={unit}
          several={units.length > 1}
        />
      ))}
      <div className="actions">
        <button type="button" onClick={() => setAccess(undefined)}>
          Hide credentials
        </button>
      </div>
    </section>
  );
}

type Row = { label: string; value: string; secret?: boolean };

/** Rows, ready commands and links for one unit, by its access kind. */
function describe(unit: Record<string, unknown>): { rows: Row[]; commands: Row[]; links: Row[]; note?: ReactNode } {
  const kind = text(unit.kind) ?? (text(unit.host) !== undefined ? 'database' : 'custom');
  const value = (v: unknown) => (typeof v === 'number' ? String(v) : text(v));
  const rows: Row[] = [];
  const add = (label: string, v: unknown, secret = false) => {
    const s = value(v);
    if (s !== undefined) rows.push({ label, value: s, secret });
  };
  const commands: Row[] = [];
  const links: Row[] = [];
  if (kind === 'database') {
    const engine = text(unit.engine) ?? 'postgresql';
    add('Host', unit.host);
    add('Port', unit.port);
    add('Database', unit.database);
    add('Username', unit.username);
    add('Password', unit.password, true);
    const host = value(unit.host) ?? '';
    const port = value(unit.port) ?? '';
    const user = value(unit.username) ?? '';
    const db = value(unit.database);
    if (engine === 'postgresql') {
      const dbname = db === undefined ? '' : ` dbname=${db}`;
      commands.push({ label: 'psql command', value: `psql "host=${host} port=${port}${dbname} user=${user}"` });
      return {
        rows,
        commands,
        links,
        note: (
          <>
            psql asks for the password. To skip the prompt, run <code>read -rs PGPASSWORD && export PGPASSWORD</code>{' '}
            first and paste the password: it stays out of your shell history and the process list.
          </>
        ),
      };
    }
    if (engine === 'mysql') {
      commands.push({
        label: 'mysql command',
        value: `mysql --host=${host} --port=${port} --user=${user} --password${db === undefined ? '' : ` ${db}`}`,
      });
      return { rows, commands, links, note: 'mysql asks for the password.' };
    }
    commands.push({ label: 'redis-cli command', value: `redis-cli -h ${host} -p ${port} --user ${user} --askpass` });
    return { rows, commands, links, note: 'redis-cli asks for the password.' };
  }
  if (kind === 'aws-account') {
    add('Account', unit.accountId);
    add('Permission set', unit.permissionSet);
    const portal = text(unit.portalUrl);
    if (portal !== undefined) links.push({ label: 'Open the AWS access portal', value: portal });
    return { rows, commands, links, note: 'Sign in through the AWS access portal and pick this account and role.' };
  }
  if (kind === 'aws-role') {
    add('Role', unit.roleArn);
    add('Region', unit.region);
    const c = record(unit.credentials);
    if (c !== undefined) {
      add('Access key id', c.accessKeyId, true);
      add('Secret access key', c.secretAccessKey, true);
      add('Session token', c.sessionToken, true);
      add('Credentials expire', c.expiration ?? c.expiresAt);
      const region = value(c.region) ?? value(unit.region);
      commands.push({
        label: 'Shell exports',
        value: [
          `export AWS_ACCESS_KEY_ID=${value(c.accessKeyId) ?? ''}`,
          `AWS_SECRET_ACCESS_KEY=${value(c.secretAccessKey) ?? ''}`,
          `AWS_SESSION_TOKEN=${value(c.sessionToken) ?? ''}`,
          ...(region === undefined ? [] : [`AWS_REGION=${region}`]),
        ].join(' '),
        secret: true,
      });
      const consoleUrl = text(c.consoleUrl);
      if (consoleUrl !== undefined) links.push({ label: 'Open the AWS console', value: consoleUrl });
    }
    return { rows, commands, links };
  }
  const fields = record(unit.fields) ?? {};
  for (const [k, v] of Object.entries(fields)) add(k, v);
  add('Secret', unit.secret, true);
  return { rows, commands, links };
}

function UnitCredentials(props: { unit: Record<string, unknown>; several: boolean }) {
  const { unit } = props;
  const { rows, commands, links, note } = describe(unit);
  const resource = text(unit.resource);
  const permission = text(unit.permission);
  return (
    <div className="card">
      {props.several && resource !== undefined && permission !== undefined ? (
        <h3>
          {unitText({
            resource,
            permission,
            ...(text(unit.integrationId) ? { integrationId: text(unit.integrationId) } : {}),
          })}
        </h3>
      ) : null}
      <dl className="credential-rows">
        {rows.map((row) => (
          <div key={row.label} className="credential-row">
            <dt>{row.label}</dt>
            <dd>
              <code className={row.secret === true ? 'secret' : 'value'}>{row.value}</code>
              <CopyButton what={row.label.toLowerCase()} value={row.value} />
            </dd>
          </div>
        ))}
      </dl>
      {commands.map((c) => (
        <div key={c.label} className="command">
          <h3>{c.label}</h3>
          <pre className="secret">{c.value}</pre>
          <CopyButton what={c.label.toLowerCase()} value={c.value} />
        </div>
      ))}
      {note === undefined ? null : <p className="hint">{note}</p>}
      {links.map((l) => (
        <p key={l.label}>
          <a href={l.value} target="_blank" rel="noreferrer noopener">
            {l.label}
          </a>
        </p>
      ))}
    </div>
  );
}

/**
 * "Copy <what>": the accessible name names the value (the visible text is "Copy"), and a status beside it says
 * whether the clipboard took it.
 */
function CopyButton(props: { what: string; value: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const timer = setTimeout(() => setState('idle'), 4000);
    return () => clearTimeout(timer);
  }, [state]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.value);
      setState('copied');
    } catch {
      setState('failed');
    }
  };
  return (
    <span className="copy">
      <button type="button" onClick={() => void copy()}>
        Copy<span className="visually-hidden"> {props.what}</span>
      </button>
      <span role="status" className="copy-status">
        {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed: select the text and copy it' : ''}
      </span>
    </span>
  );
}

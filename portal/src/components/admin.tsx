import { type ReactNode, useEffect, useId, useRef, useState } from 'react';
import { Link, useLocation } from 'wouter';
import { ProblemError } from '../api/problem.ts';
import {
  bodyOf,
  type Kind,
  type Kinds,
  NOUN,
  type Precondition,
  useAdminItem,
  useAllIntegrations,
  useDeleteAdmin,
  useSaveAdmin,
} from '../hooks/admin.ts';
import { ErrorAlert, Field, fieldError, Loading } from './form.tsx';

/** The API's message for exactly this body path (not the paths under it). */
export function exactError(error: unknown, path: string): string | undefined {
  return error instanceof ProblemError ? error.forField(path) : undefined;
}

/** The API's message for this body path or any path under it (`requestors.groups.2` for `requestors.groups`). */
export function nestedError(error: unknown, path: string): string | undefined {
  return fieldError(error, path);
}

/** Splits a list typed one per line (or comma separated) into its non-empty entries. */
export function splitList(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * A list of names (groups, users, bundles) typed one per line. The text is the control's own state, so typing a
 * new line is not undone by the list it parses to; a list changed elsewhere (raw JSON, reload) replaces the text.
 */
export function ListField(props: {
  label: string;
  value: readonly string[] | undefined;
  onChange: (next: string[]) => void;
  error?: string | undefined;
  hint?: string;
}) {
  const value = props.value ?? [];
  const [text, setText] = useState(value.join('\n'));
  const joined = value.join('\n');
  if (splitList(text).join('\n') !== joined && text !== joined) setText(joined);
  return (
    <Field label={props.label} error={props.error} hint={props.hint ?? 'One per line.'}>
      {(control) => (
        <textarea
          {...control}
          rows={Math.max(2, Math.min(6, value.length + 1))}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            props.onChange(splitList(e.target.value));
          }}
        />
      )}
    </Field>
  );
}

/** A number input whose empty state is `undefined` (left out of the body, so the API names it as missing). */
export function NumberField(props: {
  label: string;
  value: number | undefined;
  onChange: (next: number | undefined) => void;
  error?: string | undefined;
  hint?: string;
  min?: number;
}) {
  return (
    <Field label={props.label} error={props.error} {...(props.hint === undefined ? {} : { hint: props.hint })}>
      {(control) => (
        <input
          {...control}
          type="number"
          inputMode="numeric"
          min={props.min ?? 0}
          value={props.value === undefined || Number.isNaN(props.value) ? '' : props.value}
          onChange={(e) => props.onChange(e.target.value === '' ? undefined : Number(e.target.value))}
        />
      )}
    </Field>
  );
}

/** A checkbox with its label beside it and the API's message for it under it. */
export function Checkbox(props: {
  label: string;
  checked: boolean;
  onChange: (next: boolean) => void;
  error?: string | undefined;
}) {
  const id = useId();
  return (
    <div className="field field-check">
      <input
        id={id}
        type="checkbox"
        checked={props.checked}
        aria-invalid={props.error !== undefined}
        aria-describedby={props.error === undefined ? undefined : `${id}-error`}
        onChange={(e) => props.onChange(e.target.checked)}
      />
      <label htmlFor={id}>{props.label}</label>
      {props.error === undefined ? null : (
        <p className="field-error" id={`${id}-error`}>
          {props.error}
        </p>
      )}
    </div>
  );
}

/**
 * A JSON value edited as text (integration config, resources). The value changes only when the text parses; until
 * then the field says what is wrong and `onValidity` tells the editor not to save.
 */
export function JsonField(props: {
  label: string;
  value: unknown;
  onChange: (next: unknown) => void;
  onValidity: (valid: boolean) => void;
  error?: string | undefined;
  hint?: string;
}) {
  const shown = JSON.stringify(props.value ?? null, null, 2);
  const [text, setText] = useState(shown);
  const [invalid, setInvalid] = useState<string | undefined>(undefined);
  const last = useRef(shown);
  if (last.current !== shown) {
    // The value changed from outside (raw JSON view, reload): show it.
    last.current = shown;
    if (invalid === undefined) setText(shown);
  }
  return (
    <Field
      label={props.label}
      error={invalid ?? props.error}
      {...(props.hint === undefined ? {} : { hint: props.hint })}
    >
      {(control) => (
        <textarea
          {...control}
          className="code"
          rows={8}
          spellCheck={false}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            const parsed = parseJson(e.target.value);
            if ('error' in parsed) {
              setInvalid(parsed.error);
              props.onValidity(false);
            } else {
              setInvalid(undefined);
              props.onValidity(true);
              last.current = JSON.stringify(parsed.value ?? null, null, 2);
              props.onChange(parsed.value);
            }
          }}
        />
      )}
    </Field>
  );
}

export function parseJson(text: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (e) {
    return { error: `Not valid JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
}

type Unit = { integrationId: string; resource: string; permission: string };

/**
 * Rows of access units (integration, resource, permission) with add and remove; the integrations' ids, resources
 * and permissions are offered as suggestions. Errors are read at `<path>.<i>.<field>`.
 */
export function UnitRows(props: {
  legend: string;
  noun: string;
  path: string;
  units: readonly Unit[];
  onChange: (next: Unit[]) => void;
  error: unknown;
}) {
  const integrations = useAllIntegrations();
  const listId = useId();
  const set = (i: number, patch: Partial<Unit>) =>
    props.onChange(props.units.map((u, j) => (j === i ? { ...u, ...patch } : u)));
  const whole = exactError(props.error, props.path);
  return (
    <fieldset className="rows">
      <legend>{props.legend}</legend>
      {whole === undefined ? null : (
        <p className="field-error" role="alert">
          {whole}
        </p>
      )}
      {props.units.length === 0 ? <p className="hint">None yet.</p> : null}
      {props.units.map((unit, i) => {
        const integration = integrations.data?.find((x) => x.id === unit.integrationId);
        const resource = integration?.resources.find((r) => r.id === unit.resource);
        const at = (f: string) => exactError(props.error, `${props.path}.${i}.${f}`);
        const n = i + 1;
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: rows have no identity but their position
          <fieldset className="row" key={i}>
            <legend>
              {props.noun} {n}
            </legend>
            <Field label="Integration" error={at('integrationId')}>
              {(c) => (
                <input
                  {...c}
                  list={`${listId}-integrations`}
                  value={unit.integrationId}
                  onChange={(e) => set(i, { integrationId: e.target.value.trim() })}
                />
              )}
            </Field>
            <Field label="Resource" error={at('resource')}>
              {(c) => (
                <input
                  {...c}
                  list={`${listId}-resources-${i}`}
                  value={unit.resource}
                  onChange={(e) => set(i, { resource: e.target.value.trim() })}
                />
              )}
            </Field>
            <Field label="Permission" error={at('permission')}>
              {(c) => (
                <input
                  {...c}
                  list={`${listId}-permissions-${i}`}
                  value={unit.permission}
                  onChange={(e) => set(i, { permission: e.target.value.trim() })}
                />
              )}
            </Field>
            <datalist id={`${listId}-resources-${i}`}>
              {integration?.resources.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.description ?? r.id}
                </option>
              ))}
            </datalist>
            <datalist id={`${listId}-permissions-${i}`}>
              {resource?.permissions.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.description ?? p.id}
                </option>
              ))}
            </datalist>
            <button type="button" onClick={() => props.onChange(props.units.filter((_, j) => j !== i))}>
              Remove {props.noun.toLowerCase()} {n}
            </button>
          </fieldset>
        );
      })}
      <datalist id={`${listId}-integrations`}>
        {integrations.data?.map((x) => (
          <option key={x.id} value={x.id}>
            {x.name}
          </option>
        ))}
      </datalist>
      <button
        type="button"
        onClick={() => props.onChange([...props.units, { integrationId: '', resource: '', permission: '' }])}
      >
        Add {props.noun.toLowerCase()}
      </button>
    </fieldset>
  );
}

/** The name and description every flow and bundle has (an empty description is left out of the body). */
export function NameFields(props: {
  draft: { name?: string | undefined; description?: string | undefined };
  set: (patch: { name?: string; description?: string | undefined }) => void;
  error: unknown;
}) {
  return (
    <>
      <Field label="Name" error={exactError(props.error, 'name')}>
        {(c) => <input {...c} value={props.draft.name ?? ''} onChange={(e) => props.set({ name: e.target.value })} />}
      </Field>
      <Field label="Description" error={exactError(props.error, 'description')}>
        {(c) => (
          <textarea
            {...c}
            rows={2}
            value={props.draft.description ?? ''}
            onChange={(e) => props.set({ description: e.target.value === '' ? undefined : e.target.value })}
          />
        )}
      </Field>
    </>
  );
}

/** Items created by this tab: the editor they land on says so once. */
const justCreated = new Set<string>();

/** What an editor's form part gets: the body being edited, a way to change it, and the last save's error. */
export type FormProps<B> = {
  draft: B;
  update: (change: (draft: B) => B) => void;
  error: unknown;
  /** A field of the form holds text that cannot be saved yet (invalid JSON). */
  setBlocked: (what: string, blocked: boolean) => void;
};

/**
 * One editor for a flow, an integration or a bundle: the form (given by the page) and a raw JSON view of the whole
 * body, switching either way with the edits kept; save is a PUT conditioned on the ETag of the version opened
 * (`If-None-Match: *` for a new item), so a change someone made meanwhile is refused and offered for reload, never
 * overwritten; delete asks for confirmation and is conditioned the same way. Field errors from the API's
 * problem+json appear on the form's fields; in the raw view, all of them above the text.
 */
export function AdminEditor<K extends Kind>(props: {
  kind: K;
  id: string;
  empty: Kinds[K]['body'];
  /** JSON paths (and their sub-paths) the form shows next to a field; other messages are listed at the top. */
  formPaths: readonly string[];
  title: (draft: Kinds[K]['body']) => string;
  children: (form: FormProps<Kinds[K]['body']>) => ReactNode;
}) {
  const { kind, id } = props;
  const noun = NOUN[kind];
  const isNew = id === 'new';
  const [, navigate] = useLocation();
  const query = useAdminItem(kind, id);
  const save = useSaveAdmin(kind);
  const remove = useDeleteAdmin(kind);
  const [draft, setDraft] = useState<Kinds[K]['body'] | undefined>(isNew ? props.empty : undefined);
  const [etag, setEtag] = useState<string | undefined>(undefined);
  const [newId, setNewId] = useState('');
  const [newIdError, setNewIdError] = useState<string | undefined>(undefined);
  const [mode, setMode] = useState<'form' | 'raw'>('form');
  const [raw, setRaw] = useState('');
  const [rawError, setRawError] = useState<string | undefined>(undefined);
  const [blocked, setBlockedState] = useState<Record<string, boolean>>({});
  const [notice, setNotice] = useState<string | undefined>(() => {
    if (!justCreated.delete(`${kind}/${id}`)) return undefined;
    return `Created ${noun} ${id}.`;
  });
  const [confirming, setConfirming] = useState(false);
  const [formError, setFormError] = useState<string | undefined>(undefined);

  // The version edited is the one read when the editor opened (not an older copy from the cache).
  if (!isNew && draft === undefined && query.data !== undefined && query.isFetchedAfterMount) {
    setDraft(bodyOf<K>(query.data.item));
    setEtag(query.data.etag);
  }

  if (!isNew && query.isPending) return <Loading what={`the ${noun}`} />;
  if (!isNew && query.error !== null) {
    return (
      <section>
        <h1>
          {capital(noun)} {id}
        </h1>
        <ErrorAlert error={query.error} title={`Could not read ${noun} ${id}`} />
        <p>
          <Link href={`/admin/${kind}`}>Back to the {noun}s</Link>
        </p>
      </section>
    );
  }
  if (draft === undefined) return <Loading what={`the ${noun}`} />;

  const error = save.error ?? remove.error;
  const stale = error instanceof ProblemError && error.status === 412;
  const problem = error instanceof ProblemError ? error : undefined;
  const fieldMessages = problem === undefined || stale ? [] : Object.entries(problem.fields);
  const unplaced =
    mode === 'raw'
      ? fieldMessages
      : fieldMessages.filter(([path]) => !props.formPaths.some((p) => path === p || path.startsWith(`${p}.`)));

  const update = (change: (d: Kinds[K]['body']) => Kinds[K]['body']) => {
    setNotice(undefined);
    setDraft((d) => (d === undefined ? d : change(d)));
  };

  const toRaw = () => {
    setRaw(JSON.stringify(draft, null, 2));
    setRawError(undefined);
    setMode('raw');
  };
  const toForm = () => {
    const parsed = parseRaw(raw);
    if ('error' in parsed) {
      setRawError(parsed.error);
      return;
    }
    setDraft(parsed.value as Kinds[K]['body']);
    setRawError(undefined);
    setMode('form');
  };

  const reload = async () => {
    save.reset();
    remove.reset();
    const fresh = await query.refetch();
    if (fresh.data === undefined) return;
    const body = bodyOf<K>(fresh.data.item);
    setDraft(body);
    setEtag(fresh.data.etag);
    setRaw(JSON.stringify(body, null, 2));
    setRawError(undefined);
    setNotice(`Reloaded: this is ${noun} ${id} as it is now (version ${fresh.data.item.version}).`);
  };

  const onSave = () => {
    setNotice(undefined);
    let body = draft;
    if (mode === 'raw') {
      const parsed = parseRaw(raw);
      if ('error' in parsed) {
        setRawError(parsed.error);
        return;
      }
      body = parsed.value as Kinds[K]['body'];
      setDraft(body);
      setRawError(undefined);
    }
    if (mode === 'form' && Object.values(blocked).some(Boolean)) {
      setFormError('Not saved: a field holds text that is not valid JSON (marked below).');
      return;
    }
    setFormError(undefined);
    const target = isNew ? newId.trim() : id;
    if (isNew && target === '') {
      setNewIdError('An id is required.');
      return;
    }
    setNewIdError(undefined);
    const pre: Precondition | undefined = isNew ? { create: true } : etag === undefined ? undefined : { ifMatch: etag };
    save.mutate(
      { id: target, body, pre },
      {
        onSuccess: (saved) => {
          if (isNew) {
            justCreated.add(`${kind}/${target}`);
            navigate(`/admin/${kind}/${encodeURIComponent(target)}`);
            return;
          }
          const next = bodyOf<K>(saved.item);
          setDraft(next);
          setEtag(saved.etag);
          if (mode === 'raw') setRaw(JSON.stringify(next, null, 2));
          setNotice(`Saved ${noun} ${id} (version ${saved.item.version}).`);
        },
      },
    );
  };

  const onDelete = () => {
    remove.mutate(
      { id, etag },
      {
        onSuccess: () => {
          setConfirming(false);
          navigate(`/admin/${kind}`);
        },
        onError: () => setConfirming(false),
      },
    );
  };

  const heading = isNew ? `New ${noun}` : `${capital(noun)} ${props.title(draft)}`;
  return (
    <section className="editor">
      <p className="crumbs">
        <Link href={`/admin/${kind}`}>{capital(noun)}s</Link>
      </p>
      <h1>{heading}</h1>
      {isNew ? null : (
        <p className="hint">
          Id <code>{id}</code>
          {query.data === undefined ? null : <>, version {query.data.item.version}</>}
        </p>
      )}
      {notice === undefined ? null : (
        <div className="alert alert-ok" role="status">
          {notice}
        </div>
      )}
      {stale ? (
        <div className="alert alert-warning" role="alert">
          {isNew ? (
            <p>
              <strong>
                A {noun} with id {newId.trim()} already exists.
              </strong>{' '}
              Choose another id, or open the existing one from the list.
            </p>
          ) : (
            <>
              <p>
                <strong>Someone else changed this {noun} since you opened it.</strong> Nothing was saved. Reload to see
                their version, then make your change again.
              </p>
              <button type="button" className="primary" onClick={() => void reload()}>
                Reload the {noun}
              </button>
            </>
          )}
        </div>
      ) : null}
      {problem !== undefined && !stale ? (
        <div className="alert alert-error" role="alert">
          <strong>
            The {noun} was not saved{fieldMessages.length > 0 ? ': check the fields marked below' : ''}.
          </strong>{' '}
          {fieldMessages.length === 0 ? problem.message : null}
          {unplaced.length > 0 ? (
            <ul className="problems">
              {unplaced.map(([path, message]) => (
                <li key={path}>
                  <code>{path}</code>: {message}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : (
        <ErrorAlert error={error instanceof ProblemError ? undefined : error} />
      )}
      {formError === undefined ? null : (
        <div className="alert alert-error" role="alert">
          {formError}
        </div>
      )}
      <fieldset className="view-switch">
        <legend className="visually-hidden">Editor view</legend>
        <button type="button" aria-pressed={mode === 'form'} onClick={() => mode === 'raw' && toForm()}>
          Form
        </button>
        <button type="button" aria-pressed={mode === 'raw'} onClick={() => mode === 'form' && toRaw()}>
          Raw JSON
        </button>
      </fieldset>
      <form
        className="editor-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          onSave();
        }}
      >
        {isNew ? (
          <Field
            label="Id"
            hint="Lowercase letters, digits and dashes; it cannot be changed later."
            error={newIdError ?? exactError(error, 'id')}
          >
            {(c) => <input {...c} value={newId} autoComplete="off" onChange={(e) => setNewId(e.target.value)} />}
          </Field>
        ) : null}
        {mode === 'form' ? (
          props.children({
            draft,
            update,
            error,
            setBlocked: (what, b) => setBlockedState((s) => (s[what] === b ? s : { ...s, [what]: b })),
          })
        ) : (
          <Field label="Raw JSON" hint={`The whole ${noun} as the API takes it (PUT /${kind}/{id}).`} error={rawError}>
            {(c) => (
              <textarea
                {...c}
                className="code raw-json"
                rows={24}
                spellCheck={false}
                value={raw}
                onChange={(e) => setRaw(e.target.value)}
              />
            )}
          </Field>
        )}
        <div className="actions">
          <button type="submit" className="primary" disabled={save.isPending}>
            {save.isPending ? 'Saving…' : isNew ? `Create ${noun}` : `Save ${noun}`}
          </button>
          {isNew ? null : (
            <button type="button" className="danger" onClick={() => setConfirming(true)}>
              Delete {noun}
            </button>
          )}
        </div>
      </form>
      <ConfirmDialog
        open={confirming}
        title={`Delete ${noun} ${id}?`}
        confirm={`Delete ${noun}`}
        busy={remove.isPending}
        onConfirm={onDelete}
        onCancel={() => setConfirming(false)}
      >
        <p>
          It disappears from the lists and can no longer be used for new requests. Requests already made keep the
          version they were made under.
        </p>
      </ConfirmDialog>
    </section>
  );
}

function parseRaw(text: string): { value: unknown } | { error: string } {
  const parsed = parseJson(text);
  if ('error' in parsed) return parsed;
  if (typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) {
    return { error: 'The raw JSON must be an object ({ … }).' };
  }
  return parsed;
}

export function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A modal confirmation (the native <dialog>: focus is trapped inside it and Escape cancels). */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  confirm: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (props.open && !dialog.open) {
      dialog.showModal();
      // Focus starts on the safe choice: Enter right away does not delete.
      cancel.current?.focus();
    }
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onCancel={props.onCancel} className="confirm">
      <h2 id={titleId}>{props.title}</h2>
      {props.children}
      <div className="actions">
        <button type="button" className="danger" disabled={props.busy} onClick={props.onConfirm}>
          {props.confirm}
        </button>
        <button type="button" ref={cancel} onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}

/** "Load more" for a paged list: shown while the API has another page. */
export function LoadMore(props: {
  hasNextPage: boolean;
  isFetchingNextPage: boolean;
  fetchNextPage: () => unknown;
  what: string;
}) {
  if (!props.hasNextPage) return null;
  return (
    <div className="actions">
      <button type="button" disabled={props.isFetchingNextPage} onClick={() => void props.fetchNextPage()}>
        {props.isFetchingNextPage ? 'Loading…' : `Load more ${props.what}`}
      </button>
    </div>
  );
}

import { type FormEvent, useId, useState } from 'react';
import { Link, useLocation } from 'wouter';
import { ProblemError } from '../api/problem.ts';
import { ErrorAlert, Field, fieldError, Loading } from '../components/form.tsx';
import { approverSetText, minutesText, unitText } from '../components/request-parts.tsx';
import { useMe } from '../hooks/me.ts';
import { approverSetsOf, type CatalogFlow, type CreateInput, useCatalog, useCreateRequest } from '../hooks/requests.ts';

/** The form of POST /requests for one flow of the catalog. */
export function NewRequest(props: { flowId: string }) {
  const catalog = useCatalog();
  const flow = catalog.data?.flows.find((f) => f.id === props.flowId);
  return (
    <section>
      <p>
        <Link href="/">← Catalog</Link>
      </p>
      {catalog.isPending ? <Loading what="the flow" /> : null}
      <ErrorAlert error={catalog.error} title="Could not load the catalog" />
      {catalog.data !== undefined && flow === undefined ? (
        <>
          <h1>Flow not found</h1>
          <p>
            There is no flow <code>{props.flowId}</code> you may request under.
          </p>
        </>
      ) : null}
      {flow === undefined ? null : <RequestForm key={flow.id} flow={flow} />}
    </section>
  );
}

/** Fields the form shows; an API message for any other field goes into the alert. */
const FORM_FIELDS = ['durationMinutes', 'justification', 'targets', 'bundle', 'grantee'];

/** A message the API put on this path itself (not on a part of it). */
function exactly(error: unknown, path: string): string | undefined {
  return error instanceof ProblemError ? (error.forField(path) ?? error.forField(`body.${path}`)) : undefined;
}

function RequestForm({ flow }: { flow: CatalogFlow }) {
  const me = useMe();
  const create = useCreateRequest();
  const [, navigate] = useLocation();
  const [targets, setTargets] = useState<Set<number>>(() => new Set(flow.targets.length === 1 ? [0] : []));
  const [bundle, setBundle] = useState(flow.targets.length === 0 && flow.bundles.length === 1 ? flow.bundles[0] : '');
  const [minutes, setMinutes] = useState(String(flow.defaultMinutes));
  const [justification, setJustification] = useState('');
  const [granteeSub, setGranteeSub] = useState('');
  const [granteeEmail, setGranteeEmail] = useState('');
  const admin = me.data?.admin === true;
  const justificationRequired = flow.justificationRequired || flow.breakGlass;
  const targetsId = useId();
  const bundleId = useId();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const body: CreateInput = {
      flowId: flow.id,
      // Sent as typed: the API says what is wrong with it, under the field.
      durationMinutes: minutes.trim() === '' ? Number.NaN : Number(minutes),
    };
    if (justification.trim() !== '') body.justification = justification.trim();
    if (bundle !== undefined && bundle !== '') body.bundle = bundle;
    else if (flow.targets.length > 0) {
      body.targets = flow.targets
        .filter((_, i) => targets.has(i))
        .map((t) => ({ integrationId: t.integrationId, resource: t.resource, permission: t.permission }));
    }
    if (admin && (granteeSub.trim() !== '' || granteeEmail.trim() !== '')) {
      body.grantee = { sub: granteeSub.trim(), email: granteeEmail.trim() };
    }
    create.mutate(body, { onSuccess: (request) => navigate(`/requests/${request.id}`) });
  };

  const error = create.error;
  const unpinned = error !== null && !FORM_FIELDS.some((f) => fieldError(error, f) !== undefined) ? error : undefined;
  const targetsError = fieldError(error, 'targets');
  const bundleError = fieldError(error, 'bundle');

  return (
    <>
      <h1>Request: {flow.name}</h1>
      {flow.description === undefined ? null : <p>{flow.description}</p>}
      <p className="hint">
        {flow.breakGlass
          ? 'Break-glass: granted at once, without approval; the justification is required and reviewed.'
          : flow.approval.mode === 'auto'
            ? 'Self-serve: granted as soon as you ask.'
            : approverSetsOf(flow) === undefined
              ? 'Needs approval.'
              : `Needs approval from ${approverSetsOf(flow)?.map(approverSetText).join('; ')}.`}
      </p>
      <form onSubmit={submit} noValidate aria-label={`Request ${flow.name}`}>
        {flow.targets.length > 0 ? (
          <fieldset
            className="choices"
            aria-describedby={targetsError === undefined ? undefined : `${targetsId}-error`}
          >
            <legend>Targets</legend>
            {flow.targets.map((t, i) => (
              <label key={unitText(t)} className="choice">
                <input
                  type="checkbox"
                  name="targets"
                  checked={targets.has(i)}
                  disabled={bundle !== undefined && bundle !== ''}
                  onChange={(e) => {
                    const next = new Set(targets);
                    if (e.target.checked) next.add(i);
                    else next.delete(i);
                    setTargets(next);
                  }}
                />{' '}
                {unitText(t)}
              </label>
            ))}
            {targetsError === undefined ? null : (
              <p className="field-error" id={`${targetsId}-error`}>
                {targetsError}
              </p>
            )}
          </fieldset>
        ) : null}
        {flow.bundles.length > 0 ? (
          <fieldset className="choices" aria-describedby={bundleError === undefined ? undefined : `${bundleId}-error`}>
            <legend>Bundle</legend>
            {flow.targets.length > 0 ? (
              <label className="choice">
                <input type="radio" name="bundle" value="" checked={bundle === ''} onChange={() => setBundle('')} />{' '}
                None: the targets above
              </label>
            ) : null}
            {flow.bundles.map((b) => (
              <label key={b} className="choice">
                <input type="radio" name="bundle" value={b} checked={bundle === b} onChange={() => setBundle(b)} /> {b}
              </label>
            ))}
            {bundleError === undefined ? null : (
              <p className="field-error" id={`${bundleId}-error`}>
                {bundleError}
              </p>
            )}
          </fieldset>
        ) : null}
        <Field
          label="Duration (minutes)"
          hint={`Up to ${flow.maxMinutes} minutes (${minutesText(flow.maxMinutes)}).`}
          error={fieldError(error, 'durationMinutes')}
        >
          {(c) => (
            <input
              {...c}
              name="durationMinutes"
              type="number"
              inputMode="numeric"
              min={1}
              max={flow.maxMinutes}
              step={1}
              required
              value={minutes}
              onChange={(e) => setMinutes(e.target.value)}
            />
          )}
        </Field>
        <Field
          label={justificationRequired ? 'Justification (required)' : 'Justification (optional)'}
          hint="Why you need this access: a ticket, an incident, a task. Approvers and auditors read it."
          error={fieldError(error, 'justification')}
        >
          {(c) => (
            <textarea
              {...c}
              name="justification"
              rows={3}
              maxLength={2000}
              required={justificationRequired}
              value={justification}
              onChange={(e) => setJustification(e.target.value)}
            />
          )}
        </Field>
        {admin ? (
          <fieldset className="choices">
            <legend>On behalf of (administrators)</legend>
            <p className="hint">Leave empty to request for yourself.</p>
            <Field label="Grantee user id" error={fieldError(error, 'grantee.sub') ?? exactly(error, 'grantee')}>
              {(c) => (
                <input
                  {...c}
                  name="granteeSub"
                  autoComplete="off"
                  value={granteeSub}
                  onChange={(e) => setGranteeSub(e.target.value)}
                />
              )}
            </Field>
            <Field label="Grantee email" error={fieldError(error, 'grantee.email')}>
              {(c) => (
                <input
                  {...c}
                  name="granteeEmail"
                  type="email"
                  autoComplete="off"
                  value={granteeEmail}
                  onChange={(e) => setGranteeEmail(e.target.value)}
                />
              )}
            </Field>
          </fieldset>
        ) : null}
        <ErrorAlert error={unpinned} title="Could not create the request" />
        {error !== null && unpinned === undefined ? (
          <p className="field-error" role="alert">
            The request was not created: see the messages under the fields.
          </p>
        ) : null}
        <div className="actions">
          <button type="submit" className="primary" disabled={create.isPending}>
            {create.isPending ? 'Sending…' : 'Submit request'}
          </button>
          <Link href="/" className="button">
            Cancel
          </Link>
        </div>
      </form>
    </>
  );
}

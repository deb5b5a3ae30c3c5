import { type FormEvent, useState } from 'react';
import { Link } from 'wouter';
import { Credentials } from '../components/credentials.tsx';
import { ErrorAlert, Field, fieldError, Loading } from '../components/form.tsx';
import { Countdown, minutesText, personText, UnitList, When } from '../components/request-parts.tsx';
import { IN_FLIGHT, StatusBadge } from '../components/status.tsx';
import { Timeline } from '../components/timeline.tsx';
import { useMe } from '../hooks/me.ts';
import { type RequestView, useCatalogFlow, useEnd, useExtend, useRequest } from '../hooks/requests.ts';

/** What each status means for the person reading the page. */
const STATUS_TEXT: Record<string, string> = {
  PENDING: 'Waiting for approval.',
  APPROVED: 'Approved: granting access now.',
  GRANTING: 'Granting access on the target.',
  ACTIVE: 'Access is active.',
  REVOKING: 'Removing access on the target.',
  REVOKED: 'Access was revoked before its end.',
  EXPIRED: 'Access ended on time.',
  REJECTED: 'The request was rejected.',
  CANCELLED: 'The request was cancelled.',
  TIMED_OUT: 'Nobody decided in time.',
  FAILED: 'Access could not be granted.',
  REVOKE_FAILED: 'Removing access keeps failing; Stint keeps retrying and has raised an alarm.',
};

/** One request: its facts, live status, countdown, actions, credentials and timeline. */
export function RequestDetail(props: { id: string }) {
  const query = useRequest(props.id);
  const request = query.data;
  return (
    <section>
      <p>
        <Link href="/requests">← My requests</Link>
      </p>
      <h1>Request {props.id}</h1>
      {query.isPending ? <Loading what="the request" /> : null}
      <ErrorAlert error={query.error} title="Could not load the request" />
      {request === undefined ? null : <Detail request={request} refetch={() => void query.refetch()} />}
    </section>
  );
}

function Detail({ request, refetch }: { request: RequestView; refetch: () => void }) {
  const me = useMe().data;
  const flow = useCatalogFlow(request.flowId);
  const sub = me?.sub;
  const admin = me?.admin === true;
  const isRequester = sub === request.requester.sub;
  const isGrantee = sub === request.grantee.sub;
  const voted = request.votes.some((v) => v.by === sub);
  const active = request.status === 'ACTIVE';
  const extensionsLeft = flow === undefined ? undefined : flow.maxExtensions - request.extensions.length;

  return (
    <>
      <div className="status-line" role="status">
        <StatusBadge status={request.status} /> {STATUS_TEXT[request.status] ?? ''}
        {IN_FLIGHT.has(request.status) ? <span className="hint"> This page updates by itself.</span> : null}
      </div>
      <dl className="facts">
        <dt>Flow</dt>
        <dd>{request.flowName}</dd>
        <dt>Access</dt>
        <dd>
          <UnitList units={request.units} bundle={request.bundle} />
        </dd>
        <dt>Duration</dt>
        <dd>{minutesText(request.durationMinutes)}</dd>
        <dt>Requester</dt>
        <dd>{personText(request.requester)}</dd>
        {request.grantee.sub === request.requester.sub ? null : (
          <>
            <dt>Grantee</dt>
            <dd>{personText(request.grantee)}</dd>
          </>
        )}
        {request.justification === undefined ? null : (
          <>
            <dt>Justification</dt>
            <dd>{request.justification}</dd>
          </>
        )}
        <dt>Created</dt>
        <dd>
          <When at={request.createdAt} />
        </dd>
        {request.status === 'PENDING' && request.approvalDeadline !== undefined ? (
          <>
            <dt>Decision due</dt>
            <dd>
              <Countdown until={request.approvalDeadline} onElapsed={refetch} />
            </dd>
          </>
        ) : null}
        {request.grantedAt === undefined ? null : (
          <>
            <dt>Granted</dt>
            <dd>
              <When at={request.grantedAt} />
            </dd>
          </>
        )}
        {active && request.expiresAt !== undefined ? (
          <>
            <dt>Expires</dt>
            <dd>
              <Countdown until={request.expiresAt} onElapsed={refetch} /> (<When at={request.expiresAt} />)
            </dd>
          </>
        ) : null}
        {request.revokedAt === undefined ? null : (
          <>
            <dt>Ended</dt>
            <dd>
              <When at={request.revokedAt} />
            </dd>
          </>
        )}
        {request.failureReason === undefined ? null : (
          <>
            <dt>Failure</dt>
            <dd>{request.failureReason}</dd>
          </>
        )}
      </dl>

      {request.status === 'PENDING' && isRequester ? (
        <ConfirmAction
          id={request.id}
          action="cancel"
          label="Cancel request"
          confirm="Confirm cancel"
          explain="Withdraws the request; approvers can no longer approve it."
        />
      ) : null}
      {active && (isRequester || isGrantee || admin || voted) ? (
        <ConfirmAction
          id={request.id}
          action="revoke"
          label="Revoke access"
          confirm="Confirm revoke"
          explain="Ends the access now: the credentials stop working and open sessions are ended where the target allows."
        />
      ) : null}
      {active && (isRequester || isGrantee || admin) && (extensionsLeft === undefined || extensionsLeft > 0) ? (
        <ExtendAction request={request} left={extensionsLeft} max={flow?.maxMinutes} />
      ) : null}

      {active && isGrantee ? <Credentials requestId={request.id} /> : null}
      {!active && !IN_FLIGHT.has(request.status) && request.grantedAt !== undefined ? (
        <p className="hint">The grant has ended: its credentials no longer work and are no longer shown.</p>
      ) : null}

      <h2>Timeline</h2>
      <Timeline request={request} />
    </>
  );
}

/** Cancel or revoke: a button that opens a confirmation with an optional reason. */
function ConfirmAction(props: {
  id: string;
  action: 'cancel' | 'revoke';
  label: string;
  confirm: string;
  explain: string;
}) {
  const end = useEnd(props.action);
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  if (!open) {
    return (
      <div className="actions">
        <button type="button" className="danger" onClick={() => setOpen(true)}>
          {props.label}
        </button>
      </div>
    );
  }
  const submit = (event: FormEvent) => {
    event.preventDefault();
    end.mutate({ id: props.id, reason });
  };
  return (
    <form className="card" onSubmit={submit} aria-label={props.label}>
      <p>{props.explain}</p>
      <Field label="Reason (optional)" error={fieldError(end.error, 'reason')}>
        {(c) => (
          <textarea {...c} rows={2} maxLength={2000} value={reason} onChange={(e) => setReason(e.target.value)} />
        )}
      </Field>
      <ErrorAlert error={fieldError(end.error, 'reason') === undefined ? end.error : undefined} />
      <div className="actions">
        <button type="submit" className="danger" disabled={end.isPending}>
          {props.confirm}
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Back
        </button>
      </div>
    </form>
  );
}

/** Extend an active grant by some minutes (the flow's maximum and extension count apply). */
function ExtendAction(props: { request: RequestView; left: number | undefined; max: number | undefined }) {
  const extend = useExtend();
  const [open, setOpen] = useState(false);
  const [minutes, setMinutes] = useState('15');
  const [reason, setReason] = useState('');
  if (!open) {
    return (
      <div className="actions">
        <button type="button" onClick={() => setOpen(true)}>
          Extend access
        </button>
      </div>
    );
  }
  const submit = (event: FormEvent) => {
    event.preventDefault();
    extend.mutate(
      { id: props.request.id, minutes: minutes.trim() === '' ? Number.NaN : Number(minutes), reason },
      { onSuccess: () => setOpen(false) },
    );
  };
  const limits = [
    props.max === undefined ? '' : `up to ${props.max} minutes`,
    props.left === undefined ? '' : `${props.left} extension${props.left === 1 ? '' : 's'} left`,
  ]
    .filter((s) => s !== '')
    .join('; ');
  const pinned = fieldError(extend.error, 'minutes') ?? fieldError(extend.error, 'reason');
  return (
    <form className="card" onSubmit={submit} noValidate aria-label="Extend access">
      <Field
        label="Extend by (minutes)"
        {...(limits === '' ? {} : { hint: limits })}
        error={fieldError(extend.error, 'minutes')}
      >
        {(c) => (
          <input
            {...c}
            type="number"
            inputMode="numeric"
            min={1}
            step={1}
            value={minutes}
            onChange={(e) => setMinutes(e.target.value)}
          />
        )}
      </Field>
      <Field label="Reason for the extension (optional)" error={fieldError(extend.error, 'reason')}>
        {(c) => (
          <textarea {...c} rows={2} maxLength={2000} value={reason} onChange={(e) => setReason(e.target.value)} />
        )}
      </Field>
      <ErrorAlert error={pinned === undefined ? extend.error : undefined} />
      <div className="actions">
        <button type="submit" className="primary" disabled={extend.isPending}>
          Confirm extension
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Back
        </button>
      </div>
    </form>
  );
}

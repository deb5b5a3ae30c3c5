import { type FormEvent, useId, useState } from 'react';
import { Link } from 'wouter';
import { Credentials } from '../components/credentials.tsx';
import { ErrorAlert, Field, fieldError, Loading } from '../components/form.tsx';
import { Countdown, minutesText, personText, UnitList, When } from '../components/request-parts.tsx';
import { IN_FLIGHT, StatusBadge } from '../components/status.tsx';
import { Timeline } from '../components/timeline.tsx';
import { useMe } from '../hooks/me.ts';
import { overdue, type RequestView, useCatalogFlow, useEnd, useExtend, useRequest } from '../hooks/requests.ts';

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
  // The expiry the countdown saw pass (an extension moves expiresAt, and the grant is live again).
  const [elapsedAt, setElapsedAt] = useState<string>();
  const timeUp = active && (overdue(request) || (elapsedAt !== undefined && elapsedAt === request.expiresAt));

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
        {onCallProblems(request).length === 0 ? null : (
          <>
            <dt>On-call check</dt>
            <dd role="status">
              {onCallProblems(request)
                .map((reason) => `Could not ask who is on call (nobody approves through that set for now): ${reason}`)
                .join('; ')}
            </dd>
          </>
        )}
        {request.onCall === undefined ? null : (
          <>
            <dt>On-call shift</dt>
            <dd>
              {request.onCall.schedule ?? request.onCall.escalationPolicy} ({request.onCall.provider})
              {request.onCall.end === null ? '' : ', until '}
              {request.onCall.end === null ? null : <When at={request.onCall.end} />}
              {request.onCall.askedMinutes === undefined
                ? ''
                : ` — capped at the shift's end (asked for ${request.onCall.askedMinutes} min)`}
            </dd>
          </>
        )}
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
              <Countdown
                until={request.expiresAt}
                onElapsed={() => {
                  setElapsedAt(request.expiresAt);
                  refetch();
                }}
              />{' '}
              (<When at={request.expiresAt} />)
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

      <Actions
        request={request}
        canCancel={request.status === 'PENDING' && isRequester}
        canRevoke={active && (isRequester || isGrantee || admin || voted)}
        canExtend={
          active && (isRequester || isGrantee || admin) && (extensionsLeft === undefined || extensionsLeft > 0)
        }
        extensionsLeft={extensionsLeft}
        maxMinutes={flow?.maxMinutes}
      />

      {active && isGrantee && !timeUp ? <Credentials requestId={request.id} /> : null}
      {timeUp ? <p className="hint">The grant's time is up: Stint is removing the access.</p> : null}
      {!active && !IN_FLIGHT.has(request.status) && request.grantedAt !== undefined ? (
        <p className="hint">The grant has ended: its credentials no longer work and are no longer shown.</p>
      ) : null}

      <h2>Timeline</h2>
      <Timeline request={request} />
    </>
  );
}

type Open = 'cancel' | 'revoke' | 'extend' | undefined;

/** The actions this person may take on the request now: one row of buttons, the chosen one's form below. */
function Actions(props: {
  request: RequestView;
  canCancel: boolean;
  canRevoke: boolean;
  canExtend: boolean;
  extensionsLeft: number | undefined;
  maxMinutes: number | undefined;
}) {
  const [open, setOpen] = useState<Open>();
  const { request } = props;
  if (!props.canCancel && !props.canRevoke && !props.canExtend) return null;
  const close = () => setOpen(undefined);
  return (
    <>
      <div className="actions">
        {props.canCancel ? (
          <button type="button" className="danger" aria-expanded={open === 'cancel'} onClick={() => setOpen('cancel')}>
            Cancel request
          </button>
        ) : null}
        {props.canRevoke ? (
          <button type="button" className="danger" aria-expanded={open === 'revoke'} onClick={() => setOpen('revoke')}>
            Revoke access
          </button>
        ) : null}
        {props.canExtend ? (
          <button type="button" aria-expanded={open === 'extend'} onClick={() => setOpen('extend')}>
            Extend access
          </button>
        ) : null}
      </div>
      {open === 'cancel' && props.canCancel ? (
        <EndForm
          id={request.id}
          action="cancel"
          title="Cancel this request?"
          confirm="Confirm cancel"
          explain="Withdraws the request: approvers can no longer approve it."
          onClose={close}
        />
      ) : null}
      {open === 'revoke' && props.canRevoke ? (
        <EndForm
          id={request.id}
          action="revoke"
          title="Revoke this access?"
          confirm="Confirm revoke"
          explain="Ends the access now: the credentials stop working, and open sessions end where the target allows it."
          onClose={close}
        />
      ) : null}
      {open === 'extend' && props.canExtend ? (
        <ExtendForm id={request.id} left={props.extensionsLeft} max={props.maxMinutes} onClose={close} />
      ) : null}
    </>
  );
}

/** Cancel or revoke, confirmed, with an optional reason the timeline and the audit trail keep. */
function EndForm(props: {
  id: string;
  action: 'cancel' | 'revoke';
  title: string;
  confirm: string;
  explain: string;
  onClose: () => void;
}) {
  const end = useEnd(props.action);
  const [reason, setReason] = useState('');
  const headingId = useId();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    end.mutate({ id: props.id, reason });
  };
  const reasonError = fieldError(end.error, 'reason');
  return (
    <form className="card" onSubmit={submit} aria-labelledby={headingId}>
      <h2 id={headingId}>{props.title}</h2>
      <p>{props.explain}</p>
      <Field label="Reason (optional)" error={reasonError}>
        {(c) => (
          <textarea {...c} rows={2} maxLength={2000} value={reason} onChange={(e) => setReason(e.target.value)} />
        )}
      </Field>
      <ErrorAlert error={reasonError === undefined ? end.error : undefined} />
      <div className="actions">
        <button type="submit" className="danger" disabled={end.isPending}>
          {props.confirm}
        </button>
        <button type="button" onClick={props.onClose}>
          Back
        </button>
      </div>
    </form>
  );
}

/** Extend an active grant by some minutes (the flow's maximum and extension count apply). */
function ExtendForm(props: { id: string; left: number | undefined; max: number | undefined; onClose: () => void }) {
  const extend = useExtend();
  const [minutes, setMinutes] = useState('15');
  const [reason, setReason] = useState('');
  const headingId = useId();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    extend.mutate(
      { id: props.id, minutes: minutes.trim() === '' ? Number.NaN : Number(minutes), reason },
      { onSuccess: props.onClose },
    );
  };
  const limits = [
    props.max === undefined ? '' : `Up to ${props.max} minutes`,
    props.left === undefined ? '' : `${props.left} extension${props.left === 1 ? '' : 's'} left`,
  ]
    .filter((s) => s !== '')
    .join('; ');
  const minutesError = fieldError(extend.error, 'minutes');
  const reasonError = fieldError(extend.error, 'reason');
  return (
    <form className="card" onSubmit={submit} noValidate aria-labelledby={headingId}>
      <h2 id={headingId}>Extend this access</h2>
      <Field label="Extend by (minutes)" {...(limits === '' ? {} : { hint: `${limits}.` })} error={minutesError}>
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
      <Field label="Reason for the extension (optional)" error={reasonError}>
        {(c) => (
          <textarea {...c} rows={2} maxLength={2000} value={reason} onChange={(e) => setReason(e.target.value)} />
        )}
      </Field>
      <ErrorAlert error={minutesError === undefined && reasonError === undefined ? extend.error : undefined} />
      <div className="actions">
        <button type="submit" className="primary" disabled={extend.isPending}>
          Confirm extension
        </button>
        <button type="button" onClick={props.onClose}>
          Back
        </button>
      </div>
    </form>
  );
}

/** Why on-call approver sets admit nobody just now: their provider could not be asked (the API's approval view). */
function onCallProblems(request: RequestView): string[] {
  return (request.approval?.sets ?? []).flatMap((s) =>
    s.oncall?.unavailable === undefined ? [] : [s.oncall.unavailable],
  );
}

import { type FormEvent, useState } from 'react';
import { Link } from 'wouter';
import { ErrorAlert, Field, fieldError, Loading } from '../components/form.tsx';
import { Countdown, minutesText, personText, UnitList, When } from '../components/request-parts.tsx';
import {
  type CatalogFlow,
  type Decision,
  type RequestView,
  reasonRequiredOf,
  useCatalog,
  useDecide,
  useRequests,
} from '../hooks/requests.ts';

type Outcome = { id: string; decision: Decision; status: string };

/** Requests waiting for my decision (GET /requests, scope approvals): approve or reject each, with a reason. */
export function Approvals() {
  const list = useRequests('approvals');
  const catalog = useCatalog();
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  const items = list.data?.items ?? [];
  return (
    <section>
      <h1>Approvals</h1>
      <div role="status" className={outcome === undefined ? 'status-slot' : 'alert alert-ok'}>
        {outcome === undefined ? null : (
          <>
            {outcome.decision === 'approve' ? 'Approved' : 'Rejected'} {outcome.id}
            {outcome.decision === 'approve' && outcome.status === 'PENDING'
              ? ' (your approval is recorded; more approvals are needed)'
              : ''}
            . <Link href={`/requests/${outcome.id}`}>Open the request</Link>
          </>
        )}
      </div>
      {list.isPending ? <Loading what="your approvals" /> : null}
      <ErrorAlert error={list.error} title="Could not load your approvals" />
      {list.data !== undefined && items.length === 0 ? <p>Nothing is waiting for your decision.</p> : null}
      <div className="inbox">
        {items.map((r) => (
          <Pending
            key={r.id}
            request={r}
            flow={catalog.data?.flows.find((f) => f.id === r.flowId)}
            onDecided={setOutcome}
          />
        ))}
      </div>
    </section>
  );
}

/** Why I may decide this request: the sets the API says make me an approver, and how (user, group, manager, owner). */
function whyMe(request: RequestView): string[] {
  return (request.approval?.mine ?? []).map((p) => {
    const reasons = [
      ...(p.asUser ? ['you are listed by name'] : []),
      ...p.viaGroups.map((g) => `you are in group ${g}`),
      ...(p.asManager ? ["you are the requester's manager"] : []),
      ...(p.asOwnerOf.length > 0
        ? [`you own ${p.asOwnerOf.map((i) => request.units[i]?.resource ?? `unit ${i + 1}`).join(', ')}`]
        : []),
    ];
    return `${p.name ?? `approver set ${p.index + 1}`}: ${reasons.length === 0 ? 'a member' : reasons.join(', ')}`;
  });
}

function tierOf(request: RequestView): number | undefined {
  return request.approval?.tier ?? request.escalation?.tier;
}

function Pending(props: {
  request: RequestView;
  flow: CatalogFlow | undefined;
  onDecided: (outcome: Outcome) => void;
}) {
  const { request, flow } = props;
  const decide = useDecide();
  const [reason, setReason] = useState('');
  const [decision, setDecision] = useState<Decision>('approve');
  const headingId = `approval-${request.id}`;
  const reasonRequired = reasonRequiredOf(flow);
  const why = whyMe(request);
  const tier = tierOf(request);

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    // The button pressed says which decision (Enter in the reason field approves: the first submit button).
    const submitter = (event.nativeEvent as SubmitEvent).submitter;
    const chosen: Decision = submitter?.getAttribute('value') === 'reject' ? 'reject' : 'approve';
    setDecision(chosen);
    decide.mutate(
      { id: request.id, decision: chosen, reason },
      { onSuccess: (r) => props.onDecided({ id: r.id, decision: chosen, status: r.status }) },
    );
  };
  const reasonError = fieldError(decide.error, 'reason');

  return (
    <article className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>
        {request.requester.sub} asks for {request.flowName}
      </h2>
      <p className="request-id">
        Request <Link href={`/requests/${request.id}`}>{request.id}</Link>
      </p>
      <dl className="facts">
        <dt>Requester</dt>
        <dd>{personText(request.requester)}</dd>
        {request.grantee.sub === request.requester.sub ? null : (
          <>
            <dt>For</dt>
            <dd>{personText(request.grantee)}</dd>
          </>
        )}
        <dt>Access</dt>
        <dd>
          <UnitList units={request.units} bundle={request.bundle} />
        </dd>
        <dt>Duration</dt>
        <dd>{minutesText(request.durationMinutes)}</dd>
        <dt>Why</dt>
        <dd>{request.justification ?? 'no justification given'}</dd>
        <dt>Asked</dt>
        <dd>
          <When at={request.createdAt} />
        </dd>
        {request.approvalDeadline === undefined ? null : (
          <>
            <dt>Times out</dt>
            <dd>
              <Countdown until={request.approvalDeadline} />
            </dd>
          </>
        )}
        <dt>You approve as</dt>
        <dd>{why.length === 0 ? 'an eligible approver of this flow' : why.join('; ')}</dd>
        <dt>Tier</dt>
        <dd>{tier === undefined || tier === 0 ? 'first approvers (not escalated)' : `escalation tier ${tier}`}</dd>
        {request.votes.length === 0 ? null : (
          <>
            <dt>Votes so far</dt>
            <dd>
              {request.votes.map((v) => `${v.vote === 'approve' ? 'approved' : 'rejected'} by ${v.by}`).join('; ')}
            </dd>
          </>
        )}
      </dl>
      <form onSubmit={submit} noValidate aria-label={`Decide ${request.id}`}>
        <Field
          label={
            reasonRequired === true ? 'Reason (required)' : reasonRequired === false ? 'Reason (optional)' : 'Reason'
          }
          hint="The requester and auditors see it."
          error={reasonError}
        >
          {(c) => (
            <textarea
              {...c}
              rows={2}
              maxLength={2000}
              required={reasonRequired === true}
              value={reason}
              onChange={(e) => setReason(e.target.value)}
            />
          )}
        </Field>
        <ErrorAlert error={reasonError === undefined ? decide.error : undefined} title={`Could not ${decision}`} />
        <div className="actions">
          <button type="submit" className="primary" value="approve" disabled={decide.isPending}>
            Approve
          </button>
          <button type="submit" className="danger" value="reject" disabled={decide.isPending}>
            Reject
          </button>
        </div>
      </form>
    </article>
  );
}

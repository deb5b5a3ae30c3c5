import { Link } from 'wouter';
import { ErrorAlert, Loading } from '../components/form.tsx';
import { approverSetText, minutesText, ruleText, UnitList } from '../components/request-parts.tsx';
import { approverSetsOf, type CatalogFlow, reasonRequiredOf, useCatalog } from '../hooks/requests.ts';

/** The flows I may request under (GET /catalog): what each grants, for how long, and who decides. */
export function Catalog() {
  const catalog = useCatalog();
  return (
    <section>
      <h1>Request access</h1>
      {catalog.isPending ? <Loading what="the catalog" /> : null}
      <ErrorAlert error={catalog.error} title="Could not load the catalog" />
      {catalog.data !== undefined && catalog.data.flows.length === 0 ? (
        <p>No access flow lets you request anything yet. Ask an administrator to add you to one.</p>
      ) : null}
      <div className="cards">
        {catalog.data?.flows.map((flow) => (
          <FlowCard key={flow.id} flow={flow} />
        ))}
      </div>
    </section>
  );
}

function FlowCard({ flow }: { flow: CatalogFlow }) {
  const headingId = `flow-${flow.id}`;
  return (
    <article className="card flow-card" aria-labelledby={headingId}>
      <h2 id={headingId}>
        {flow.name} {flow.breakGlass ? <span className="badge badge-break-glass">break-glass</span> : null}
      </h2>
      {flow.description === undefined ? null : <p>{flow.description}</p>}
      <dl className="facts">
        <dt>Access</dt>
        <dd>
          {flow.targets.length > 0 ? <UnitList units={flow.targets} /> : null}
          {flow.bundles.length > 0 ? <span>Bundles: {flow.bundles.join(', ')}</span> : null}
        </dd>
        <dt>Duration</dt>
        <dd>
          up to {minutesText(flow.maxMinutes)} (default {minutesText(flow.defaultMinutes)})
          {flow.maxExtensions > 0
            ? `, extendable ${flow.maxExtensions} time${flow.maxExtensions === 1 ? '' : 's'}`
            : ''}
        </dd>
        <dt>Approval</dt>
        <dd>
          <Approval flow={flow} />
        </dd>
        {flow.justificationRequired || flow.breakGlass ? (
          <>
            <dt>Justification</dt>
            <dd>required</dd>
          </>
        ) : null}
        {flow.workingHours === undefined || flow.breakGlass ? null : (
          <>
            <dt>Hours</dt>
            <dd>
              {flow.workingHours.start}–{flow.workingHours.end} ({flow.workingHours.timezone}), ISO weekdays{' '}
              {flow.workingHours.days.join(', ')}
            </dd>
          </>
        )}
      </dl>
      {flow.breakGlass ? (
        <p className="hint">Break-glass: granted at once without approval, and reported as a high-severity event.</p>
      ) : null}
      <p className="actions">
        <Link href={`/request/${flow.id}`} className="button primary">
          Request<span className="visually-hidden"> {flow.name}</span>
        </Link>
      </p>
    </article>
  );
}

function Approval({ flow }: { flow: CatalogFlow }) {
  const approval = flow.approval;
  if (flow.breakGlass) return <>none (break-glass)</>;
  if (approval.mode === 'auto') return <>none: self-serve</>;
  const sets = approverSetsOf(flow);
  const reasons = reasonRequiredOf(flow);
  return (
    <>
      <span>
        needed: {ruleText(approval.rule, sets?.length ?? 1)}, within {minutesText(approval.timeoutMinutes)}
        {reasons === true ? '; approvers give a reason' : ''}
      </span>
      {sets === undefined ? null : (
        <ul className="plain">
          {sets.map((set) => (
            <li key={approverSetText(set)}>{approverSetText(set)}</li>
          ))}
        </ul>
      )}
    </>
  );
}

import { Link } from 'wouter';
import { LoadMore } from '../../components/admin.tsx';
import { ErrorAlert, Loading } from '../../components/form.tsx';
import { type Flow, useAdminList } from '../../hooks/admin.ts';

/** Who may ask, in a few words: "everyone", or the groups and users named. */
function requestorsOf(flow: Flow): string {
  if (flow.requestors.everyone) return 'Everyone';
  const who = [...flow.requestors.groups.map((g) => `group ${g}`), ...flow.requestors.users];
  return who.length === 0 ? 'Nobody yet' : who.join(', ');
}

function approvalOf(flow: Flow): string {
  if (flow.approval.mode === 'auto') return flow.breakGlass ? 'Automatic (break-glass)' : 'Automatic';
  const rule = flow.approval.rule;
  const how = rule.type === 'quorum' ? `quorum of ${rule.count}` : rule.type;
  return `Manual, ${how}, ${flow.approval.sets.length} approver set${flow.approval.sets.length === 1 ? '' : 's'}`;
}

/** Access flows: each with who may request, how it is approved and for how long, linked to its editor. */
export function Flows() {
  const list = useAdminList('flows');
  const flows = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section>
      <h1>Access flows</h1>
      <div className="actions">
        <Link href="/admin/flows/new" className="button primary">
          New flow
        </Link>
      </div>
      {list.isPending ? <Loading what="the flows" /> : null}
      <ErrorAlert error={list.error} title="Could not list the flows" />
      {list.data === undefined ? null : flows.length === 0 ? (
        <p>No flows yet.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Access flows</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Id</th>
                <th scope="col">Requestors</th>
                <th scope="col">Approval</th>
                <th scope="col">Max minutes</th>
              </tr>
            </thead>
            <tbody>
              {flows.map((flow) => (
                <tr key={flow.id}>
                  <td>
                    <Link href={`/admin/flows/${encodeURIComponent(flow.id)}`}>{flow.name}</Link>
                  </td>
                  <td>
                    <code>{flow.id}</code>
                  </td>
                  <td>{requestorsOf(flow)}</td>
                  <td>{approvalOf(flow)}</td>
                  <td>{flow.maxMinutes}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore {...list} what="flows" />
    </section>
  );
}

import type { RequestView } from '../hooks/requests.ts';
import { minutesText, When } from './request-parts.tsx';

type Entry = { at: string; what: string; who?: string; channel?: string; reason?: string; tone?: 'ok' | 'bad' };

type ApiEntry = RequestView['timeline'][number];

/** What each kind of step says (the API's timeline: lib/http/views.ts). */
function describe(e: ApiEntry): Pick<Entry, 'what' | 'tone'> {
  switch (e.kind) {
    case 'created':
      return { what: 'Requested' };
    case 'escalated':
      return { what: `Escalated to tier ${e.tier ?? '?'}` };
    case 'vote':
      return e.vote === 'reject' ? { what: 'Rejected', tone: 'bad' } : { what: 'Approved', tone: 'ok' };
    case 'approved':
      return { what: 'Decision: approved', tone: 'ok' };
    case 'auto-approved':
      return { what: 'Approved automatically', tone: 'ok' };
    case 'rejected':
      return { what: 'Decision: rejected', tone: 'bad' };
    case 'cancelled':
      return { what: 'Cancelled' };
    case 'timed-out':
      return { what: 'Timed out: nobody decided in time', tone: 'bad' };
    case 'granted':
      return { what: 'Active (access granted)', tone: 'ok' };
    case 'extended':
      return { what: `Extended by ${minutesText(e.minutes ?? 0)}` };
    case 'revoke-requested':
      return { what: 'Revoke requested', tone: 'bad' };
    case 'revoked':
      return { what: 'Revoked', tone: 'bad' };
    case 'expired':
      return { what: 'Expired: time up, access removed' };
    case 'failed':
      return { what: 'Failed', tone: 'bad' };
    case 'revoke-failed':
      return { what: 'Revoke failing: Stint keeps retrying and has raised an alarm', tone: 'bad' };
  }
}

/**
 * What happened to a request, oldest first (the view's `timeline`), each step with who, when, through which
 * channel and why.
 */
export function timelineOf(request: RequestView): Entry[] {
  // The vote that decided (same person, same instant) already says it: the decision is not listed twice.
  const decidingVote = (e: ApiEntry) =>
    (e.kind === 'approved' || e.kind === 'rejected') &&
    request.timeline.some((v) => v.kind === 'vote' && v.by === e.by && v.at === e.at);
  return request.timeline
    .filter((e) => !decidingVote(e))
    .map((e) => ({
      at: e.at,
      ...describe(e),
      ...(e.by === undefined ? {} : { who: e.by }),
      ...(e.channel === undefined ? {} : { channel: e.channel }),
      ...(e.reason === undefined ? {} : { reason: e.reason }),
      ...(e.kind === 'created' && request.grantee.sub !== request.requester.sub
        ? { reason: `on behalf of ${request.grantee.sub}` }
        : {}),
    }));
}

export function Timeline(props: { request: RequestView }) {
  const entries = timelineOf(props.request);
  return (
    <ol className="timeline">
      {entries.map((e) => (
        <li
          key={`${e.at}-${e.what}-${e.who ?? ''}`}
          className={e.tone === undefined ? undefined : `timeline-${e.tone}`}
        >
          <When at={e.at} />
          <strong>{e.what}</strong>
          {e.who === undefined ? null : <> by {e.who}</>}
          {e.channel === undefined ? null : <> via {e.channel}</>}
          {e.reason === undefined ? null : <p className="timeline-reason">“{e.reason}”</p>}
        </li>
      ))}
    </ol>
  );
}

import type { RequestView } from '../hooks/requests.ts';
import { minutesText, record, text, When } from './request-parts.tsx';

type Entry = { at: string; what: string; who?: string; channel?: string; reason?: string; tone?: 'ok' | 'bad' };

/** One past change the view may list (`history`), read defensively: the view's fields are what is certain. */
function changeOf(
  value: unknown,
): { action: string; at: string; by?: string; channel?: string; reason?: string } | undefined {
  const r = record(value);
  const action = text(r?.action);
  const at = text(r?.at);
  if (r === undefined || action === undefined || at === undefined) return undefined;
  return {
    action,
    at,
    ...(text(r.by) === undefined ? {} : { by: text(r.by) }),
    ...(text(r.channel) === undefined ? {} : { channel: text(r.channel) }),
    ...(text(r.reason) === undefined ? {} : { reason: text(r.reason) }),
  };
}

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
 * What happened to a request, oldest first, each step with who, when, through which channel and why: the API's
 * `timeline` when the view has one, else what the view's own fields say.
 */
export function timelineOf(request: RequestView): Entry[] {
  const listed = (request as { timeline?: ApiEntry[] }).timeline;
  if (Array.isArray(listed) && listed.length > 0) {
    return listed.map((e) => ({
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
  return derivedTimeline(request);
}

/** For a view without `timeline`: created, votes, the decision, granted, extensions and the end, from its fields. */
function derivedTimeline(request: RequestView): Entry[] {
  const view = request as RequestView & Record<string, unknown>;
  const history = Array.isArray(view.history) ? view.history.map(changeOf).filter((c) => c !== undefined) : [];
  const changes = [...history, request.lastChange];
  const find = (...actions: string[]) => changes.find((c) => c !== undefined && actions.includes(c.action));
  const entries: Entry[] = [];

  const created = find('create');
  entries.push({
    at: request.createdAt,
    what: `Requested ${minutesText(request.durationMinutes)}`,
    who: request.requester.sub,
    ...(created?.channel === undefined ? {} : { channel: created.channel }),
    ...(request.grantee.sub === request.requester.sub ? {} : { reason: `on behalf of ${request.grantee.sub}` }),
  });
  for (const vote of request.votes) {
    entries.push({
      at: vote.at,
      what: vote.vote === 'approve' ? 'Approved' : 'Rejected',
      who: vote.by,
      channel: vote.channel,
      tone: vote.vote === 'approve' ? 'ok' : 'bad',
      ...(vote.reason === undefined ? {} : { reason: vote.reason }),
    });
  }
  const decision = request.decision;
  if (decision !== undefined && decision.outcome === 'auto') {
    entries.push({
      at: decision.at,
      what: 'Approved automatically',
      channel: decision.channel,
      tone: 'ok',
      ...(decision.reason === undefined ? {} : { reason: decision.reason }),
    });
  } else if (decision !== undefined && !request.votes.some((v) => v.at === decision.at && v.by === decision.by)) {
    entries.push({
      at: decision.at,
      what: decision.outcome === 'approved' ? 'Decision: approved' : 'Decision: rejected',
      who: decision.by,
      channel: decision.channel,
      tone: decision.outcome === 'approved' ? 'ok' : 'bad',
      ...(decision.reason === undefined ? {} : { reason: decision.reason }),
    });
  }
  if (request.grantedAt !== undefined) {
    entries.push({
      at: request.grantedAt,
      what: request.expiresAt === undefined ? 'Active' : 'Active (access granted)',
      tone: 'ok',
    });
  }
  for (const ext of request.extensions) {
    entries.push({
      at: ext.at,
      what: `Extended by ${minutesText(ext.minutes)}`,
      who: ext.by,
      channel: ext.channel,
      ...(ext.reason === undefined ? {} : { reason: ext.reason }),
    });
  }
  const ended = endOf(request, find);
  if (ended !== undefined) entries.push(ended);
  return entries.sort((a, b) => a.at.localeCompare(b.at));
}

function endOf(request: RequestView, find: (...actions: string[]) => ReturnType<typeof changeOf>): Entry | undefined {
  const by = (c: ReturnType<typeof changeOf>) => ({
    ...(c?.by === undefined ? {} : { who: c.by }),
    ...(c?.channel === undefined ? {} : { channel: c.channel }),
    ...(c?.reason === undefined ? {} : { reason: c.reason }),
  });
  switch (request.status) {
    case 'CANCELLED': {
      const c = find('cancel');
      return { at: c?.at ?? request.lastChange.at, what: 'Cancelled', ...by(c ?? request.lastChange) };
    }
    case 'TIMED_OUT':
      return { at: request.lastChange.at, what: 'Timed out: nobody decided in time', tone: 'bad' };
    case 'REVOKING':
    case 'REVOKED': {
      const c = find('revoke');
      const what = request.status === 'REVOKING' ? 'Revoking' : 'Revoked';
      return {
        at: request.revokedAt ?? c?.at ?? request.lastChange.at,
        what: request.endReason === 'expired' ? `${what}: time up` : what,
        tone: 'bad',
        ...by(c),
      };
    }
    case 'EXPIRED':
      return { at: request.revokedAt ?? request.lastChange.at, what: 'Expired: time up, access removed' };
    case 'FAILED':
      return {
        at: request.lastChange.at,
        what: 'Failed',
        tone: 'bad',
        ...(request.failureReason === undefined ? {} : { reason: request.failureReason }),
      };
    case 'REVOKE_FAILED':
      return {
        at: request.lastChange.at,
        what: 'Revoke failing: Stint keeps retrying and has raised an alarm',
        tone: 'bad',
        ...(request.failureReason === undefined ? {} : { reason: request.failureReason }),
      };
    default:
      return undefined;
  }
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

import type { Api, Ok } from './api.ts';
import { unwrap } from './api.ts';
import type { Ctx } from './context.ts';
import { CliError } from './errors.ts';
import { when } from './output.ts';

export type RequestView = Ok<'get-request'>;

/** Statuses a request never leaves. */
export const FINAL = new Set(['REJECTED', 'CANCELLED', 'TIMED_OUT', 'FAILED', 'REVOKED', 'EXPIRED', 'REVOKE_FAILED']);

export async function getRequest(api: Api, id: string): Promise<RequestView> {
  return unwrap(await api.GET('/requests/{id}', { params: { path: { id } } }));
}

/** Why a request ended where it did, in the words of whoever ended it. */
export function whyEnded(r: RequestView): string {
  const reason = r.failureReason ?? r.ending?.reason ?? r.decision?.reason;
  const by = r.ending?.by ?? r.decision?.by;
  switch (r.status) {
    case 'REJECTED':
      return `rejected${by === undefined ? '' : ` by ${by}`}${reason === undefined ? '' : `: ${reason}`}`;
    case 'TIMED_OUT':
      return `no decision before ${when(r.approvalDeadline)}: the request timed out`;
    case 'CANCELLED':
      return `cancelled${by === undefined ? '' : ` by ${by}`}${reason === undefined ? '' : `: ${reason}`}`;
    case 'FAILED':
      return `the grant failed${reason === undefined ? '' : `: ${reason}`}`;
    default:
      return `${r.status.toLowerCase()}${reason === undefined ? '' : `: ${reason}`}`;
  }
}

/** Who may decide a pending request, as the approval view says. */
export function waitingFor(r: RequestView): string | undefined {
  if (r.status !== 'PENDING' || r.approval === undefined) return undefined;
  const open = r.approval.sets.filter((s) => s.open);
  const who = open.map((s) =>
    [
      ...s.groups.map((g) => `group ${g}`),
      ...s.users,
      ...(s.manager ? ['the manager'] : []),
      ...(s.oncall === undefined
        ? []
        : [
            `whoever is on call in ${s.oncall.schedule ?? s.oncall.escalationPolicy} (${s.oncall.provider}${s.oncall.unavailable === undefined ? '' : ': could not be asked'})`,
          ]),
    ].join(' or '),
  );
  return who.length === 0 ? undefined : who.join(r.approval.rule.type === 'allOf' ? ', and ' : '; or ');
}

/**
 * Polls the request until it is ACTIVE or final, backing off from 0.5 s to 3 s: on a terminal one live status line
 * (redrawn in place on stderr), otherwise a line per change. Ctrl-C stops waiting, not the request.
 */
export async function waitForActive(ctx: Ctx, api: Api, first: RequestView): Promise<RequestView> {
  let current = first;
  let last = '';
  let delay = 500;
  const started = Date.now();
  const show = (r: RequestView) => {
    const pending = waitingFor(r);
    const line = `${r.id}  ${r.status}${pending === undefined ? '' : ` — waiting for ${pending}`}`;
    if (ctx.interactive) {
      const seconds = Math.round((Date.now() - started) / 1000);
      ctx.err(`\r\x1b[2K${line} (${seconds} s)`);
    } else if (line !== last) {
      ctx.err(`${line}\n`);
    }
    last = line;
  };
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
  };
  process.once('SIGINT', onInterrupt);
  try {
    while (current.status !== 'ACTIVE' && !FINAL.has(current.status)) {
      show(current);
      await new Promise((r) => setTimeout(r, delay));
      if (interrupted) {
        if (ctx.interactive) ctx.err('\n');
        throw new CliError(`stopped waiting; ${current.id} is ${current.status} (see \`stint show ${current.id}\`)`);
      }
      delay = Math.min(3000, Math.round(delay * 1.5));
      current = await getRequest(api, current.id);
    }
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  if (ctx.interactive) {
    show(current);
    ctx.err('\n');
  }
  return current;
}

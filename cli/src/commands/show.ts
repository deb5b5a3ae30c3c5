import { apiFor } from '../api.ts';
import type { Ctx } from '../context.ts';
import { printFields, printJson, printTable, when } from '../output.ts';
import { getRequest, waitingFor } from '../requests.ts';

/** JSON: the request as GET /requests/{id} answers it (with `timeline` and `approval`). */
export async function run(ctx: Ctx, [id]: string[]): Promise<void> {
  const { api } = await apiFor(ctx);
  const r = await getRequest(api, id as string);
  if (ctx.json) return printJson(ctx, r);
  printFields(ctx, [
    ['request', r.id],
    ['status', r.status],
    ['flow', `${r.flowName} (${r.flowId})`],
    ['requester', r.requester.sub],
    ['for', r.grantee.sub === r.requester.sub ? undefined : r.grantee.sub],
    ['targets', r.units.map((t) => `${t.resource}:${t.permission}`).join(', ') || undefined],
    ['bundle', r.bundle],
    ['minutes', r.durationMinutes],
    ['justification', r.justification],
    ['waiting for', waitingFor(r)],
    ['expires', when(r.expiresAt)],
    ['failure', r.failureReason],
  ]);
  ctx.out('\n');
  printTable(
    ctx,
    ['WHEN', 'WHAT', 'BY', 'VIA', 'DETAIL'],
    r.timeline.map((e) => [
      when(e.at),
      e.kind === 'vote' ? `vote: ${e.vote}` : e.kind,
      e.by ?? '',
      e.channel ?? '',
      [e.minutes === undefined ? '' : `${e.minutes} min`, e.reason ?? ''].filter(Boolean).join(' — '),
    ]),
  );
}

import { apiFor, unwrap } from '../api.ts';
import type { Ctx } from '../context.ts';
import { UsageError } from '../errors.ts';
import { printJson, printTable, when } from '../output.ts';
import type { RequestView } from '../requests.ts';

type Options = { approvals?: boolean; all?: boolean; status?: RequestView['status']; limit: number };

/** JSON: `{ "requests": [...] }`, each as GET /requests/{id} answers it, newest first. */
export async function run(ctx: Ctx, _args: string[], options: Options): Promise<void> {
  if (options.approvals === true && options.all === true)
    throw new UsageError('--approvals and --all exclude each other');
  const scope = options.all === true ? 'all' : options.approvals === true ? 'approvals' : 'mine';
  const { api } = await apiFor(ctx);
  const requests: RequestView[] = [];
  let cursor: string | undefined;
  do {
    const page = unwrap(
      await api.GET('/requests', {
        params: {
          query: {
            scope,
            limit: Math.min(100, options.limit - requests.length),
            ...(options.status === undefined ? {} : { status: options.status }),
            ...(cursor === undefined ? {} : { cursor }),
          },
        },
      }),
    );
    requests.push(...page.items);
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined && requests.length < options.limit);

  if (ctx.json) return printJson(ctx, { requests });
  printTable(
    ctx,
    ['ID', 'STATUS', 'FLOW', 'FOR', 'MINUTES', scope === 'mine' ? 'CREATED' : 'BY', 'EXPIRES'],
    requests.map((r) => [
      r.id,
      r.status,
      r.flowId,
      r.grantee.sub,
      String(r.durationMinutes),
      scope === 'mine' ? when(r.createdAt) : r.requester.sub,
      when(r.expiresAt),
    ]),
    scope === 'approvals' ? 'nothing waits for your approval' : 'no requests',
  );
}

import { apiFor, unwrap } from '../api.ts';
import type { Ctx } from '../context.ts';
import { printJson, when } from '../output.ts';

/** JSON: the request as the API answers it, with the new `expiresAt`. */
export async function run(ctx: Ctx, [id]: string[], options: { minutes: number; reason?: string }): Promise<void> {
  const { api } = await apiFor(ctx);
  const request = unwrap(
    await api.POST('/requests/{id}/extend', {
      params: { path: { id: id as string } },
      body: { minutes: options.minutes, ...(options.reason === undefined ? {} : { reason: options.reason }) },
    }),
    { minutes: '--minutes', reason: '--reason' },
  );
  if (ctx.json) return printJson(ctx, request);
  ctx.out(`${request.id}  ${request.status} until ${when(request.expiresAt)}\n`);
}

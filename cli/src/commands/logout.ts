import type { Ctx } from '../context.ts';
import { printJson } from '../output.ts';
import { clearSession, readSession } from '../session.ts';

export async function run(ctx: Ctx): Promise<void> {
  const session = readSession();
  if (session?.kind === 'oidc') await (await import('../auth/oidc.ts')).revokeRefreshToken?.(session);
  const removed = clearSession();
  if (ctx.json) printJson(ctx, { signedOut: removed, ...(session === undefined ? {} : { url: session.url }) });
  else ctx.out(removed ? `Signed out of ${session?.url ?? 'Stint'}\n` : 'Not signed in\n');
}

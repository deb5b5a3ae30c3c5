import { envOf, pickUnit } from '../access-env.ts';
import { apiFor, unwrap } from '../api.ts';
import type { Ctx } from '../context.ts';
import { runChild } from '../run-child.ts';

/** `stint exec <id> -- <command> [args…]`: exits with the command's own exit code. */
export async function run(ctx: Ctx, [id, command, ...args]: string[], options: { unit?: number }): Promise<void> {
  const { api } = await apiFor(ctx);
  const access = unwrap(await api.GET('/requests/{id}/access', { params: { path: { id: id as string } } }));
  const env = { STINT_REQUEST_ID: id as string, ...envOf(pickUnit(access, options.unit), access.expiresAt) };
  process.exitCode = await runChild(command as string, args, env);
}

import { clientOf, envOf, pickUnit } from '../access-env.ts';
import { apiFor, unwrap } from '../api.ts';
import type { Ctx } from '../context.ts';
import { runChild } from '../run-child.ts';

/**
 * `stint connect <id> [-- client args…]`: psql, mysql or redis-cli by the access's engine (`--client` for another),
 * with the password in the client's environment; exits with the client's exit code.
 */
export async function run(
  ctx: Ctx,
  [id, ...extra]: string[],
  options: { unit?: number; client?: string },
): Promise<void> {
  const { api } = await apiFor(ctx);
  const access = unwrap(await api.GET('/requests/{id}/access', { params: { path: { id: id as string } } }));
  const unit = pickUnit(access, options.unit);
  const client = clientOf(unit);
  const env = { STINT_REQUEST_ID: id as string, ...envOf(unit, access.expiresAt) };
  if (!ctx.json)
    ctx.err(`stint: ${options.client ?? client.command} as ${String(unit.username)} until ${access.expiresAt}\n`);
  process.exitCode = await runChild(options.client ?? client.command, [...client.args, ...extra], env);
}

import type { Ctx } from '../context.ts';
import { CliError } from '../errors.ts';

/** `stint mcp`: being built (issue 11). */
export async function run(_ctx: Ctx): Promise<void> {
  throw new CliError('stint mcp is not available in this build yet');
}

import type { Ctx } from '../context.ts';
import { CliError } from '../errors.ts';

export async function run(_ctx: Ctx): Promise<void> {
  throw new CliError('not built yet');
}

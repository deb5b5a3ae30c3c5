import { envOf, exportLines, unitsOf } from '../access-env.ts';
import { apiFor, unwrap } from '../api.ts';
import type { Ctx } from '../context.ts';
import { printFields, printJson } from '../output.ts';

/** JSON: GET /requests/{id}/access as the API answers it (first unit's fields, `expiresAt`, and `units`). */
export async function run(ctx: Ctx, [id]: string[], options: { env?: boolean }): Promise<void> {
  const { api } = await apiFor(ctx);
  const access = unwrap(await api.GET('/requests/{id}/access', { params: { path: { id: id as string } } }));
  const units = unitsOf(access);
  if (options.env === true) {
    // Every unit's variables; where two units set the same one, the first wins (use --unit with exec/connect).
    const env = Object.assign({}, ...units.toReversed().map((u) => envOf(u, access.expiresAt)));
    return ctx.out(exportLines(env));
  }
  if (ctx.json) return printJson(ctx, access);
  units.forEach((unit, i) => {
    if (units.length > 1) ctx.out(`${i > 0 ? '\n' : ''}unit ${i + 1}\n`);
    printFields(ctx, [
      ...Object.entries(unit)
        .filter(([, v]) => typeof v === 'string' || typeof v === 'number')
        .map(([k, v]) => [k, v as string | number] as [string, string | number]),
      ...Object.entries((unit.credentials ?? unit.fields ?? {}) as Record<string, string | number>),
    ]);
  });
  if (units.length > 1) ctx.out(`\nexpires ${access.expiresAt}\n`);
}

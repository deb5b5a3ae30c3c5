import { apiFor, type Ok, unwrap } from '../api.ts';
import type { Ctx } from '../context.ts';
import { printJson, printTable } from '../output.ts';

export type CatalogFlow = Ok<'get-catalog'>['flows'][number];

/** `approval` as one word for the table: auto, or who approves. */
export function approvalText(flow: CatalogFlow): string {
  if (flow.approval.mode === 'auto') return 'auto';
  const who = flow.approval.sets.map((s) =>
    [...s.groups.map((g) => `group ${g}`), ...s.users, ...(s.manager === true ? ['manager'] : [])].join(' or '),
  );
  return who.join(flow.approval.rule.type === 'allOf' ? ' and ' : ' / ') || 'manual';
}

/** JSON: `{ "flows": [...] }`, the catalog (GET /catalog) as the API answers it. */
export async function run(ctx: Ctx): Promise<void> {
  const { api } = await apiFor(ctx);
  const catalog = unwrap(await api.GET('/catalog'));
  if (ctx.json) return printJson(ctx, catalog);
  printTable(
    ctx,
    ['FLOW', 'NAME', 'APPROVAL', 'MINUTES', 'TARGETS'],
    catalog.flows.map((f) => [
      f.id,
      f.name,
      approvalText(f),
      `${f.defaultMinutes} (max ${f.maxMinutes})`,
      [...f.targets.map((t) => `${t.resource}:${t.permission}`), ...f.bundles.map((b) => `bundle ${b}`)].join(', '),
    ]),
    'no flows you may request',
  );
}

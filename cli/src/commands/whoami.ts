import { apiFor, unwrap } from '../api.ts';
import type { Ctx } from '../context.ts';
import { printFields, printJson } from '../output.ts';

/** JSON: GET /me as the API answers it (`sub`, `email`, `groups`, `manager`, `admin`, `auditor`) plus `url`. */
export async function run(ctx: Ctx): Promise<void> {
  const { api, session } = await apiFor(ctx);
  const me = unwrap(await api.GET('/me'));
  if (ctx.json) return printJson(ctx, { ...me, url: session.url });
  printFields(ctx, [
    ['user', me.sub],
    ['email', me.email],
    ['groups', me.groups.join(', ') || '(none)'],
    ['manager', me.manager],
    ['roles', [me.admin ? 'admin' : '', me.auditor ? 'auditor' : ''].filter(Boolean).join(', ') || undefined],
    ['api', session.url],
    ['signed in', session.kind === 'local' ? 'local runtime' : session.issuer],
  ]);
}

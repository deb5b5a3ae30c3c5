import { apiFor, unwrap } from '../api.ts';
import type { Ctx } from '../context.ts';
import { printJson } from '../output.ts';

export type Decision = 'approve' | 'reject' | 'cancel' | 'revoke';

/**
 * approve, reject, cancel and revoke: one POST each, with the reason. JSON: the request as the API answers it;
 * a refusal (not an approver, the requester's own request, a request already decided) exits 1 with the API's words.
 */
export function decide(action: Decision) {
  return async (ctx: Ctx, [id]: string[], options: { reason?: string }): Promise<void> => {
    const { api } = await apiFor(ctx);
    const params = {
      params: { path: { id: id as string } },
      body: options.reason === undefined ? {} : { reason: options.reason },
    };
    const result =
      action === 'approve'
        ? await api.POST('/requests/{id}/approve', params)
        : action === 'reject'
          ? await api.POST('/requests/{id}/reject', params)
          : action === 'cancel'
            ? await api.POST('/requests/{id}/cancel', params)
            : await api.POST('/requests/{id}/revoke', params);
    const request = unwrap(result);
    if (ctx.json) return printJson(ctx, request);
    ctx.out(`${request.id}  ${request.status}\n`);
  };
}

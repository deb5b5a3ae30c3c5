import { z } from 'zod';
import { AccessRequest } from '#lib/domain/request.ts';

/**
 * What callers see of a request: never task tokens, sealed secrets or target-side state.
 * Credentials are only served by GET /requests/{id}/access, to the grantee.
 */
export const RequestView = AccessRequest.omit({
  approvalToken: true,
  activeToken: true,
  grants: true,
  flow: true,
  attempt: true,
}).extend({
  flowName: z.string(),
  access: z.array(z.record(z.string(), z.union([z.string(), z.number()]))),
});
export type RequestView = z.infer<typeof RequestView>;

export function toRequestView(request: AccessRequest): RequestView {
  const { approvalToken: _a, activeToken: _t, grants, flow, attempt: _n, ...rest } = request;
  return {
    ...rest,
    flowName: flow.name,
    access: grants.map((g) => ({
      integrationId: g.unit.integrationId,
      resource: g.unit.resource,
      permission: g.unit.permission,
      ...g.access,
    })),
  };
}

import { ScimError } from '#lib/scim/errors.ts';
import { scimHandler } from '#lib/scim/handler.ts';
import { ListQuery, PatchRequest, ScimGroupInput } from '#lib/scim/schemas.ts';
import { scim } from '#lib/services/wiring/scim.ts';

/** Every /scim/v2/Groups route (functions/scim/routes.ts), by route key. */
export const handler = scimHandler(async (request) => {
  const id = request.params.id ?? '';
  switch (request.routeKey) {
    case 'GET /scim/v2/Groups':
      return scim().listGroups(request.queryAs(ListQuery), request.base);
    case 'POST /scim/v2/Groups':
      return scim().createGroup(request.body(ScimGroupInput), request.base);
    case 'GET /scim/v2/Groups/{id}':
      return scim().getGroup(id, request.queryAs(ListQuery), request.base);
    case 'PUT /scim/v2/Groups/{id}':
      return scim().replaceGroup(id, request.body(ScimGroupInput), request.base);
    case 'PATCH /scim/v2/Groups/{id}':
      return scim().patchGroup(id, request.body(PatchRequest, 'invalidSyntax'), request.base);
    case 'DELETE /scim/v2/Groups/{id}':
      return scim().deleteGroup(id);
    default:
      throw new ScimError(404, `no route ${request.routeKey}`);
  }
});

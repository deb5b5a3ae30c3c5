import { ScimError } from '#lib/scim/errors.ts';
import { scimHandler } from '#lib/scim/handler.ts';
import { ListQuery, PatchRequest, ScimUserInput } from '#lib/scim/schemas.ts';
import { scim } from '#lib/services/wiring/scim.ts';

/** Every /scim/v2/Users route (functions/scim/routes.ts), by route key. */
export const handler = scimHandler(async (request) => {
  const id = request.params.id ?? '';
  switch (request.routeKey) {
    case 'GET /scim/v2/Users':
      return scim().listUsers(request.queryAs(ListQuery), request.base);
    case 'POST /scim/v2/Users':
      return scim().createUser(request.body(ScimUserInput), request.base);
    case 'GET /scim/v2/Users/{id}':
      return scim().getUser(id, request.base);
    case 'PUT /scim/v2/Users/{id}':
      return scim().replaceUser(id, request.body(ScimUserInput), request.base);
    case 'PATCH /scim/v2/Users/{id}':
      return scim().patchUser(id, request.body(PatchRequest, 'invalidSyntax'), request.base);
    case 'DELETE /scim/v2/Users/{id}':
      return scim().deleteUser(id);
    default:
      throw new ScimError(404, `no route ${request.routeKey}`);
  }
});

import { ScimError } from '#lib/scim/errors.ts';
import { scimHandler } from '#lib/scim/handler.ts';
import { listOf, resourceTypes, schemas, serviceProviderConfig } from '#lib/scim/meta.ts';

/** SCIM discovery (RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas. Token-protected like the rest. */
export const handler = scimHandler(async (request) => {
  switch (request.routeKey) {
    case 'GET /scim/v2/ServiceProviderConfig':
      return { status: 200, body: serviceProviderConfig(request.base) };
    case 'GET /scim/v2/ResourceTypes':
      return { status: 200, body: listOf(resourceTypes(request.base)) };
    case 'GET /scim/v2/Schemas':
      return { status: 200, body: listOf(schemas(request.base)) };
    default:
      throw new ScimError(404, `no route ${request.routeKey}`);
  }
});

/**
 * The SCIM 2.0 routes (RFC 7644 §3.2), on the same HTTP API as functions/api/routes.ts but WITHOUT the JWT
 * authorizer: SCIM clients (Okta, Entra ID) present a static bearer token, which the handler verifies
 * (lib/scim/handler.ts). One Lambda per resource (functions/scim/<entry>.ts) dispatching on the route key; each
 * is granted the table (read/write) and read access to the SCIM token secret.
 */
export type ScimRoute = {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  /** File name under functions/scim/, without extension. */
  readonly entry: 'scim-users' | 'scim-groups' | 'scim-meta';
};

export const SCIM_BASE_PATH = '/scim/v2';

export const scimRoutes: readonly ScimRoute[] = [
  { method: 'GET', path: '/scim/v2/Users', entry: 'scim-users' },
  { method: 'POST', path: '/scim/v2/Users', entry: 'scim-users' },
  { method: 'GET', path: '/scim/v2/Users/{id}', entry: 'scim-users' },
  { method: 'PUT', path: '/scim/v2/Users/{id}', entry: 'scim-users' },
  { method: 'PATCH', path: '/scim/v2/Users/{id}', entry: 'scim-users' },
  { method: 'DELETE', path: '/scim/v2/Users/{id}', entry: 'scim-users' },
  { method: 'GET', path: '/scim/v2/Groups', entry: 'scim-groups' },
  { method: 'POST', path: '/scim/v2/Groups', entry: 'scim-groups' },
  { method: 'GET', path: '/scim/v2/Groups/{id}', entry: 'scim-groups' },
  { method: 'PUT', path: '/scim/v2/Groups/{id}', entry: 'scim-groups' },
  { method: 'PATCH', path: '/scim/v2/Groups/{id}', entry: 'scim-groups' },
  { method: 'DELETE', path: '/scim/v2/Groups/{id}', entry: 'scim-groups' },
  { method: 'GET', path: '/scim/v2/ServiceProviderConfig', entry: 'scim-meta' },
  { method: 'GET', path: '/scim/v2/ResourceTypes', entry: 'scim-meta' },
  { method: 'GET', path: '/scim/v2/Schemas', entry: 'scim-meta' },
];

/** The distinct Lambda entries of the SCIM routes. */
export const scimEntries = [...new Set(scimRoutes.map((r) => r.entry))];

import {
  DIRECTORY_LOOKUP,
  GROUP_LIST,
  GROUP_READ,
  GROUP_WRITE,
  ITEM_READ,
  type TableAction,
  tableActions,
  USER_DELETE,
  USER_LIST,
  USER_WRITE,
  USERS_BY_EXTERNAL_ID,
} from '#lib/store/access.ts';

/**
 * The SCIM 2.0 routes (RFC 7644 §3.2), on the same HTTP API as functions/api/routes.ts but WITHOUT the JWT
 * authorizer: SCIM clients (Okta, Entra ID) present a static bearer token, which the handler verifies
 * (lib/scim/handler.ts). One Lambda per resource (functions/scim/<entry>.ts) dispatching on the route key; each
 * is granted read access to the SCIM token secret and exactly the DynamoDB actions it calls (SCIM_TABLE_ACTIONS).
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

/** The DynamoDB actions of each SCIM function (lib/store/access.ts); discovery reads nothing. */
export const SCIM_TABLE_ACTIONS: Readonly<Record<ScimRoute['entry'], readonly TableAction[]>> = {
  'scim-users': tableActions(DIRECTORY_LOOKUP, USERS_BY_EXTERNAL_ID, ITEM_READ, USER_LIST, USER_WRITE, USER_DELETE),
  'scim-groups': tableActions(DIRECTORY_LOOKUP, GROUP_READ, GROUP_LIST, GROUP_WRITE),
  'scim-meta': [],
};

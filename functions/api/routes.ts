/**
 * The HTTP API's routes: the single list the CDK API construct and the local runtime both build from.
 * One Lambda per route (functions/api/<entry>.ts), each granted only what it needs:
 * - `read` / `write`: the table (every route with `auth: true` reads the directory to resolve its caller);
 * - `startExecution`: StartExecution on the state machine;
 * - `taskTokens`: SendTaskSuccess / SendTaskFailure on the state machine;
 * - `credentialsKey`: read the secret that seals issued credentials.
 */
export type RouteAccess = 'read' | 'write' | 'startExecution' | 'taskTokens' | 'credentialsKey';

export type Route = {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  /** File name under functions/api/, without extension. */
  readonly entry: string;
  /** false only for GET /health (the API description needs a token like every other route). */
  readonly auth: boolean;
  readonly access: readonly RouteAccess[];
};

export const routes: readonly Route[] = [
  { method: 'GET', path: '/health', entry: 'health', auth: false, access: [] },
  { method: 'GET', path: '/openapi.json', entry: 'openapi', auth: true, access: ['read'] },
  { method: 'GET', path: '/me', entry: 'get-me', auth: true, access: ['read'] },
  { method: 'GET', path: '/catalog', entry: 'get-catalog', auth: true, access: ['read'] },
  {
    method: 'POST',
    path: '/requests',
    entry: 'create-request',
    auth: true,
    access: ['read', 'write', 'startExecution'],
  },
  { method: 'GET', path: '/requests', entry: 'list-requests', auth: true, access: ['read'] },
  { method: 'GET', path: '/requests/{id}', entry: 'get-request', auth: true, access: ['read'] },
  {
    method: 'POST',
    path: '/requests/{id}/approve',
    entry: 'approve-request',
    auth: true,
    access: ['read', 'write', 'taskTokens'],
  },
  {
    method: 'POST',
    path: '/requests/{id}/reject',
    entry: 'reject-request',
    auth: true,
    access: ['read', 'write', 'taskTokens'],
  },
  {
    method: 'POST',
    path: '/requests/{id}/cancel',
    entry: 'cancel-request',
    auth: true,
    access: ['read', 'write', 'taskTokens'],
  },
  {
    method: 'POST',
    path: '/requests/{id}/revoke',
    entry: 'revoke-request',
    auth: true,
    access: ['read', 'write', 'taskTokens'],
  },
  {
    method: 'POST',
    path: '/requests/{id}/extend',
    entry: 'extend-request',
    auth: true,
    access: ['read', 'write', 'taskTokens'],
  },
  { method: 'GET', path: '/requests/{id}/access', entry: 'get-access', auth: true, access: ['read', 'credentialsKey'] },
  { method: 'GET', path: '/flows', entry: 'list-flows', auth: true, access: ['read'] },
  { method: 'GET', path: '/flows/{id}', entry: 'get-flow', auth: true, access: ['read'] },
  { method: 'PUT', path: '/flows/{id}', entry: 'put-flow', auth: true, access: ['read', 'write'] },
  { method: 'DELETE', path: '/flows/{id}', entry: 'delete-flow', auth: true, access: ['read', 'write'] },
  { method: 'GET', path: '/integrations', entry: 'list-integrations', auth: true, access: ['read'] },
  { method: 'GET', path: '/integrations/{id}', entry: 'get-integration', auth: true, access: ['read'] },
  { method: 'PUT', path: '/integrations/{id}', entry: 'put-integration', auth: true, access: ['read', 'write'] },
  { method: 'DELETE', path: '/integrations/{id}', entry: 'delete-integration', auth: true, access: ['read', 'write'] },
  { method: 'GET', path: '/bundles', entry: 'list-bundles', auth: true, access: ['read'] },
  { method: 'GET', path: '/bundles/{id}', entry: 'get-bundle', auth: true, access: ['read'] },
  { method: 'PUT', path: '/bundles/{id}', entry: 'put-bundle', auth: true, access: ['read', 'write'] },
  { method: 'DELETE', path: '/bundles/{id}', entry: 'delete-bundle', auth: true, access: ['read', 'write'] },
  { method: 'GET', path: '/directory/users', entry: 'list-directory-users', auth: true, access: ['read'] },
  { method: 'GET', path: '/directory/users/{id}', entry: 'get-directory-user', auth: true, access: ['read'] },
  { method: 'PUT', path: '/directory/users/{id}', entry: 'put-directory-user', auth: true, access: ['read', 'write'] },
  {
    method: 'DELETE',
    path: '/directory/users/{id}',
    entry: 'delete-directory-user',
    auth: true,
    access: ['read', 'write'],
  },
  {
    method: 'PUT',
    path: '/directory/users/{id}/accounts',
    entry: 'put-directory-user-accounts',
    auth: true,
    access: ['read', 'write'],
  },
  { method: 'GET', path: '/directory/groups', entry: 'list-directory-groups', auth: true, access: ['read'] },
  { method: 'GET', path: '/directory/groups/{id}', entry: 'get-directory-group', auth: true, access: ['read'] },
  {
    method: 'PUT',
    path: '/directory/groups/{id}',
    entry: 'put-directory-group',
    auth: true,
    access: ['read', 'write'],
  },
  {
    method: 'DELETE',
    path: '/directory/groups/{id}',
    entry: 'delete-directory-group',
    auth: true,
    access: ['read', 'write'],
  },
];

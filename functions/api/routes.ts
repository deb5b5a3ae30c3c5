import {
  CONFIG_BATCH_READ,
  CONFIG_DELETE,
  CONFIG_LIST,
  CONFIG_PUT,
  DIRECTORY_LOOKUP,
  GROUP_LIST,
  GROUP_READ,
  GROUP_WRITE,
  IDENTITY_READS,
  ITEM_READ,
  REQUEST_CREATE,
  REQUEST_LISTS,
  REQUEST_UPDATE,
  type TableAction,
  tableActions,
  USER_DELETE,
  USER_LIST,
  USER_WRITE,
} from '#lib/store/access.ts';

/**
 * The HTTP API's routes: the single list the CDK API construct and the local runtime both build from.
 * One Lambda per route (functions/api/<entry>.ts), each granted only what it needs:
 * - `dynamo`: exactly the DynamoDB actions its code calls on the table (lib/store/access.ts), nothing when empty
 *   (every route with `auth: true` also reads the directory to resolve its caller: `authenticated()`);
 * - `startExecution`: StartExecution on the state machine;
 * - `taskSuccess` / `taskFailure`: SendTaskSuccess / SendTaskFailure on the state machine;
 * - `credentialsKey`: read the secret that seals issued credentials;
 * - `lambdaIntegrations`: know (and in tag mode check) the functions custom integrations may call;
 * - `invokeDrivers`: call the driver functions directly (issued credentials, discovery).
 */
export type RouteAccess =
  | 'startExecution'
  | 'taskSuccess'
  | 'taskFailure'
  | 'credentialsKey'
  | 'lambdaIntegrations'
  | 'invokeDrivers'
  /** Asks the on-call providers (STINT_ONCALL and their API keys): votes, request creation, the approval view, the approvals listing. */
  | 'oncall'
  /** Knows the on-call providers' names (STINT_ONCALL, no key): flow writes check what a flow names. */
  | 'oncallNames';

export type Route = {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  /** File name under functions/api/, without extension. */
  readonly entry: string;
  /**
   * false only for GET /health and GET /auth-config (what `stint login` reads before it has a token); the API
   * description needs a token like every other route.
   */
  readonly auth: boolean;
  readonly dynamo: readonly TableAction[];
  readonly access: readonly RouteAccess[];
};

/** What a route reads besides resolving its caller (IDENTITY_READS, which every authenticated route does). */
const authenticated = (...sets: (readonly TableAction[])[]): readonly TableAction[] =>
  tableActions(IDENTITY_READS, ...sets);

export const routes: readonly Route[] = [
  { method: 'GET', path: '/health', entry: 'health', auth: false, dynamo: [], access: [] },
  { method: 'GET', path: '/auth-config', entry: 'auth-config', auth: false, dynamo: [], access: [] },
  { method: 'GET', path: '/openapi.json', entry: 'openapi', auth: true, dynamo: authenticated(), access: [] },
  { method: 'GET', path: '/me', entry: 'get-me', auth: true, dynamo: authenticated(), access: [] },
  { method: 'GET', path: '/catalog', entry: 'get-catalog', auth: true, dynamo: authenticated(CONFIG_LIST), access: [] },
  {
    method: 'POST',
    path: '/requests',
    entry: 'create-request',
    auth: true,
    dynamo: authenticated(ITEM_READ, CONFIG_BATCH_READ, REQUEST_CREATE),
    access: ['startExecution', 'oncall'],
  },
  {
    method: 'GET',
    path: '/requests',
    entry: 'list-requests',
    auth: true,
    // scope=approvals lists the flows for their on-call queries and asks the providers who is on call now.
    dynamo: authenticated(REQUEST_LISTS, CONFIG_LIST),
    access: ['oncall'],
  },
  {
    method: 'GET',
    path: '/requests/{id}',
    entry: 'get-request',
    auth: true,
    dynamo: authenticated(ITEM_READ),
    access: ['oncall'],
  },
  {
    method: 'POST',
    path: '/requests/{id}/approve',
    entry: 'approve-request',
    auth: true,
    dynamo: authenticated(REQUEST_UPDATE),
    // A vote that completes the tally resumes the wait; one that rejects (an earlier tier's reject now counting) fails it.
    access: ['taskSuccess', 'taskFailure', 'oncall'],
  },
  {
    method: 'POST',
    path: '/requests/{id}/reject',
    entry: 'reject-request',
    auth: true,
    dynamo: authenticated(REQUEST_UPDATE),
    access: ['taskSuccess', 'taskFailure', 'oncall'],
  },
  {
    method: 'POST',
    path: '/requests/{id}/cancel',
    entry: 'cancel-request',
    auth: true,
    dynamo: authenticated(REQUEST_UPDATE),
    access: ['taskFailure'],
  },
  {
    method: 'POST',
    path: '/requests/{id}/revoke',
    entry: 'revoke-request',
    auth: true,
    dynamo: authenticated(REQUEST_UPDATE),
    access: ['taskSuccess'],
  },
  {
    method: 'POST',
    path: '/requests/{id}/extend',
    entry: 'extend-request',
    auth: true,
    dynamo: authenticated(REQUEST_UPDATE),
    access: ['taskSuccess'],
  },
  {
    method: 'GET',
    path: '/requests/{id}/access',
    entry: 'get-access',
    auth: true,
    dynamo: authenticated(ITEM_READ),
    access: ['credentialsKey', 'invokeDrivers'],
  },
  { method: 'GET', path: '/flows', entry: 'list-flows', auth: true, dynamo: authenticated(CONFIG_LIST), access: [] },
  { method: 'GET', path: '/flows/{id}', entry: 'get-flow', auth: true, dynamo: authenticated(ITEM_READ), access: [] },
  {
    method: 'PUT',
    path: '/flows/{id}',
    entry: 'put-flow',
    auth: true,
    dynamo: authenticated(CONFIG_BATCH_READ, CONFIG_PUT),
    access: ['oncallNames'],
  },
  {
    method: 'DELETE',
    path: '/flows/{id}',
    entry: 'delete-flow',
    auth: true,
    dynamo: authenticated(CONFIG_DELETE),
    access: [],
  },
  {
    method: 'GET',
    path: '/integrations',
    entry: 'list-integrations',
    auth: true,
    dynamo: authenticated(CONFIG_LIST),
    access: [],
  },
  {
    method: 'GET',
    path: '/integrations/{id}',
    entry: 'get-integration',
    auth: true,
    dynamo: authenticated(ITEM_READ),
    access: [],
  },
  {
    method: 'GET',
    path: '/integrations/{id}/discover',
    entry: 'discover-integration',
    auth: true,
    dynamo: authenticated(ITEM_READ),
    access: ['invokeDrivers'],
  },
  {
    method: 'PUT',
    path: '/integrations/{id}',
    entry: 'put-integration',
    auth: true,
    dynamo: authenticated(CONFIG_PUT),
    access: ['lambdaIntegrations'],
  },
  {
    method: 'DELETE',
    path: '/integrations/{id}',
    entry: 'delete-integration',
    auth: true,
    dynamo: authenticated(CONFIG_DELETE),
    access: [],
  },
  {
    method: 'GET',
    path: '/bundles',
    entry: 'list-bundles',
    auth: true,
    dynamo: authenticated(CONFIG_LIST),
    access: [],
  },
  {
    method: 'GET',
    path: '/bundles/{id}',
    entry: 'get-bundle',
    auth: true,
    dynamo: authenticated(ITEM_READ),
    access: [],
  },
  {
    method: 'PUT',
    path: '/bundles/{id}',
    entry: 'put-bundle',
    auth: true,
    dynamo: authenticated(CONFIG_BATCH_READ, CONFIG_PUT),
    access: [],
  },
  {
    method: 'DELETE',
    path: '/bundles/{id}',
    entry: 'delete-bundle',
    auth: true,
    dynamo: authenticated(CONFIG_DELETE),
    access: [],
  },
  {
    method: 'GET',
    path: '/directory/users',
    entry: 'list-directory-users',
    auth: true,
    dynamo: authenticated(DIRECTORY_LOOKUP, USER_LIST),
    access: [],
  },
  {
    method: 'GET',
    path: '/directory/users/{id}',
    entry: 'get-directory-user',
    auth: true,
    dynamo: authenticated(ITEM_READ),
    access: [],
  },
  {
    method: 'PUT',
    path: '/directory/users/{id}',
    entry: 'put-directory-user',
    auth: true,
    dynamo: authenticated(USER_WRITE),
    access: [],
  },
  {
    method: 'DELETE',
    path: '/directory/users/{id}',
    entry: 'delete-directory-user',
    auth: true,
    dynamo: authenticated(USER_DELETE),
    access: [],
  },
  {
    method: 'PUT',
    path: '/directory/users/{id}/accounts',
    entry: 'put-directory-user-accounts',
    auth: true,
    dynamo: authenticated(DIRECTORY_LOOKUP, USER_WRITE),
    access: [],
  },
  {
    method: 'GET',
    path: '/directory/groups',
    entry: 'list-directory-groups',
    auth: true,
    dynamo: authenticated(DIRECTORY_LOOKUP, GROUP_READ, GROUP_LIST),
    access: [],
  },
  {
    method: 'GET',
    path: '/directory/groups/{id}',
    entry: 'get-directory-group',
    auth: true,
    dynamo: authenticated(GROUP_READ),
    access: [],
  },
  {
    method: 'PUT',
    path: '/directory/groups/{id}',
    entry: 'put-directory-group',
    auth: true,
    dynamo: authenticated(GROUP_WRITE),
    access: [],
  },
  {
    method: 'DELETE',
    path: '/directory/groups/{id}',
    entry: 'delete-directory-group',
    auth: true,
    dynamo: authenticated(GROUP_WRITE),
    access: [],
  },
];

/**
 * The DynamoDB actions a function may be granted on the one table, named by what the code calls, so each function's
 * role holds exactly the calls its code makes (infra/constructs/stint-function.ts `grantTable`). `Query` is a Query
 * of the base table; `Query:<index>` a Query of that GSI. There is no Scan, no transaction and no stream read here:
 * the design uses none of them (the publisher's stream read comes with its event source mapping).
 *
 * The named sets below are what each store method sends; a function's list is the union of the sets of the methods
 * it reaches (`tableActions(...)`). The local runtime refuses a call the calling function's role does not allow
 * (lib/local/iam.ts), so a new call without its permission fails the local and end-to-end tests.
 */
export const TABLE_ACTIONS = [
  'GetItem',
  'BatchGetItem',
  'Query',
  'Query:gsi1',
  'Query:gsi2',
  'Query:gsi3',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
] as const;
export type TableAction = (typeof TABLE_ACTIONS)[number];

/** The union of several sets, in TABLE_ACTIONS order, without repeats. */
export function tableActions(...sets: readonly (readonly TableAction[])[]): readonly TableAction[] {
  const wanted = new Set(sets.flat());
  return TABLE_ACTIONS.filter((a) => wanted.has(a));
}

// ─── Store (lib/store/store.ts) ─────────────────────────────────────────────────────────────────────────────

/** getRequest, getFlow, getBundle, getIntegration: one GetItem. */
export const ITEM_READ = ['GetItem'] as const satisfies readonly TableAction[];
/** getRequestWithIntegrations (a driver step's first read): the request and its integrations in one BatchGetItem. */
export const REQUEST_WITH_INTEGRATIONS = ['BatchGetItem'] as const satisfies readonly TableAction[];
/** updateRequest: GetItem of the request, then a conditional PutItem of the next version. */
export const REQUEST_UPDATE = ['GetItem', 'PutItem'] as const satisfies readonly TableAction[];
/** setRequestToken: one conditional UpdateItem (the task token of a wait), no read. */
export const REQUEST_TOKEN = ['UpdateItem'] as const satisfies readonly TableAction[];
/** createRequest: the approver pointers in one BatchWriteItem (puts only), then the request (PutItem). */
export const REQUEST_CREATE = ['BatchWriteItem', 'PutItem'] as const satisfies readonly TableAction[];
/** listRequestsByRequester (gsi1), listRequestsAwaitingApprover (approver pointers, then BatchGetItem), listAllRequests (gsi3). */
export const REQUEST_LISTS = [
  'Query:gsi1',
  'Query',
  'BatchGetItem',
  'Query:gsi3',
] as const satisfies readonly TableAction[];
/** listRequestsByStatus: the status shards of gsi2. */
export const STATUS_LIST = ['Query:gsi2'] as const satisfies readonly TableAction[];
/** getIntegrations, getBundles: BatchGetItem. */
export const CONFIG_BATCH_READ = ['BatchGetItem'] as const satisfies readonly TableAction[];
/** listFlows, listIntegrations, listBundles: Query of the gsi1 listing partition. */
export const CONFIG_LIST = ['Query:gsi1'] as const satisfies readonly TableAction[];
/** putFlow, putIntegration, putBundle: GetItem of the stored version, conditional PutItem. */
export const CONFIG_PUT = ['GetItem', 'PutItem'] as const satisfies readonly TableAction[];
/** deleteFlow, deleteIntegration, deleteBundle: a soft delete, one conditional UpdateItem. */
export const CONFIG_DELETE = ['UpdateItem'] as const satisfies readonly TableAction[];
/** addLeaseHolder, removeLeaseHolder: UpdateItem, GetItem after a no-op. */
export const LEASE_UPDATE = ['UpdateItem', 'GetItem'] as const satisfies readonly TableAction[];

// ─── Directory (lib/directory/store.ts) ─────────────────────────────────────────────────────────────────────

/**
 * Who the caller is: `userById` (GetItem; a BatchGetItem with the items a route reads first, lib/store/read-ahead.ts)
 * and `groupsOf` (Query of the member-of partition in gsi1, BatchGetItem of the groups). Every authenticated API
 * route resolves its caller this way.
 */
export const IDENTITY_READS = ['GetItem', 'Query:gsi1', 'BatchGetItem'] as const satisfies readonly TableAction[];
/** userByEmail, userByAccount, userByUserName, groupByName: GetItem of the pointer, then of the item. */
export const DIRECTORY_LOOKUP = ['GetItem'] as const satisfies readonly TableAction[];
/** groupById, memberIds: GetItem of the group, Query of its member items (base table). */
export const GROUP_READ = ['GetItem', 'Query'] as const satisfies readonly TableAction[];
/** membersOf (notifications): groupByName, then BatchGetItem of the members. */
export const GROUP_MEMBERS = ['GetItem', 'Query', 'BatchGetItem'] as const satisfies readonly TableAction[];
/** usersByExternalId: Query of gsi3, then GetItem of each user. */
export const USERS_BY_EXTERNAL_ID = ['Query:gsi3', 'GetItem'] as const satisfies readonly TableAction[];
/** listUsers: Query of the gsi1 listing partition. */
export const USER_LIST = ['Query:gsi1'] as const satisfies readonly TableAction[];
/** listGroups: Query of the gsi1 listing partition, then each group's member items (base table). */
export const GROUP_LIST = ['Query:gsi1', 'Query'] as const satisfies readonly TableAction[];
/**
 * linkAccount (a chat channel proved who a person is): as USER_WRITE, but a value is only added, never given up,
 * so nothing is released (no DeleteItem).
 */
export const ACCOUNT_LINK = ['GetItem', 'PutItem'] as const satisfies readonly TableAction[];
/**
 * createUser, updateUser, linkAccount: GetItem, the unique values claimed with conditional PutItems (GetItem of a
 * held pointer), the user PutItem, released values DeleteItem.
 */
export const USER_WRITE = ['GetItem', 'PutItem', 'DeleteItem'] as const satisfies readonly TableAction[];
/** deleteUser: as USER_WRITE, then its memberships (Query of gsi1) removed in BatchWriteItem. */
export const USER_DELETE = [
  'GetItem',
  'PutItem',
  'DeleteItem',
  'Query:gsi1',
  'BatchWriteItem',
] as const satisfies readonly TableAction[];
/**
 * createGroup, updateGroup, changeMembers, deleteGroup: GROUP_READ, the members checked (BatchGetItem), the name
 * claimed and released (PutItem, DeleteItem), the group PutItem, the memberships in BatchWriteItem.
 */
export const GROUP_WRITE = [
  'GetItem',
  'Query',
  'BatchGetItem',
  'PutItem',
  'DeleteItem',
  'BatchWriteItem',
] as const satisfies readonly TableAction[];

// ─── Channels (lib/channels) ────────────────────────────────────────────────────────────────────────────────

/**
 * A chat or ticket user mapped to a Stint identity: userByAccount / userByEmail (GetItem), linkAccount
 * (ACCOUNT_LINK), identityOf (IDENTITY_READS).
 */
export const CHAT_IDENTITY = tableActions(DIRECTORY_LOOKUP, ACCOUNT_LINK, IDENTITY_READS);
/** Who to notify (lib/channels/approvers.ts): userById (GetItem), membersOf (GROUP_MEMBERS). */
export const APPROVER_LOOKUP = GROUP_MEMBERS;
/** SentClaims (lib/channels/sent-claims.ts): claim (PutItem, GetItem of a held claim), markSent (PutItem), release (DeleteItem). */
export const SENT_CLAIMS = ['PutItem', 'GetItem', 'DeleteItem'] as const satisfies readonly TableAction[];
/** Slack's replay guard: one conditional PutItem per signature. */
export const SLACK_REPLAY_GUARD = ['PutItem'] as const satisfies readonly TableAction[];
/** Jira's replay guard: one conditional PutItem per signature, DeleteItem when the webhook failed (Jira retries). */
export const JIRA_REPLAY_GUARD = ['PutItem', 'DeleteItem'] as const satisfies readonly TableAction[];
/** SlackState posts (GetItem) and addPosts (UpdateItem). */
export const SLACK_POSTS = ['GetItem', 'UpdateItem'] as const satisfies readonly TableAction[];
/** TeamsState record (Query of the request's Teams partition, base table) and markRendered (UpdateItem). */
export const TEAMS_RECORD = ['Query', 'UpdateItem'] as const satisfies readonly TableAction[];

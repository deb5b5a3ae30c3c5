/**
 * The one table's physical shape, shared by the CDK construct (infra/constructs/data.ts), the local runtime
 * (which reads it back from the template) and the store tests (dynalite). Access patterns: lib/store/README.md.
 */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Every index projects ALL attributes and uses string keys. */
  indexes: [
    /** Requests by requester (`REQUESTER#<sub>`); configuration lists (`FLOWS`, `INTEGRATIONS`, `BUNDLES`). */
    { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
    /** Sparse: non-terminal requests by status, 8 shards (`STATUS#<status>#<n>`), sorted by due time. */
    { name: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
    /** Requests by creation day (`DAY#<yyyy-mm-dd>`), for the all-requests listing. */
    { name: 'gsi3', partitionKey: 'gsi3pk', sortKey: 'gsi3sk' },
  ],
  ttlAttribute: 'ttl',
  streamView: 'NEW_AND_OLD_IMAGES',
} as const;

/** Key and index attributes; parsing an item strips them (and `entity`). */
export const KEY_ATTRIBUTES = [
  'pk',
  'sk',
  'gsi1pk',
  'gsi1sk',
  'gsi2pk',
  'gsi2sk',
  'gsi3pk',
  'gsi3sk',
  'ttl',
  'entity',
  'noEvent',
] as const;

/**
 * Set by a write whose change is no audit event (a request's task token: Store.setRequestToken); every full write of
 * the item drops it. The publisher's stream filter does not deliver such records (infra/constructs/events.ts).
 */
export const NO_EVENT_ATTRIBUTE = 'noEvent' satisfies (typeof KEY_ATTRIBUTES)[number];

/** Every item has `entity` naming what it holds; domain fields sit at the top level. */
export type Entity =
  | 'request'
  | 'flow'
  | 'bundle'
  | 'integration'
  | 'lease'
  | 'approver-pointer'
  /** Where a request's Slack messages were posted (lib/channels/slack/state.ts). */
  | 'slack-posts'
  /** One Slack message of a request claimed or sent by the notify function (lib/channels/slack/state.ts). */
  | 'slack-sent'
  /** A used Slack request signature (replay protection, 10-minute TTL). */
  | 'slack-replay'
  /** A Teams approval card and a Teams notice of a request: claimed before sending, then sent (lib/channels/teams/state.ts). */
  | 'teams-copy'
  | 'teams-notice'
  /** A used Jira webhook body signature (replay protection, lib/channels/jira/state.ts). */
  | 'jira-replay'
  /** The identity directory (lib/directory/keys.ts): users, groups, memberships and unique-value pointers. */
  | 'directory-user'
  | 'directory-group'
  | 'directory-member'
  | 'directory-pointer';

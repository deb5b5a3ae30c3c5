import { type Entity, NO_EVENT_ATTRIBUTE } from '#lib/store/table.ts';

/** Items whose changes are never audit events (lib/events/from-stream.ts returns none for them). */
export const SILENT_ENTITIES = [
  'lease',
  'approver-pointer',
  'slack-posts',
  'slack-sent',
  'slack-replay',
  'teams-copy',
  'teams-notice',
  'jira-replay',
  'directory-member',
  'directory-pointer',
] as const satisfies readonly Entity[];
export type SilentEntity = (typeof SILENT_ENTITIES)[number];

export function isSilentEntity(entity: string): entity is SilentEntity {
  return (SILENT_ENTITIES as readonly string[]).includes(entity);
}

/**
 * The publisher's stream filter (Lambda event filtering, FilterCriteria of its event source mapping; records no filter
 * matches are neither delivered nor billed). It may only drop records the publisher turns into no event: REMOVEs
 * (TTL expiry), silent entities, and writes marked NO_EVENT_ATTRIBUTE (a request's task token). An image the
 * publisher cannot read (no `entity`) still reaches it, so it is reported as failed rather than dropped here.
 * Patterns are in the stream's DynamoDB JSON; `exists` applies to leaves only (`{ S: … }`, `{ BOOL: … }`).
 */
export const PUBLISHER_FILTERS = [
  {
    eventName: ['INSERT', 'MODIFY'],
    dynamodb: {
      NewImage: {
        entity: { S: [{ 'anything-but': [...SILENT_ENTITIES] }] },
        [NO_EVENT_ATTRIBUTE]: { BOOL: [{ exists: false }] },
      },
    },
  },
  { eventName: ['INSERT', 'MODIFY'], dynamodb: { NewImage: { entity: { S: [{ exists: false }] } } } },
];

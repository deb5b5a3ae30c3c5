import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';

/**
 * What Teams notifications have done for a request, in the one table (entities `teams-copy` and `teams-notice`; the
 * stream publisher makes no event of them). One partition per request, one item per copy or notice, each written
 * with one conditional put, so EventBridge redelivering an event (or retrying one that half failed) finds what was
 * already done and does only the rest. Kept out of the request item: recording a card must not bump the request's
 * version and race with votes. Read with one strongly consistent Query of the partition (never a Scan).
 *
 * | item          | pk                   | sk                                             | ttl                  |
 * |---------------|----------------------|------------------------------------------------|----------------------|
 * | teams-copy    | `TEAMS#<requestId>`  | `COPY#approver#<subject>` / `COPY#channel#<id>` | 90 days after posting |
 * | teams-notice  | `TEAMS#<requestId>`  | `NOTICE#<notice>#<subject>`                    | 90 days after sending |
 *
 * A copy also records the request version its card last showed (`renderedVersion`), so a retried update skips the
 * copies already up to date and an older event never overwrites a newer card's record.
 */
const TTL_SECONDS = 90 * 24 * 3600;

/** One copy of a request's approval card: where it is, and why its reader is shown it. */
export const TeamsCopy = z.object({
  conversationId: z.string().min(1).max(1024),
  activityId: z.string().min(1).max(256),
  /** `approver`: a 1:1 chat with an approver (subject in `approver`); `channel`: a thread in the flow's channel. */
  kind: z.enum(['approver', 'channel']),
  approver: z.string().min(1).optional(),
  channel: z.string().min(1).optional(),
  why: z.string().max(500).optional(),
  /** The request version the card last showed. */
  renderedVersion: z.number().int().positive().optional(),
});
export type TeamsCopy = z.infer<typeof TeamsCopy>;

/** What a copy is, for deduplication: the approver it was sent to, or the channel it was posted in. */
export function copyKey(copy: Pick<TeamsCopy, 'kind' | 'approver' | 'channel'>): string {
  return copy.kind === 'approver' ? `approver#${copy.approver ?? ''}` : `channel#${copy.channel ?? ''}`;
}

const CopyItem = TeamsCopy.extend({ entity: z.literal('teams-copy') });
const NoticeItem = z.object({ entity: z.literal('teams-notice'), sk: z.string().startsWith('NOTICE#') });

export type TeamsRecord = { copies: TeamsCopy[]; notices: Set<string> };

const epochSeconds = (date: Date) => Math.floor(date.getTime() / 1000);
const pk = (requestId: string) => `TEAMS#${requestId}`;

export class TeamsState {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Every copy and sent notice of a request (one partition, strongly consistent). */
  async record(requestId: string): Promise<TeamsRecord> {
    const record: TeamsRecord = { copies: [], notices: new Set() };
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pk(requestId) },
          ConsistentRead: true,
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
      for (const item of page.Items ?? []) {
        if (item.entity === 'teams-copy') record.copies.push(TeamsCopy.parse(CopyItem.parse(item)));
        else if (item.entity === 'teams-notice') record.notices.add(NoticeItem.parse(item).sk.slice('NOTICE#'.length));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return record;
  }

  /** Records a posted copy; false when one with the same key was recorded first (a concurrent delivery). */
  async addCopy(requestId: string, copy: TeamsCopy, now: Date): Promise<boolean> {
    return this.putOnce({
      pk: pk(requestId),
      sk: `COPY#${copyKey(copy)}`,
      entity: 'teams-copy',
      ...TeamsCopy.parse(copy),
      ttl: epochSeconds(now) + TTL_SECONDS,
    });
  }

  /** Records a sent notice (`<notice>#<subject>`); false when it was recorded already. */
  async addNotice(requestId: string, notice: string, now: Date): Promise<boolean> {
    return this.putOnce({
      pk: pk(requestId),
      sk: `NOTICE#${notice}`,
      entity: 'teams-notice',
      ttl: epochSeconds(now) + TTL_SECONDS,
    });
  }

  /**
   * Records that a copy now shows `version` of the request; false when it already records that version or a newer
   * one (another delivery rendered a later state: the caller renders again from a fresh read).
   */
  async markRendered(requestId: string, copy: TeamsCopy, version: number): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: pk(requestId), sk: `COPY#${copyKey(copy)}` },
          UpdateExpression: 'SET #rendered = :version',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#rendered) OR #rendered < :version)',
          ExpressionAttributeNames: { '#rendered': 'renderedVersion' },
          ExpressionAttributeValues: { ':version': version },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  private async putOnce(item: Record<string, unknown>): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

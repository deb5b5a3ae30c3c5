import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { type SendClaim, SentClaims } from '#lib/channels/sent-claims.ts';

/**
 * What Teams notifications have done for a request, in the one table (entities `teams-copy` and `teams-notice`; the
 * stream publisher makes no event of them). One partition per request, one item per copy or notice. Kept out of the
 * request item: recording a card must not bump the request's version and race with votes. Read with one strongly
 * consistent Query of the partition (never a Scan).
 *
 * | item          | pk                   | sk                                             | ttl                  |
 * |---------------|----------------------|------------------------------------------------|----------------------|
 * | teams-copy    | `TEAMS#<requestId>`  | `COPY#approver#<subject>` / `COPY#channel#<id>` | 90 days after the claim |
 * | teams-notice  | `TEAMS#<requestId>`  | `NOTICE#<notice>#<subject>`                    | 90 days after the claim |
 *
 * Each item is first a send claim (lib/channels/sent-claims.ts, as Slack's `slack-sent`): put (`sending`) with one
 * conditional write before the card or notice goes out, rewritten `sent` after it (a copy then also keeps where the
 * card is), deleted again when the call failed. So two deliveries of one event running at the same time send each
 * card and notice once, and a retry sends only what is missing. A claim older than STALE_CLAIM_SECONDS (above the
 * notify function's 60 s timeout: only a dead run leaves one) is taken over. Items written before claims existed have
 * no `state` and count as sent.
 *
 * A copy also records the request version its card last showed (`renderedVersion`), so a retried update skips the
 * copies already up to date and an older event never overwrites a newer card's record.
 */
const TTL_SECONDS = 90 * 24 * 3600;
export const STALE_CLAIM_SECONDS = 90;

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

const ClaimState = z.enum(['sending', 'sent']).optional();
const CopyItem = z.object({ entity: z.literal('teams-copy'), state: ClaimState });
const NoticeItem = z.object({
  entity: z.literal('teams-notice'),
  sk: z.string().startsWith('NOTICE#'),
  state: ClaimState,
});

/**
 * A card or notice to send once: `copy` names a copy by copyKey (`approver#<subject>` / `channel#<id>`), `notice` by
 * `<notice>#<subject>`.
 */
export type TeamsMessage = { copy: string } | { notice: string };

export type TeamsRecord = { copies: TeamsCopy[]; notices: Set<string> };

const pk = (requestId: string) => `TEAMS#${requestId}`;
const copySk = (key: string) => `COPY#${key}`;

function messageKey(requestId: string, message: TeamsMessage) {
  return { pk: pk(requestId), sk: 'copy' in message ? copySk(message.copy) : `NOTICE#${message.notice}` };
}

export class TeamsState {
  private readonly copies: SentClaims;
  private readonly notices: SentClaims;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    const options = { ttlSeconds: TTL_SECONDS, staleSeconds: STALE_CLAIM_SECONDS };
    this.copies = new SentClaims(doc, tableName, { ...options, entity: 'teams-copy' });
    this.notices = new SentClaims(doc, tableName, { ...options, entity: 'teams-notice' });
  }

  /** Every sent copy and notice of a request (one partition, strongly consistent); claims still sending are left out. */
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
        if (item.entity === 'teams-copy') {
          if (CopyItem.parse(item).state !== 'sending') record.copies.push(TeamsCopy.parse(item));
        } else if (item.entity === 'teams-notice') {
          const notice = NoticeItem.parse(item);
          if (notice.state !== 'sending') record.notices.add(notice.sk.slice('NOTICE#'.length));
        }
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return record;
  }

  /** Claims a card or notice before it is sent, once (or takes over a stale claim). */
  async claimSend(requestId: string, message: TeamsMessage, now: Date): Promise<SendClaim> {
    return this.claims(message).claim(messageKey(requestId, message), now);
  }

  /** Marks a claimed copy sent and records where the card is, in one write: later deliveries skip it. */
  async markCopySent(requestId: string, copy: TeamsCopy, now: Date): Promise<void> {
    await this.copies.markSent(messageKey(requestId, { copy: copyKey(copy) }), now, TeamsCopy.parse(copy));
  }

  /** Marks a claimed notice (`<notice>#<subject>`) sent: later deliveries skip it. */
  async markNoticeSent(requestId: string, notice: string, now: Date): Promise<void> {
    await this.notices.markSent(messageKey(requestId, { notice }), now);
  }

  /** Gives a claim back after a failed call (never a sent item), so a redelivery may try again. */
  async releaseSend(requestId: string, message: TeamsMessage): Promise<void> {
    await this.claims(message).release(messageKey(requestId, message));
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
          Key: messageKey(requestId, { copy: copyKey(copy) }),
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

  private claims(message: TeamsMessage): SentClaims {
    return 'copy' in message ? this.copies : this.notices;
  }
}

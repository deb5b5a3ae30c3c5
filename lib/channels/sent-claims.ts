import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';

/**
 * "Send once" claims of the chat channels (Slack's `slack-sent`, Teams' `teams-copy` and `teams-notice` items): each
 * message a notify function sends is claimed (`sending`) by one conditional put before the call to the chat service,
 * marked `sent` after it, deleted again when the call failed, so two deliveries of one event running at the same time
 * send it once and the redelivery that follows a failure sends only what is missing. A claim older than
 * `staleSeconds` belongs to an invocation that died and may be taken over: `staleSeconds` must stay above the notify
 * function's timeout (an infra test checks each channel), so a live run never races a takeover. Single-item
 * conditional writes only (no transaction).
 */

/** `claimed`: go ahead and send; `sent`: an earlier delivery did; `busy`: another invocation is sending it now. */
export type SendClaim = 'claimed' | 'sent' | 'busy';

export type ClaimKey = { pk: string; sk: string };

export type SentClaimsOptions = {
  /** The item's `entity` (the stream publisher must know it). */
  entity: string;
  ttlSeconds: number;
  /** Age after which a `sending` claim is taken over; above the notify function's timeout. */
  staleSeconds: number;
};

/** An item that exists and is not a `sending` claim is sent (items written before claims existed have no state). */
const ClaimItem = z.object({ state: z.enum(['sending', 'sent']).optional() });

const epochSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

export class SentClaims {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly options: SentClaimsOptions,
  ) {}

  /** Claims one message, once (or takes over a stale claim). */
  async claim(key: ClaimKey, now: Date): Promise<SendClaim> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.item(key, 'sending', now),
          ConditionExpression: 'attribute_not_exists(pk) OR (#state = :sending AND #claimedAt < :stale)',
          ExpressionAttributeNames: { '#state': 'state', '#claimedAt': 'claimedAt' },
          ExpressionAttributeValues: {
            ':sending': 'sending',
            ':stale': now.getTime() - this.options.staleSeconds * 1000,
          },
        }),
      );
      return 'claimed';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    // Gone again (its sender gave it back just now): busy, the redelivery claims it.
    if (Item === undefined) return 'busy';
    const parsed = ClaimItem.safeParse(Item);
    return parsed.success && parsed.data.state !== 'sending' ? 'sent' : 'busy';
  }

  /** Marks a claimed message sent (`attributes`: what to keep about it, e.g. where it is): later deliveries skip it. */
  async markSent(key: ClaimKey, now: Date, attributes: Record<string, unknown> = {}): Promise<void> {
    await this.doc.send(
      new PutCommand({ TableName: this.tableName, Item: { ...attributes, ...this.item(key, 'sent', now) } }),
    );
  }

  /** Gives a claim back after a failed call (never a `sent` mark), so a redelivery may try again. */
  async release(key: ClaimKey): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: key,
          ConditionExpression: '#state = :sending',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':sending': 'sending' },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  private item(key: ClaimKey, state: 'sending' | 'sent', now: Date) {
    return {
      ...key,
      entity: this.options.entity,
      state,
      claimedAt: now.getTime(),
      ttl: epochSeconds(now) + this.options.ttlSeconds,
    };
  }
}

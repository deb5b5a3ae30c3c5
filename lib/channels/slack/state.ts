import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { type SendClaim, SentClaims } from '#lib/channels/sent-claims.ts';
import type { ReplayGuard } from './verify.ts';

/**
 * Slack's own items in the one table (entities `slack-posts`, `slack-sent` and `slack-replay`; the stream publisher
 * makes no event of them). Kept out of the request item on purpose: recording where a message was posted must not
 * bump the request's version and race with votes.
 *
 * | item          | pk                                  | sk       | ttl                          |
 * |---------------|-------------------------------------|----------|------------------------------|
 * | slack-posts   | `SLACK#<requestId>`                 | `SLACK`  | 90 days after the last post  |
 * | slack-sent    | `SLACK-SENT#<requestId>#<message>`  | `SENT`   | 90 days after the claim      |
 * | slack-replay  | `SLACK-REPLAY#<signature>`          | `REPLAY` | 10 minutes after first use   |
 *
 * `slack-sent` makes each message the notify function sends (an approver's DM, the flow channel's post, a notice to
 * the requester or grantee) happen once across redeliveries of its event: claimed (`sending`) by one conditional put
 * before the call to Slack, marked `sent` after it, deleted again when the call failed, so the redelivery that follows
 * sends only what is missing. A claim older than STALE_CLAIM_SECONDS belongs to an invocation that died (the function
 * runs for at most 60 s) and may be taken over. The claims are lib/channels/sent-claims.ts, which Teams shares.
 */
export const REPLAY_TTL_SECONDS = 10 * 60;
const POSTS_TTL_SECONDS = 90 * 24 * 3600;
export const STALE_CLAIM_SECONDS = 90;

/** One copy of a request's approval message: where it is, and why its reader is shown it. */
export const SlackPost = z.object({
  channel: z.string().min(1),
  ts: z.string().min(1),
  /** `approver`: a DM to an approver (subject in `approver`); `channel`: the flow's channel. */
  kind: z.enum(['approver', 'channel']),
  approver: z.string().optional(),
  why: z.string().max(500).optional(),
});
export type SlackPost = z.infer<typeof SlackPost>;

const PostsItem = z.object({ posts: z.array(SlackPost).default([]) });

const epochSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

export class SlackState implements ReplayGuard {
  private readonly sent: SentClaims;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    this.sent = new SentClaims(doc, tableName, {
      entity: 'slack-sent',
      ttlSeconds: POSTS_TTL_SECONDS,
      staleSeconds: STALE_CLAIM_SECONDS,
    });
  }

  /** Conditional put keyed by the signature: true the first time, false for a replay. */
  async claim(signature: string, now: Date): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: `SLACK-REPLAY#${signature}`,
            sk: 'REPLAY',
            entity: 'slack-replay',
            ttl: epochSeconds(now) + REPLAY_TTL_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async posts(requestId: string): Promise<SlackPost[]> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: postsKey(requestId), ConsistentRead: true }),
    );
    if (Item === undefined) return [];
    return PostsItem.parse(Item).posts;
  }

  /** Appends copies (one atomic list_append: concurrent notifications never lose a copy). */
  async addPosts(requestId: string, posts: SlackPost[], now: Date): Promise<void> {
    if (posts.length === 0) return;
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: postsKey(requestId),
        UpdateExpression:
          'SET #posts = list_append(if_not_exists(#posts, :empty), :new), #entity = :entity, #ttl = :ttl',
        ExpressionAttributeNames: { '#posts': 'posts', '#entity': 'entity', '#ttl': 'ttl' },
        ExpressionAttributeValues: {
          ':empty': [],
          ':new': posts.map((p) => SlackPost.parse(p)),
          ':entity': 'slack-posts',
          ':ttl': epochSeconds(now) + POSTS_TTL_SECONDS,
        },
      }),
    );
  }

  /** Claims one message of a request (`message` names it, e.g. `approver#<subject>`), once. */
  async claimSend(requestId: string, message: string, now: Date): Promise<SendClaim> {
    return this.sent.claim(sentKey(requestId, message), now);
  }

  /** Marks a claimed message sent: later deliveries skip it. */
  async markSent(requestId: string, message: string, now: Date): Promise<void> {
    await this.sent.markSent(sentKey(requestId, message), now);
  }

  /** Gives a claim back after a failed call (never a `sent` mark), so a redelivery may try again. */
  async releaseSend(requestId: string, message: string): Promise<void> {
    await this.sent.release(sentKey(requestId, message));
  }
}

function sentKey(requestId: string, message: string) {
  return { pk: `SLACK-SENT#${requestId}#${message}`, sk: 'SENT' };
}

function postsKey(requestId: string) {
  return { pk: `SLACK#${requestId}`, sk: 'SLACK' };
}

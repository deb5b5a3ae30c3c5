import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { ReplayGuard } from './verify.ts';

/**
 * Slack's own items in the one table (entities `slack-posts` and `slack-replay`; the stream publisher makes no
 * event of them). Kept out of the request item on purpose: recording where a message was posted must not bump the
 * request's version and race with votes.
 *
 * | item          | pk                          | sk       | ttl                          |
 * |---------------|-----------------------------|----------|------------------------------|
 * | slack-posts   | `SLACK#<requestId>`         | `SLACK`  | 90 days after the last post  |
 * | slack-replay  | `SLACK-REPLAY#<signature>`  | `REPLAY` | 10 minutes after first use   |
 */
export const REPLAY_TTL_SECONDS = 10 * 60;
const POSTS_TTL_SECONDS = 90 * 24 * 3600;

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
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

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
}

function postsKey(requestId: string) {
  return { pk: `SLACK#${requestId}`, sk: 'SLACK' };
}

import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';

/**
 * Used Jira webhook signatures (entity `jira-replay`, no event from the stream publisher):
 *
 * | item         | pk                        | sk       | ttl                                   |
 * |--------------|---------------------------|----------|---------------------------------------|
 * | jira-replay  | `JIRA-REPLAY#<hex digest>` | `REPLAY` | REPLAY_TTL_SECONDS after first use    |
 *
 * The TTL outlives the accepted age of a webhook body (MAX_AGE_SECONDS in webhook.ts), so a body is refused either
 * as a replay or as too old. DynamoDB deletes expired items late, which only refuses more.
 */
export const REPLAY_TTL_SECONDS = 2 * 3600;

export interface JiraReplayGuard {
  /** True the first time a body signature is seen, false on a replay. */
  claim(digest: string, now: Date): Promise<boolean>;
  /** Frees a claim whose processing failed, so that Jira's retry of the same delivery is handled. */
  release(digest: string): Promise<void>;
}

const key = (digest: string) => ({ pk: `JIRA-REPLAY#${digest}`, sk: 'REPLAY' });

export class JiraState implements JiraReplayGuard {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async claim(digest: string, now: Date): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...key(digest),
            entity: 'jira-replay',
            ttl: Math.floor(now.getTime() / 1000) + REPLAY_TTL_SECONDS,
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

  async release(digest: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: key(digest) }));
  }
}

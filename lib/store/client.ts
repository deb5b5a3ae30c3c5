import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, type TranslateConfig } from '@aws-sdk/lib-dynamodb';

/** How domain objects map to DynamoDB attributes: optional fields left `undefined` are simply not written. */
export const TRANSLATE_CONFIG: TranslateConfig = {
  marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  unmarshallOptions: { wrapNumbers: false },
};

/**
 * The one document client a handler creates at module scope. The SDK reads `AWS_ENDPOINT_URL_DYNAMODB` by itself
 * (the local runtime sets it), so `endpoint` is only for tests; `region`/`credentials` likewise.
 */
export function createDocumentClient(
  options: { endpoint?: string; region?: string; credentials?: DynamoDBClientConfig['credentials'] } = {},
): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
  });
  return DynamoDBDocumentClient.from(client, TRANSLATE_CONFIG);
}

import { vi } from 'vitest';
import type { LocalTable } from './dynalite.ts';
import type { TestIssuer } from './token.ts';

const LOCAL_CREDENTIALS = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' };

/**
 * The environment in-process handler tests give the API and SCIM functions (stub it before the first call: the
 * functions read their configuration once): the table on dynalite, Step Functions on a stand-in, the token issuer
 * the API functions trust, and the sealing key and SCIM token as `env:` secrets. Undone by vi.unstubAllEnvs().
 */
export function stubHandlerEnv(world: {
  table: LocalTable;
  issuer: TestIssuer;
  sfnUrl?: string;
  credentialsKey?: string;
  scimToken?: string;
}): void {
  const env: Record<string, string> = {
    ...world.issuer.env,
    ...LOCAL_CREDENTIALS,
    STINT_TABLE_NAME: world.table.tableName,
    AWS_ENDPOINT_URL_DYNAMODB: world.table.endpoint,
    STINT_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:stint',
    STINT_CREDENTIALS_KEY_REF: 'env:STINT_TEST_CREDENTIALS_KEY',
    STINT_TEST_CREDENTIALS_KEY: world.credentialsKey ?? 'a-fixed-sealing-key-for-tests-0123456789',
  };
  if (world.sfnUrl !== undefined) env.AWS_ENDPOINT_URL_SFN = world.sfnUrl;
  if (world.scimToken !== undefined) {
    env.STINT_SCIM_TOKEN_REF = 'env:STINT_TEST_SCIM_TOKEN';
    env.STINT_TEST_SCIM_TOKEN = world.scimToken;
  }
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
}

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiEvent, lambdaContext } from '../../support/api-event.ts';

/**
 * GET /auth-config as a deployed function answers it: no token, no table, only what its environment says (a
 * deployed function has STINT_LOCAL unset, so no `local`). The local runtime's answers are in test/e2e.
 */
beforeAll(() => {
  vi.stubEnv('STINT_AUTH_ISSUER', 'https://login.example.com/oauth2/default');
  vi.stubEnv('STINT_CLI_CLIENT_ID', '0oa-stint-cli');
  vi.stubEnv('STINT_CLI_SCOPES', 'openid email offline_access');
  vi.stubEnv('STINT_LOCAL', 'false');
});
afterAll(() => vi.unstubAllEnvs());

describe('GET /auth-config', () => {
  it('answers the issuer and the CLI client, without a token and without local', async () => {
    const { handler } = await import('#functions/api/auth-config.ts');
    const event = apiEvent({ path: '/auth-config', headers: {} });
    delete event.headers.authorization;

    const result = await handler(event, lambdaContext);

    expect(result.statusCode).toBe(200);
    expect(JSON.parse(String(result.body))).toEqual({
      issuer: 'https://login.example.com/oauth2/default',
      cli: { clientId: '0oa-stint-cli', scopes: ['openid', 'email', 'offline_access'] },
    });
  });
});

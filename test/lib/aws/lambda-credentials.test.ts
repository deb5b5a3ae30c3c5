import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaultProvider } from '#lib/aws/lambda-credentials.ts';

describe('the Lambda bundles credential provider', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('answers the credentials Lambda puts in the environment', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDLAMBDA');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_SESSION_TOKEN', 'session');
    const credentials = await defaultProvider()();
    expect(credentials).toMatchObject({
      accessKeyId: 'AKIDLAMBDA',
      secretAccessKey: 'secret',
      sessionToken: 'session',
    });
  });

  it('refuses when the environment holds no credentials (it looks nowhere else)', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', undefined);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', undefined);
    await expect(defaultProvider()()).rejects.toThrow(/environment/i);
  });
});

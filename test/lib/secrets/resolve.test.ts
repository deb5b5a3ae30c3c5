import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { clearSecretCache, resolveSecret, SECRET_CACHE_TTL_MS } from '#lib/secrets/resolve.ts';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/pg-admin-AbCdEf';
const secretsManager = mockClient(SecretsManagerClient);

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stint-secret-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  secretsManager.reset();
  clearSecretCache();
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe('resolveSecret: env:NAME', () => {
  it('reads the environment variable', async () => {
    vi.stubEnv('STINT_TEST_SECRET', 'from-env');
    expect(await resolveSecret('env:STINT_TEST_SECRET')).toBe('from-env');
  });

  it('names the variable when it is not set', async () => {
    await expect(resolveSecret('env:STINT_TEST_NOT_SET')).rejects.toThrow(
      'secret env:STINT_TEST_NOT_SET: environment variable STINT_TEST_NOT_SET is not set',
    );
  });
});

describe('resolveSecret: file:/path', () => {
  it('reads the file, trimmed', async () => {
    const path = join(dir, 'admin.json');
    await writeFile(path, '  {"username":"u","password":"p"}\n');
    expect(await resolveSecret(`file:${path}`)).toBe('{"username":"u","password":"p"}');
  });

  it('names the reference when the file is missing', async () => {
    const path = join(dir, 'missing');
    await expect(resolveSecret(`file:${path}`)).rejects.toThrow(`secret file:${path}: cannot read the file (ENOENT)`);
  });

  it('refuses an empty file', async () => {
    const path = join(dir, 'empty');
    await writeFile(path, '\n');
    await expect(resolveSecret(`file:${path}`)).rejects.toThrow(/the file is empty/);
  });
});

describe('resolveSecret: Secrets Manager ARN', () => {
  it('reads the secret string and caches it for five minutes', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    secretsManager
      .on(GetSecretValueCommand, { SecretId: ARN })
      .resolvesOnce({ SecretString: 'v1' })
      .resolves({ SecretString: 'v2' });

    expect(await resolveSecret(ARN)).toBe('v1');
    vi.advanceTimersByTime(SECRET_CACHE_TTL_MS - 1000);
    expect(await resolveSecret(ARN)).toBe('v1');
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);

    vi.advanceTimersByTime(2000);
    expect(await resolveSecret(ARN)).toBe('v2');
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('names the reference and the failure, not the value, when GetSecretValue fails', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));
    await expect(resolveSecret(ARN)).rejects.toThrow(
      `secret ${ARN}: GetSecretValue failed (ResourceNotFoundException)`,
    );
  });

  it('refuses a binary-only secret', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2]) });
    await expect(resolveSecret(ARN)).rejects.toThrow(/has no string value/);
  });
});

describe('resolveSecret: invalid reference', () => {
  it('refuses it without echoing it', async () => {
    const error = await resolveSecret('hunter2-pasted-by-mistake').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String(error)).toMatch(/not a Secrets Manager ARN/);
    expect(String(error)).not.toContain('hunter2');
  });
});

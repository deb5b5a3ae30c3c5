import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretRef } from '#lib/domain/integration.ts';
import { lazy } from '#lib/lazy.ts';

/**
 * Resolves a secret reference (see SecretRef) to its value:
 * - `arn:aws:secretsmanager:…` → GetSecretValue (the SDK honours AWS_ENDPOINT_URL_SECRETS_MANAGER), cached 5 minutes;
 * - `env:NAME` → process.env.NAME;
 * - `file:/abs/path` → the file's content, trimmed.
 * `env:` and `file:` are for the local runtime: a deployed stack's configuration refuses them at synth
 * (infra/config.ts), and an integration's secretRef is refused in AWS by lib/integrations/secret-ref.ts.
 * Errors name the reference, never the value.
 */
export class SecretResolutionError extends Error {
  override readonly name = 'SecretResolutionError';
  constructor(
    readonly ref: string,
    reason: string,
  ) {
    super(`secret ${ref}: ${reason}`);
  }
}

export const SECRET_CACHE_TTL_MS = 5 * 60 * 1000;

const secretsManager = /* @__PURE__ */ lazy(() => new SecretsManagerClient({}));
const cache = new Map<string, { value: string; expiresAt: number }>();

export async function resolveSecret(ref: string): Promise<string> {
  if (!SecretRef.safeParse(ref).success) {
    // The input may be a secret pasted by mistake: do not echo it.
    throw new SecretResolutionError(
      '(invalid reference)',
      'not a Secrets Manager ARN, env:NAME or file:/absolute/path',
    );
  }
  if (ref.startsWith('env:')) return fromEnv(ref, ref.slice('env:'.length));
  if (ref.startsWith('file:')) return await fromFile(ref, ref.slice('file:'.length));
  return await fromSecretsManager(ref);
}

/** Forget cached values (after a rotation was detected, or in tests). */
export function clearSecretCache(ref?: string): void {
  if (ref === undefined) cache.clear();
  else cache.delete(ref);
}

function fromEnv(ref: string, name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '')
    throw new SecretResolutionError(ref, `environment variable ${name} is not set`);
  return value;
}

async function fromFile(ref: string, path: string): Promise<string> {
  if (!isAbsolute(path)) throw new SecretResolutionError(ref, 'the path must be absolute');
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'read error';
    throw new SecretResolutionError(ref, `cannot read the file (${code})`);
  }
  const value = content.trim();
  if (value === '') throw new SecretResolutionError(ref, 'the file is empty');
  return value;
}

async function fromSecretsManager(ref: string): Promise<string> {
  const now = Date.now();
  const hit = cache.get(ref);
  if (hit !== undefined && hit.expiresAt > now) return hit.value;

  let value: string | undefined;
  try {
    const output = await secretsManager().send(new GetSecretValueCommand({ SecretId: ref }));
    value = output.SecretString;
  } catch (error) {
    const name = error instanceof Error ? error.name : 'unknown error';
    throw new SecretResolutionError(ref, `GetSecretValue failed (${name})`);
  }
  if (value === undefined || value === '') throw new SecretResolutionError(ref, 'the secret has no string value');
  cache.set(ref, { value, expiresAt: now + SECRET_CACHE_TTL_MS });
  return value;
}

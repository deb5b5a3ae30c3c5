import { GrantPermanentError } from './types.ts';

/**
 * Where an integration's admin secret may live. An integration's `secretRef` is chosen by whoever administers
 * Stint through the API, and its value is sent to a host they also choose: in AWS an `env:NAME` reference would
 * hand over a Lambda environment variable (`env:AWS_SECRET_ACCESS_KEY`) and `file:` any file the function can
 * read. So `env:` and `file:` are accepted by the local runtime only, and in AWS a reference must be a Secrets
 * Manager ARN whose secret name starts with the deployment's prefix (`secretsPrefix` in infra/stint.config.ts,
 * the only secrets the grant functions' role may read anyway).
 */
export type SecretRefMode = { readonly local: boolean; readonly prefix: string };

/** Why `ref` is not accepted as an integration's secret in this mode; undefined when it is. */
export function integrationSecretRefProblem(ref: string, mode: SecretRefMode): string | undefined {
  if (mode.local) return undefined;
  if (ref.startsWith('env:') || ref.startsWith('file:')) {
    return `env: and file: references are accepted by the local runtime only; use a Secrets Manager secret ARN under '${mode.prefix}'`;
  }
  const name = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:(.+)$/.exec(ref)?.[1];
  if (name === undefined || !name.startsWith(mode.prefix)) {
    return `must be a Secrets Manager secret ARN whose name starts with '${mode.prefix}'`;
  }
  return undefined;
}

/**
 * `resolve` (lib/secrets/resolve.ts) for integration admin secrets: a reference this mode does not accept fails the
 * grant for good. `resolve` is passed in so the admin API, which only checks references, carries no Secrets Manager.
 */
export function integrationSecretResolver(
  mode: () => SecretRefMode,
  resolve: (ref: string) => Promise<string>,
): (ref: string) => Promise<string> {
  return async (ref) => {
    const problem = integrationSecretRefProblem(ref, mode());
    // The reference, unlike a value, is safe to name; a secret pasted by mistake fails SecretRef's own format first.
    if (problem !== undefined) throw new GrantPermanentError(`the integration's secretRef ${problem}`);
    return resolve(ref);
  };
}

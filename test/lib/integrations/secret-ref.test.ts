import { describe, expect, it } from 'vitest';
import { integrationSecretResolver } from '#lib/integrations/secret-ref.ts';
import { GrantPermanentError } from '#lib/integrations/types.ts';

/** The grant and revoke steps resolve an integration's secret only if this deployment accepts its reference. */
const inAws = () => ({ local: false, prefix: 'stint/' });
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/pg-admin-AbCdEf';

describe('integrationSecretResolver', () => {
  it('in AWS fails an env: reference for good without reading the variable', async () => {
    const read: string[] = [];
    const resolve = integrationSecretResolver(inAws, async (ref) => {
      read.push(ref);
      return 'value';
    });

    await expect(resolve('env:AWS_SECRET_ACCESS_KEY')).rejects.toBeInstanceOf(GrantPermanentError);
    await expect(resolve('file:/etc/passwd')).rejects.toThrow(/local runtime only/);
    expect(read).toEqual([]);
  });

  it('in AWS resolves an ARN under the prefix; locally anything SecretRef allows', async () => {
    const echo = async (ref: string) => `value of ${ref}`;

    expect(await integrationSecretResolver(inAws, echo)(ARN)).toBe(`value of ${ARN}`);
    expect(await integrationSecretResolver(() => ({ local: true, prefix: 'stint/' }), echo)('env:PG')).toBe(
      'value of env:PG',
    );
  });
});

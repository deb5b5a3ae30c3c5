import { IAMClient, LimitExceededException, NoSuchEntityException, ServiceFailureException } from '@aws-sdk/client-iam';
import { ExpiredTokenException, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { awsCall, awsClient, awsErrorName, isPermanentAwsError } from '#lib/integrations/aws-clients.ts';
import { GrantPermanentError } from '#lib/integrations/types.ts';

const meta = { $metadata: { httpStatusCode: 400 }, message: 'm' };
/** An error STS answers without a modelled class (common errors such as AccessDenied, Throttling). */
const stsError = (name: string) => new STSServiceException({ name, $fault: 'client', ...meta });

describe('AWS error mapping of IAM and STS codes', () => {
  it('makes NoSuchEntity, LimitExceeded, AccessDenied and SignatureDoesNotMatch permanent', async () => {
    const errors = [
      new NoSuchEntityException(meta),
      new LimitExceededException(meta),
      stsError('AccessDenied'),
      stsError('SignatureDoesNotMatch'),
    ];
    expect(errors.map(isPermanentAwsError)).toEqual([true, true, true, true]);
    const mapped = await awsCall('sts:AssumeRole r', () => Promise.reject(stsError('AccessDenied'))).catch(
      (e: unknown) => e,
    );
    expect(mapped).toEqual(new GrantPermanentError('sts:AssumeRole r: AccessDenied: m'));
  });

  it('keeps Throttling, ServiceFailure and ExpiredToken retryable, rethrown as they are', async () => {
    const errors = [stsError('Throttling'), new ServiceFailureException(meta), new ExpiredTokenException(meta)];
    expect(errors.map(isPermanentAwsError)).toEqual([false, false, false]);
    for (const error of errors) await expect(awsCall('x', () => Promise.reject(error))).rejects.toBe(error);
  });

  it('names only SDK service errors', () => {
    expect([awsErrorName(stsError('Throttling')), awsErrorName(new Error('socket hang up'))]).toEqual([
      'Throttling',
      undefined,
    ]);
  });
});

describe('awsClient', () => {
  it('builds one client per class and target, and another for another role', () => {
    const admin = { region: 'eu-west-1', roleArn: 'arn:aws:iam::111111111111:role/admin', session: 'test' };
    const iam = awsClient(IAMClient, admin);
    expect(awsClient(IAMClient, { ...admin })).toBe(iam);
    expect(awsClient(IAMClient, { ...admin, roleArn: 'arn:aws:iam::111111111111:role/other' })).not.toBe(iam);
    const own = awsClient(STSClient, { region: 'eu-west-1' });
    expect(own).toBeInstanceOf(STSClient);
    expect(awsClient(STSClient, { region: 'eu-west-1' })).toBe(own);
  });
});

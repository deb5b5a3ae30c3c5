import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import * as z from 'zod';
import { GrantPermanentError } from './types.ts';

/**
 * What AWS drivers share: SDK clients built once per (service, region, role, external id) and kept at module
 * scope (a warm Lambda reuses them and their cached credentials), and one mapping of AWS errors to permanent
 * (`GrantPermanentError`: retrying cannot fix it) or retryable (anything else is rethrown as is; the workflow
 * retries it).
 *
 * API:
 * - `awsClient(ClientClass, target)`: the cached client; with `target.roleArn`, credentials come from
 *   `sts:AssumeRole` of that role (with `target.externalId`), refreshed by the SDK before they expire; without
 *   it, the function's own role (the default credential chain).
 * - `awsErrorName(error)`: the AWS error code of an SDK error (`ConflictException`…), else undefined.
 * - `toDriverError(error, what)`: the error to throw from a driver step.
 * - `awsCall(what, call)`: an SDK call whose failure is thrown as `toDriverError` makes it.
 *
 * Endpoints come from the SDK's own configuration: `AWS_ENDPOINT_URL_<SERVICE>` (e.g. AWS_ENDPOINT_URL_SSO_ADMIN)
 * reaches a stand-in in tests ("Service-specific endpoints", AWS SDKs and Tools Reference Guide).
 */

export type AwsTarget = {
  region: string;
  /** A role to assume (e.g. in the Identity Center delegated administrator account). */
  roleArn?: string;
  /** The external id the role's trust policy requires (sts:ExternalId). */
  externalId?: string;
  /** A short label of the caller for the role session name (`stint-<session>`, e.g. `stint-idc`); default `driver`. */
  session?: string;
};

/** Role session name (CloudTrail shows it): `stint-<label>`, within AssumeRole's 2–64 characters [\w+=,.@-]. */
export function roleSessionName(label: string): string {
  return `stint-${label.replace(/[^\w+=,.@-]/g, '-')}`.slice(0, 64);
}

/** 15 minutes: the shortest AssumeRole session; the SDK refreshes before expiry. */
const ASSUMED_ROLE_SECONDS = 900;

type ClientConfig = { region: string; credentials?: () => Promise<Identity> };
type ClientClass<C> = new (config: ClientConfig) => C;

/** Per client class (not its name: bundlers may rename classes), per target. */
const clients = new Map<ClientClass<unknown>, Map<string, unknown>>();

/**
 * The client of `Client` for `target`, built on first use. The SDK retries throttling and 5xx answers itself
 * (standard retry mode, 3 attempts unless AWS_MAX_ATTEMPTS says otherwise) before an error reaches the driver.
 */
export function awsClient<C>(Client: ClientClass<C>, target: AwsTarget): C {
  const key = [target.region, target.roleArn ?? '', target.externalId ?? '', target.session ?? ''].join('\0');
  const ofClass = clients.get(Client) ?? new Map<string, unknown>();
  clients.set(Client, ofClass);
  const cached = ofClass.get(key);
  if (cached instanceof Client) return cached;
  const credentials = target.roleArn === undefined ? undefined : assumedRole(target.roleArn, target);
  const client = new Client({ region: target.region, ...(credentials === undefined ? {} : { credentials }) });
  ofClass.set(key, client);
  return client;
}

type Identity = Awaited<ReturnType<ReturnType<typeof fromTemporaryCredentials>>>;
type Credentials = () => Promise<Identity>;
/** Credentials this close to expiry are renewed before use. */
const RENEW_BEFORE_MS = 5 * 60_000;
/** One credential provider per assumed role, shared by every client: one AssumeRole per role, not one per service. */
const providers = new Map<string, Credentials>();

function assumedRole(roleArn: string, target: AwsTarget): Credentials {
  const key = [target.region, roleArn, target.externalId ?? '', target.session ?? ''].join('\0');
  const cached = providers.get(key);
  if (cached !== undefined) return cached;
  const assume = fromTemporaryCredentials({
    params: {
      RoleArn: roleArn,
      RoleSessionName: roleSessionName(target.session ?? 'driver'),
      DurationSeconds: ASSUMED_ROLE_SECONDS,
      ...(target.externalId === undefined ? {} : { ExternalId: target.externalId }),
    },
    clientConfig: { region: target.region },
  });
  let current: Promise<Identity> | undefined;
  const provider: Credentials = async () => {
    const held = current === undefined ? undefined : await current.catch(() => undefined);
    if (
      held !== undefined &&
      (held.expiration === undefined || held.expiration.getTime() - Date.now() > RENEW_BEFORE_MS)
    )
      return held;
    const fresh = assume();
    current = fresh;
    // A refused AssumeRole is tried again next time (the failed promise is not kept).
    fresh.catch(() => {
      if (current === fresh) current = undefined;
    });
    return await fresh;
  };
  providers.set(key, provider);
  return provider;
}

/** Forgets every cached client (tests that move a stand-in to a new port). */
export function clearAwsClients(): void {
  clients.clear();
  providers.clear();
}

const SdkError = z.object({
  name: z.string(),
  message: z.string().optional(),
  $metadata: z.object({ httpStatusCode: z.number().optional() }).optional(),
});

/** The AWS error code of an SDK service error (`ConflictException`, `AccessDenied`…); undefined otherwise. */
export function awsErrorName(error: unknown): string | undefined {
  const parsed = SdkError.safeParse(error);
  if (!parsed.success || parsed.data.$metadata === undefined) return undefined;
  return parsed.data.name;
}

/**
 * Codes retrying cannot fix: missing permissions, bad input or configuration, things that do not exist, quotas
 * (a quota needs a person to raise it; retrying for hours would only delay the answer). Throttling
 * (ThrottlingException, Throttling, TooManyRequestsException), ConflictException / ConcurrentModificationException
 * (another write in flight), InternalServerException, ServiceFailure, ServiceUnavailable, 5xx, expired credentials
 * and network errors stay retryable. IAM and STS codes: "Common errors"
 * (https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html) and each action's Errors section in the
 * STS and IAM API references; the SDK names modelled errors `<Code>Exception` (IAM) or `<Code>`.
 */
const PERMANENT = new Set([
  'AccessDenied', // STS AssumeRole: the role's trust policy (or the external id) does not let Stint in
  'AccessDeniedException',
  'AccessDeniedForDependencyException',
  'AuthorizationErrorException',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'ValidationException',
  'ValidationError',
  'InvalidInput',
  'InvalidInputException',
  'InvalidParameterException',
  'InvalidParameterValue',
  'InvalidParameterValueException',
  'MalformedPolicyDocument',
  'MalformedPolicyDocumentException',
  'PackedPolicyTooLarge', // STS AssumeRole: session policies and tags over the packed size
  'PackedPolicyTooLargeException',
  'UnmodifiableEntity', // IAM: a service-linked role
  'UnmodifiableEntityException',
  'ResourceNotFoundException',
  'NoSuchEntity',
  'NoSuchEntityException',
  'AccountNotFoundException',
  'AWSOrganizationsNotInUseException',
  'ServiceQuotaExceededException',
  'LimitExceeded',
  'LimitExceededException',
  'RegionDisabledException',
]);

export function isPermanentAwsError(error: unknown): boolean {
  const name = awsErrorName(error);
  return name !== undefined && PERMANENT.has(name);
}

/**
 * The error a driver step throws for an AWS failure: GrantPermanentError naming `what` and AWS's code and message
 * when retrying cannot fix it, else the SDK error itself (retryable). A GrantPermanentError passes through.
 */
export function toDriverError(error: unknown, what: string): Error {
  if (error instanceof GrantPermanentError) return error;
  if (isPermanentAwsError(error)) {
    const parsed = SdkError.parse(error);
    return new GrantPermanentError(`${what}: ${parsed.name}: ${parsed.message ?? ''}`.trim());
  }
  return error instanceof Error ? error : new Error(`${what}: ${String(error)}`);
}

/** An SDK call, its failure thrown as `toDriverError(error, what)` makes it (permanent, or retryable as it is). */
export async function awsCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toDriverError(error, what);
  }
}

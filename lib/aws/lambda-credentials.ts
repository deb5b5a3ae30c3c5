import { fromEnv } from '@aws-sdk/credential-providers';

/**
 * What a Lambda bundle gets for `@aws-sdk/credential-provider-node` (the alias in infra/constructs/stint-function.ts):
 * Lambda hands every function its role's credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN), so the SDK's default chain (SSO, INI files, web identity, STS, instance metadata: about 130 KiB
 * per bundle) has nothing to find there. The local runtime and tests run unbundled, on the default chain.
 */
export const defaultProvider: typeof fromEnv = (init) => fromEnv(init);

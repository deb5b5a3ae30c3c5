import { config } from '#lib/config.ts';
import { resolveSecret } from '#lib/secrets/resolve.ts';

/** The key that seals issued credentials (Secrets Manager in AWS), for the functions that seal or open them. */
export const credentialsKey = (): Promise<string> => resolveSecret(config().credentialsKeyRef);

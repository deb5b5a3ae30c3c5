import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The one logger. Log ids and outcomes, never whole events: they carry task tokens, identities,
 * justifications and credentials (CONVENTIONS.md).
 */
export const logger = new Logger({ serviceName: 'stint' });

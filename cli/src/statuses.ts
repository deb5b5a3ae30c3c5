import type { Ok } from './api.ts';

/**
 * A request's statuses, as the API names them (lib/domain/request.ts RequestStatus; a test holds the two equal):
 * written out here so that `stint --help` and the MCP tools' schemas need neither zod nor the domain model.
 */
export const STATUSES = [
  'PENDING',
  'APPROVED',
  'REJECTED',
  'CANCELLED',
  'TIMED_OUT',
  'GRANTING',
  'ACTIVE',
  'FAILED',
  'REVOKING',
  'REVOKED',
  'EXPIRED',
  'REVOKE_FAILED',
] as const satisfies readonly Ok<'get-request'>['status'][];

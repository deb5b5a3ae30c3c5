import { z } from 'zod';
import { RequestStatus } from '#lib/domain/request.ts';

/** Request schemas of the API's routes, shared by the handlers and GET /openapi.json. */
export const IdParams = z.object({ id: z.string().min(1).max(64) });

export const Paging = {
  limit: z.coerce.number().int().min(1).max(100).optional(),
  cursor: z.string().min(1).max(2048).optional(),
};

export const ListRequestsQuery = z.strictObject({
  scope: z.enum(['mine', 'approvals', 'all']).default('mine'),
  status: RequestStatus.optional(),
  ...Paging,
});

export const ListQuery = z.strictObject(Paging);

export const DecisionBody = z.strictObject({ reason: z.string().trim().min(1).max(2000).optional() });

export const ExtendBody = z.strictObject({
  minutes: z
    .number()
    .int()
    .positive()
    .max(60 * 24 * 90),
  reason: z.string().trim().min(1).max(2000).optional(),
});

export const AccessView = z
  .object({
    host: z.string(),
    port: z.number(),
    database: z.string(),
    username: z.string(),
    password: z.string(),
    expiresAt: z.string(),
  })
  .catchall(z.unknown());

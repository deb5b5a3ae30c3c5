import * as z from 'zod';

/** The ledger file of examples/custom-integration/handler.mjs: one entry per granted unit. */
export const Ledger = z.object({
  entries: z.record(
    z.string(),
    z.object({
      username: z.string(),
      grantee: z.string(),
      email: z.string(),
      resource: z.string(),
      permission: z.string(),
      grants: z.array(z.string()),
      expiresAt: z.string(),
      justification: z.string().optional(),
      secretSha256: z.string(),
    }),
  ),
});

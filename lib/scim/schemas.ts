import * as z from 'zod';
import { Line } from '#lib/domain/text.ts';

/**
 * SCIM 2.0 wire schemas (RFC 7643 resources, RFC 7644 protocol messages): the subset Okta and Microsoft Entra ID
 * provisioning send. Unknown attributes (name, title, phoneNumbers, addresses…) are accepted and ignored: the
 * directory stores what policies and channels need, and refusing them would stop provisioning.
 */
export const URN = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  enterpriseUser: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  listResponse: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  patchOp: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  error: 'urn:ietf:params:scim:api:messages:2.0:Error',
  serviceProviderConfig: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
  resourceType: 'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
  schema: 'urn:ietf:params:scim:schemas:core:2.0:Schema',
} as const;

/** Entra ID sends booleans as strings ("True", "False") in PATCH values; accept both forms. */
export const ScimBoolean = z.union([
  z.boolean(),
  z
    .string()
    .regex(/^(true|false)$/i, 'expected true or false')
    .transform((s) => s.toLowerCase() === 'true'),
]);

const MultiValued = z.object({
  value: Line.min(1).max(256),
  type: Line.max(64).optional(),
  primary: ScimBoolean.optional(),
  display: Line.max(256).optional(),
});

/** The enterprise extension's manager: `{ value }` (RFC 7643 §4.3); Entra's PATCH sends the bare id string. */
export const ScimManager = z.union([
  z.object({ value: Line.max(256).optional(), displayName: Line.optional() }),
  Line.max(256),
]);

export const ScimUserInput = z.object({
  schemas: z.array(z.string()).min(1).optional(),
  userName: Line.trim().min(1).max(256),
  externalId: Line.max(256).optional(),
  displayName: Line.max(256).optional(),
  active: ScimBoolean.optional(),
  emails: z.array(MultiValued).max(10).optional(),
  [URN.enterpriseUser]: z.object({ manager: ScimManager.optional() }).optional(),
});
export type ScimUserInput = z.infer<typeof ScimUserInput>;

export const ScimMember = z.object({ value: Line.min(1).max(256), display: Line.optional() });

export const ScimGroupInput = z.object({
  schemas: z.array(z.string()).min(1).optional(),
  displayName: Line.trim().min(1).max(256),
  externalId: Line.max(256).optional(),
  members: z.array(ScimMember).max(10_000).optional(),
});
export type ScimGroupInput = z.infer<typeof ScimGroupInput>;

/** RFC 7644 §3.5.2. Entra capitalises `op` ("Add", "Replace"), so it is matched case-insensitively. */
export const PatchOperation = z.object({
  op: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(['add', 'remove', 'replace'])),
  path: Line.min(1).max(512).optional(),
  value: z.unknown().optional(),
});
export type PatchOperation = z.infer<typeof PatchOperation>;

export const PatchRequest = z.object({
  schemas: z.array(z.string()).refine((s) => s.includes(URN.patchOp), `schemas must include ${URN.patchOp}`),
  Operations: z.array(PatchOperation).min(1).max(1000),
});
export type PatchRequest = z.infer<typeof PatchRequest>;

/** `startIndex` (1-based) and `count` (RFC 7644 §3.4.2.4): out-of-range values are clamped, not refused. */
export const ListQuery = z.object({
  filter: z.string().max(1024).optional(),
  startIndex: z.coerce.number().int().catch(1).optional(),
  count: z.coerce.number().int().catch(100).optional(),
  excludedAttributes: z.string().max(256).optional(),
  attributes: z.string().max(256).optional(),
});
export type ListQuery = z.infer<typeof ListQuery>;

/** RFC 7644 §3.12 error `scimType` values used here. */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

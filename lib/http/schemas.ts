import * as z from 'zod';
import { ChatAccount, DirectoryGroup, DirectoryUser } from '#lib/directory/types.ts';
import { Email, Subject } from '#lib/domain/common.ts';
import { ValidationError } from '#lib/domain/errors.ts';
import { RequestStatus } from '#lib/domain/request.ts';
import { Line, Text } from '#lib/domain/text.ts';
import { AccessView as KindedAccess } from '#lib/integrations/types.ts';

/** Request schemas of the API's routes, shared by the handlers and GET /openapi.json. */
export const IdParams = z.object({ id: Line.min(1).max(64) });

export const Paging = {
  limit: z.coerce.number().int().min(1).max(100).optional(),
  cursor: Line.min(1).max(2048).optional(),
};

export const ListRequestsQuery = z.strictObject({
  scope: z.enum(['mine', 'approvals', 'all']).default('mine'),
  status: RequestStatus.optional(),
  ...Paging,
});

export const ListQuery = z.strictObject(Paging);

export const DecisionBody = z.strictObject({ reason: Text.trim().min(1).max(2000).optional() });

export const ExtendBody = z.strictObject({
  minutes: z
    .number()
    .int()
    .positive()
    .max(60 * 24 * 90),
  reason: Text.trim().min(1).max(2000).optional(),
});

const UnitRef = { integrationId: z.string(), resource: z.string(), permission: z.string() };
/** Credentials issued on this call (an STS session: accessKeyId, secretAccessKey, sessionToken, region…). */
const IssuedCredentials = z.record(z.string(), z.union([z.string(), z.number()]));

/**
 * One granted unit on GET /requests/{id}/access: the unit, its kind-tagged access (lib/integrations/types.ts
 * AccessView), and for the grantee its `password` (database kinds) or `secret` (others), and `credentials` issued now
 * by drivers that issue them on read (aws-role).
 */
export const AccessUnitAnswer = z.discriminatedUnion('kind', [
  KindedAccess.options[0].extend({ ...UnitRef, password: z.string().optional() }),
  KindedAccess.options[1].extend({ ...UnitRef, secret: z.string().optional() }),
  KindedAccess.options[2].extend({ ...UnitRef, credentials: IssuedCredentials.optional() }),
  KindedAccess.options[3].extend({ ...UnitRef, secret: z.string().optional() }),
]);

/**
 * GET /requests/{id}/access: the first unit's fields at the top level with the grant's `expiresAt`; with several
 * units, every unit again in `units`. (Requests granted before access views had kinds answer the flat PostgreSQL
 * shape: host, port, database, username, password, without `kind`.)
 */
const OfGrant = { expiresAt: z.string(), units: z.array(AccessUnitAnswer).min(2).optional() };
export const AccessAnswer = z.discriminatedUnion('kind', [
  AccessUnitAnswer.options[0].extend(OfGrant),
  AccessUnitAnswer.options[1].extend(OfGrant),
  AccessUnitAnswer.options[2].extend(OfGrant),
  AccessUnitAnswer.options[3].extend(OfGrant),
]);

// ─── Directory admin routes (lib/services/directory-admin.ts) ─────────────────────────────────────────────

/** A directory user's id is its subject (up to 256 characters, like a JWT `sub`). */
export const DirectoryIdParams = z.object({ id: Subject });

/** `limit` and an opaque `cursor`; `email` or `userName` look one user up (exact, case-insensitive). */
export const DirectoryUsersQuery = z.strictObject({
  ...Paging,
  email: Email.optional(),
  userName: DirectoryUser.shape.userName.optional(),
});

export const DirectoryGroupsQuery = z.strictObject({
  ...Paging,
  displayName: DirectoryGroup.shape.displayName.optional(),
});

/** PUT /directory/users/{id}: the whole user but its linked accounts (their own route), externalId and groups. */
export const DirectoryUserBody = z.strictObject({
  userName: DirectoryUser.shape.userName,
  emails: DirectoryUser.shape.emails,
  displayName: DirectoryUser.shape.displayName,
  manager: DirectoryUser.shape.manager,
  active: z.boolean().default(true),
});
export type DirectoryUserBody = z.infer<typeof DirectoryUserBody>;

/** PUT /directory/users/{id}/accounts: the complete list of the user's chat/ticket accounts. */
export const DirectoryAccountsBody = z.strictObject({ accounts: z.array(ChatAccount).max(10) });

/** PUT /directory/groups/{id}: the group's name and complete member list (subjects of directory users). */
export const DirectoryGroupBody = z.strictObject({
  displayName: DirectoryGroup.shape.displayName,
  members: z.array(Subject).max(10_000).default([]),
});
export type DirectoryGroupBody = z.infer<typeof DirectoryGroupBody>;

/** `If-Match: "<version>"` (the ETag a directory route returned); `W/"<version>"` and a bare number are accepted. */
const IfMatch = z
  .string()
  .trim()
  .regex(/^(W\/)?"?[1-9]\d{0,9}"?$/, 'If-Match must be the ETag of the item, e.g. "3"')
  .transform((v) => Number(v.replace(/^W\//, '').replaceAll('"', '')));

/** The version a write is conditioned on (If-Match), or none (last writer wins). */
export function preconditionOf(headers: Record<string, string | undefined> | undefined): { expectedVersion?: number } {
  const raw = headers?.['if-match'] ?? headers?.['If-Match'];
  if (raw === undefined) return {};
  const parsed = IfMatch.safeParse(raw);
  if (!parsed.success) throw new ValidationError(parsed.error.issues[0]?.message ?? 'invalid If-Match', 'if-match');
  return { expectedVersion: parsed.data };
}

const header = (headers: Record<string, string | undefined> | undefined, name: string): string | undefined => {
  if (headers === undefined) return undefined;
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === lower) return value;
  return undefined;
};

/**
 * The precondition of a flow, integration or bundle write: `If-Match: "<version>"` (replace only that version) or
 * `If-None-Match: *` (create only). Neither: create or replace, the last writer wins. Both, or an If-None-Match other
 * than `*`, is refused (400).
 */
export function writePreconditionOf(headers: Record<string, string | undefined> | undefined): {
  expectedVersion?: number;
  mustNotExist?: boolean;
} {
  const noneMatch = header(headers, 'if-none-match');
  const match = preconditionOf(headers);
  if (noneMatch === undefined) return match;
  if (noneMatch.trim() !== '*') throw new ValidationError('If-None-Match must be * (create only)', 'if-none-match');
  if (match.expectedVersion !== undefined)
    throw new ValidationError('send either If-Match or If-None-Match, not both', 'if-none-match');
  return { mustNotExist: true };
}

/** The ETag header of a versioned item. */
export const etagOf = (item: { version: number }): Record<string, string> => ({ etag: `"${item.version}"` });

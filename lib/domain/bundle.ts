import * as z from 'zod';
import { ChangeRecord, Slug } from './common.ts';
import { Line, Text } from './text.ts';

/** One grantable unit: a permission on a resource of an integration. */
export const AccessUnit = z.strictObject({
  integrationId: Slug,
  resource: Line.min(1).max(128),
  permission: Slug,
});
export type AccessUnit = z.infer<typeof AccessUnit>;

/** The same permission on the same resource of the same integration. */
export function sameUnit(a: AccessUnit, b: AccessUnit): boolean {
  return a.integrationId === b.integrationId && a.resource === b.resource && a.permission === b.permission;
}

export const BundleInput = z.strictObject({
  name: Line.min(1).max(200),
  description: Text.max(1000).optional(),
  units: z.array(AccessUnit).min(1).max(50),
});
export type BundleInput = z.infer<typeof BundleInput>;

export const Bundle = BundleInput.extend({
  id: Slug,
  version: z.number().int().positive(),
  lastChange: ChangeRecord,
  /** Soft delete: the item stays (with who deleted it) so the stream yields an audit event; TTL removes it. */
  deleted: z.boolean().optional(),
});
export type Bundle = z.infer<typeof Bundle>;

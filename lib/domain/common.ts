import * as z from 'zod';
import { Line, Text } from './text.ts';

/** Identifiers chosen by admins (flow, integration, bundle, resource and permission ids). */
export const Slug = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9_.-]*$/, 'lowercase letters, digits, ".", "_" and "-", starting with a letter or digit');

/** A Slug made from a name found on a target (a role, a permission set) for discovery; `fallback` when nothing is left. */
export function slugOf(name: string, fallback: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .replace(/-+$/, '')
    .slice(0, 64);
  return slug === '' ? fallback : slug;
}

/** A user's stable subject (the JWT `sub`, or a directory id): well-formed, single-line. */
export const Subject = Line.min(1).max(256);
export const GroupName = Line.min(1).max(256);
/** An email address, at most 254 characters (RFC 5321), so it fits in a key (a directory pointer) and a log line. */
export const Email = z.email().max(254);
export const IsoDateTime = z.iso.datetime({ offset: true });

/** Through which channel a change was made; recorded on every write. */
export const Channel = z.enum([
  'api',
  'cli',
  'mcp',
  'portal',
  'slack',
  'teams',
  'jira',
  'workflow',
  'reconciler',
  'admin',
  'scim',
]);
export type Channel = z.infer<typeof Channel>;

/** Who changed an item, through which channel and why: every store write carries one. */
export const ChangeRecord = z.object({
  by: Subject,
  channel: Channel,
  action: Line.min(1).max(64),
  reason: Text.max(2000).optional(),
  at: IsoDateTime,
});
export type ChangeRecord = z.infer<typeof ChangeRecord>;

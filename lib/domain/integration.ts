import * as z from 'zod';
import { ChangeRecord, Slug, Subject } from './common.ts';
import { Line, Text } from './text.ts';

export const IntegrationType = z.enum([
  'postgresql',
  'mysql',
  'redis',
  'aws-identity-center',
  'aws-iam-role',
  'lambda',
]);
export type IntegrationType = z.infer<typeof IntegrationType>;

/** A permission an integration offers on a resource, e.g. `readonly` → PostgreSQL roles to grant. */
export const Permission = z.strictObject({
  id: Slug,
  description: Text.max(500).optional(),
  /** Target-side grants, meaning depends on the integration type (PostgreSQL: role names). */
  grants: z.array(Line.min(1).max(128)).min(1).max(50),
});
export type Permission = z.infer<typeof Permission>;

export const Resource = z.strictObject({
  /** Target-side name (PostgreSQL: the database). */
  id: Line.min(1).max(128),
  description: Text.max(500).optional(),
  /**
   * Resource owners (subjects). An approver set with `owners: true` (lib/domain/flow.ts) lets them approve requests
   * for this resource; when empty, the integration's `owners` stand for it.
   */
  owners: z.array(Subject).max(50).default([]),
  permissions: z.array(Permission).min(1).max(50),
});
export type Resource = z.infer<typeof Resource>;

/**
 * Where a secret lives: `arn:aws:secretsmanager:...` in AWS, `env:NAME` or `file:/path` locally (which of them a
 * deployment accepts for an integration is decided by lib/integrations/secret-ref.ts).
 * The secret's value is never stored in the table.
 */
export const SecretRef = z
  .string()
  .regex(
    /^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+|env:[A-Z_][A-Z0-9_]*|file:\/.+)$/,
    'a Secrets Manager ARN, env:NAME or file:/absolute/path',
  );

/** Configuration as admins write it (PUT /integrations/{id}). */
export const IntegrationInput = z.strictObject({
  name: Line.min(1).max(200),
  type: IntegrationType,
  /** Non-secret, type-specific settings (may be nested); each driver parses its own (see lib/integrations). */
  config: z.record(Line.min(1).max(64), z.json()),
  /** The admin credential, for drivers that need one (PostgreSQL); AWS drivers use the function's role. */
  secretRef: SecretRef.optional(),
  /**
   * Owners of the integration (subjects): under an approver set with `owners: true`, they approve requests for the
   * integration's resources that have no owners of their own. Absent = none (optional rather than defaulted, so
   * integrations written before it existed, and typed literals, stay valid as they are).
   */
  owners: z.array(Subject).max(50).optional(),
  resources: z.array(Resource).min(1).max(500),
});
export type IntegrationInput = z.infer<typeof IntegrationInput>;

export const Integration = IntegrationInput.extend({
  id: Slug,
  version: z.number().int().positive(),
  lastChange: ChangeRecord,
  /** Soft delete: the item stays (with who deleted it) so the stream yields an audit event; TTL removes it. */
  deleted: z.boolean().optional(),
});
export type Integration = z.infer<typeof Integration>;

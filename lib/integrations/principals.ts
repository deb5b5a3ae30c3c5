import { createHash, randomBytes } from 'node:crypto';
import * as z from 'zod';
import type { AccessUnit } from '#lib/domain/bundle.ts';
import { GrantPermanentError } from './types.ts';

/**
 * What the database drivers share (PostgreSQL, MySQL / MariaDB, Redis): the per-request principal's name, its
 * password, and the admin secret they log in with.
 */

/** Every principal Stint creates starts with it; drivers never touch one without it (and their own marker). */
export const PRINCIPAL_PREFIX = 'stint_';

/**
 * The principal of one access unit of one request: deterministic, so a retried grant, the revoke and the orphan
 * sweep all name the same one. `stint_<request id>_<8 hex>` (lowercase) when it fits in `maxLength`, the suffix a
 * digest of the request id and the unit that keeps units of one request, and long ids cut short, apart (PostgreSQL
 * 63, MariaDB 80); else `stint_<digest>` (MySQL's 32), 26 base32 characters of the same digest (130 bits).
 */
export function principalNameFor(requestId: string, unit: AccessUnit, maxLength: number): string {
  const digest = createHash('sha256').update(
    [requestId, unit.integrationId, unit.resource, unit.permission].join('\0'),
  );
  const id = requestId.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  if (PRINCIPAL_PREFIX.length + id.length + 9 <= maxLength || maxLength >= 63) {
    const hex = digest.digest('hex').slice(0, 8);
    return `${PRINCIPAL_PREFIX}${id.slice(0, maxLength - PRINCIPAL_PREFIX.length - 9)}_${hex}`;
  }
  return `${PRINCIPAL_PREFIX}${base32(digest.digest()).slice(0, maxLength - PRINCIPAL_PREFIX.length)}`;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

/** A URL-safe random password (43 characters, 256 bits). */
export function generatePassword(): string {
  return randomBytes(32).toString('base64url');
}

export const AdminSecret = z.object({ username: z.string().min(1), password: z.string().min(1) });
export type AdminSecret = z.infer<typeof AdminSecret>;

/**
 * The integration's admin login from its secret, JSON `{"username","password"}`. A secret that is not is a
 * permanent failure whose message never quotes the secret.
 */
export function parseAdminSecret(integrationId: string, secret: string | undefined): AdminSecret {
  const problem = `integration ${integrationId}: the admin secret is not JSON {"username","password"}`;
  if (secret === undefined) throw new GrantPermanentError(`${problem} (the integration names no secretRef)`);
  let json: unknown;
  try {
    json = JSON.parse(secret);
  } catch {
    // JSON.parse's message quotes the input: never pass it on.
    throw new GrantPermanentError(problem);
  }
  const parsed = AdminSecret.safeParse(json);
  if (!parsed.success) throw new GrantPermanentError(problem);
  return parsed.data;
}

const Host = z.string().min(1).max(253);
const Port = z.number().int().min(1).max(65535);

/** A TLS mode of a database connection: default verify-full, or disable in the local runtime. */
export const TlsMode = z.enum(['disable', 'require', 'verify-full']);
export type TlsMode = z.infer<typeof TlsMode>;

/** The TLS mode a driver uses: the configured one, else verify-full in AWS and disable in the local runtime. */
export function tlsModeOf(configured: TlsMode | boolean | undefined, local: boolean): TlsMode {
  if (configured === true) return 'verify-full';
  if (configured === false) return 'disable';
  return configured ?? (local ? 'disable' : 'verify-full');
}

/**
 * The endpoint fields every database driver's config has: where Stint connects, and what grantees connect to when
 * it differs (a proxy, a public endpoint).
 */
export function endpointFields(defaultPort: number) {
  return {
    host: Host,
    port: Port.default(defaultPort),
    /** What grantees connect to, when it differs from what Stint uses (a proxy, a public endpoint). */
    publicHost: Host.optional(),
    publicPort: Port.optional(),
  };
}

import {
  chmodSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import envPaths from 'env-paths';
import { decodeJwt } from 'jose';
import * as z from 'zod';
import { CliError, SignedOutError } from './errors.ts';

/**
 * The signed-in session: one file, `session.json`, in the user's config folder (`$XDG_CONFIG_HOME/stint`,
 * `~/Library/Preferences/stint`, `%APPDATA%\stint\Config`; `STINT_CONFIG_DIR` overrides it), readable by the user
 * only (mode 0600 in a 0700 folder). It holds tokens: bearer credentials for the API.
 */
export const LocalIdentity = z.object({
  sub: z.string().min(1),
  email: z.string().optional(),
  groups: z.array(z.string()).default([]),
});
export type LocalIdentity = z.infer<typeof LocalIdentity>;

export const Session = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('local'),
    url: z.string().url(),
    accessToken: z.string().min(1),
    /** Epoch seconds. */
    expiresAt: z.number(),
    /** A local runtime's issuer mints a new token for the same person when this one expires. */
    identity: LocalIdentity,
  }),
  z.object({
    kind: z.literal('oidc'),
    url: z.string().url(),
    issuer: z.string().url(),
    clientId: z.string().min(1),
    accessToken: z.string().min(1),
    expiresAt: z.number(),
    refreshToken: z.string().optional(),
    idToken: z.string().optional(),
    scope: z.string().optional(),
  }),
]);
export type Session = z.infer<typeof Session>;

export function configDir(): string {
  return process.env.STINT_CONFIG_DIR ?? envPaths('stint', { suffix: '' }).config;
}

export const sessionFile = (): string => join(configDir(), 'session.json');

export function readSession(): Session | undefined {
  let text: string;
  try {
    text = readFileSync(sessionFile(), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = Session.safeParse(JSON.parse(text));
  if (!parsed.success) throw new SignedOutError(`the session in ${sessionFile()} is unreadable: run \`stint login\``);
  return parsed.data;
}

/** Written to a temporary file (0600 from the start) and renamed, so a crash never leaves half a session. */
export function writeSession(session: Session): void {
  const dir = configDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = sessionFile();
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function clearSession(): boolean {
  const file = sessionFile();
  try {
    readFileSync(file);
  } catch {
    return false;
  }
  rmSync(file, { force: true });
  return true;
}

/** The `exp` of a JWT, in epoch seconds (the CLI does not verify tokens: the API does). */
export function expiryOf(token: string, fallbackSeconds = 300): number {
  try {
    const { exp } = decodeJwt(token);
    if (typeof exp === 'number') return exp;
  } catch {
    // An opaque access token: ask again after the fallback.
  }
  return Math.floor(Date.now() / 1000) + fallbackSeconds;
}

/** Renewed this long before it expires, so a call never races the expiry. */
const EARLY_SECONDS = 60;

/**
 * The session with a token that is good for at least another minute: a local session mints a new one, an OIDC
 * session uses its refresh token (cli/src/auth/oidc.ts). Not signed in, or the renewal refused → SignedOutError.
 */
export async function freshSession(): Promise<Session> {
  const first = readSession();
  if (first === undefined) throw new SignedOutError();
  if (!expiring(first)) return first;
  // Commands run side by side (a script's `stint … &`) must not renew at once: issuers rotate refresh tokens, and
  // a refresh token used twice makes them revoke the whole grant. One renews; the others then read its session.
  return withSessionLock(async () => {
    const session = readSession();
    if (session === undefined) throw new SignedOutError();
    if (!expiring(session)) return session;
    const renewed =
      session.kind === 'local'
        ? await (await import('./auth/local.ts')).renewLocal(session)
        : await (await import('./auth/oidc.ts')).refresh(session);
    writeSession(renewed);
    return renewed;
  });
}

const expiring = (session: Session) => session.expiresAt - EARLY_SECONDS <= Date.now() / 1000;

/** A lock held longer than this belongs to a process that died while renewing. */
const STALE_LOCK_MS = 30_000;

/** `session.lock`, created exclusively (O_EXCL) in the config folder, held while a session is renewed. */
async function withSessionLock<T>(work: () => Promise<T>): Promise<T> {
  const dir = configDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = join(dir, 'session.lock');
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let age = 0;
      try {
        age = Date.now() - statSync(lock).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      if (age > STALE_LOCK_MS) rmSync(lock, { force: true });
      else await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { force: true });
  }
}

export function describeSession(session: Session): string {
  return session.kind === 'local'
    ? `${session.identity.sub} (local, ${session.url})`
    : `${session.url} via ${session.issuer}`;
}

export function requireUrl(value: string | undefined): string {
  if (value === undefined) throw new CliError('no API given: pass --url <api> or set STINT_URL');
  return value.replace(/\/+$/, '');
}

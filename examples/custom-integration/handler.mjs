// A Stint custom integration (contract version 1, docs/integrations/lambda.md), dependency-free.
//
// It grants access to a "ledger": a JSON file listing who may use which report, with a per-request username and a
// generated secret (only its SHA-256 is stored, as a real system stores a verifier). grant adds an entry, revoke
// removes it, extend moves its end, list-resources says what it offers. Every action is idempotent: Stint may repeat
// any call after a crash.
//
// The ledger's path: the integration's config `ledger`, else the STINT_EXAMPLE_LEDGER environment variable.
// Run it locally as `file:/absolute/path/to/handler.mjs`, or deploy it as a Lambda function (README.md).
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** What this integration offers: resource → permission → grants. */
const RESOURCES = [
  {
    id: 'reports',
    description: 'Monthly finance reports',
    permissions: [
      { id: 'read', description: 'Read the reports', grants: ['reports:read'] },
      { id: 'write', description: 'Read and publish reports', grants: ['reports:read', 'reports:write'] },
    ],
  },
  {
    id: 'payroll',
    description: 'Payroll exports',
    permissions: [{ id: 'read', description: 'Download payroll exports', grants: ['payroll:read'] }],
  },
];
const STALE_LOCK_MS = 30_000;
const KNOWN_GRANTS = new Set(RESOURCES.flatMap((r) => r.permissions.flatMap((p) => p.grants)));

/** A permanent failure: Stint stops retrying and shows the message. */
const permanent = (error) => ({ error, retryable: false });

function ledgerPath(event) {
  const path = event.integration?.config?.ledger ?? process.env.STINT_EXAMPLE_LEDGER;
  return typeof path === 'string' && path.startsWith('/') ? path : undefined;
}

async function readLedger(path) {
  try {
    const ledger = JSON.parse(await readFile(path, 'utf8'));
    return ledger !== null && typeof ledger === 'object' && typeof ledger.entries === 'object'
      ? ledger
      : { entries: {} };
  } catch (error) {
    if (error.code === 'ENOENT') return { entries: {} };
    throw error;
  }
}

/** Read-modify-write under a lock file; the new ledger replaces the old one atomically (rename). */
async function updateLedger(path, change) {
  await mkdir(dirname(path), { recursive: true });
  const lock = `${path}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      await (await open(lock, 'wx')).close();
      break;
    } catch (error) {
      if (error.code !== 'EEXIST' || attempt > 500) throw error;
      // Another call holds the lock. One older than any call can take was left by a crashed call: break it.
      const held = await stat(lock).catch(() => undefined);
      if (held !== undefined && Date.now() - held.mtimeMs > STALE_LOCK_MS) await rm(lock, { force: true });
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  try {
    const ledger = await readLedger(path);
    const result = change(ledger);
    const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(temp, `${JSON.stringify(ledger, null, 2)}\n`, { mode: 0o600 });
    await rename(temp, path);
    return result;
  } finally {
    await rm(lock, { force: true });
  }
}

/** One entry per (request, resource, permission): a retried grant finds its own entry. */
const entryKey = (event) => `${event.request.id}/${event.resource}/${event.permission}`;

/** A username for the grantee: readable and unique per request. */
function usernameFor(event) {
  const local = event.grantee.email
    .split('@')[0]
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
  const digest = createHash('sha256').update(entryKey(event)).digest('hex').slice(0, 8);
  return `${local.slice(0, 20) || 'user'}-${digest}`;
}

async function grant(event, path) {
  const unknown = event.grants.filter((g) => !KNOWN_GRANTS.has(g));
  if (unknown.length > 0) return permanent(`unknown grant(s): ${unknown.join(', ')}`);
  const key = entryKey(event);
  const username = usernameFor(event);
  // A fresh secret each time: a retried grant replaces the one an earlier attempt may have made.
  const secret = randomBytes(24).toString('base64url');
  await updateLedger(path, (ledger) => {
    ledger.entries[key] = {
      username,
      grantee: event.grantee.id,
      email: event.grantee.email,
      resource: event.resource,
      permission: event.permission,
      grants: event.grants,
      expiresAt: event.request.expiresAt,
      ...(event.request.justification === undefined ? {} : { justification: event.request.justification }),
      secretSha256: createHash('sha256').update(secret).digest('hex'),
    };
  });
  return {
    state: { entry: key },
    access: { username, resource: event.resource, ledger: path },
    secret,
  };
}

async function revoke(event, path) {
  const key = typeof event.state?.entry === 'string' ? event.state.entry : entryKey(event);
  // Removing an entry that is already gone is done.
  await updateLedger(path, (ledger) => {
    delete ledger.entries[key];
  });
  return {};
}

async function extend(event, path) {
  const key = typeof event.state?.entry === 'string' ? event.state.entry : entryKey(event);
  const found = await updateLedger(path, (ledger) => {
    const entry = ledger.entries[key];
    if (entry === undefined) return false;
    entry.expiresAt = event.request.expiresAt;
    return true;
  });
  return found ? {} : permanent(`no ledger entry ${key}: it was removed outside Stint`);
}

export async function handler(event) {
  if (event?.version !== 1) return permanent(`unsupported contract version ${event?.version}`);
  if (event.action === 'list-resources') return { resources: RESOURCES };
  const path = ledgerPath(event);
  if (path === undefined) return permanent('set the integration config "ledger" (an absolute path)');
  switch (event.action) {
    case 'grant':
      return grant(event, path);
    case 'revoke':
      return revoke(event, path);
    case 'extend':
      return extend(event, path);
    default:
      return permanent(`unknown action ${event.action}`);
  }
}

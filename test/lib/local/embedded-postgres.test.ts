import { rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { clusterParentDir, freePort, startEmbeddedPostgres } from '#lib/local/embedded-postgres.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await clusterParentDir('stint-epg');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function login(port: number, user: string, password: string): Promise<string> {
  const client = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres' });
  await client.connect();
  try {
    const result = await client.query<{ now: string }>('SELECT current_user AS now');
    return result.rows[0]?.now ?? '';
  } finally {
    await client.end();
  }
}

describe('startEmbeddedPostgres', () => {
  it('starts a cluster that accepts its admin password and refuses a wrong one', async () => {
    const dir = await tempDir();
    const server = await startEmbeddedPostgres({ dataDir: join(dir, 'data'), port: await freePort() });
    cleanups.push(() => server.stop());

    expect(await login(server.port, server.adminUser, server.adminPassword)).toBe(server.adminUser);
    await expect(login(server.port, server.adminUser, 'wrong-password')).rejects.toThrow(
      /password authentication failed/,
    );
  });

  it('reuses an existing cluster, its data and its admin password after a restart', async () => {
    const dir = await tempDir();
    const dataDir = join(dir, 'data');
    const first = await startEmbeddedPostgres({ dataDir, port: await freePort() });
    const client = new pg.Client({
      host: first.host,
      port: first.port,
      user: first.adminUser,
      password: first.adminPassword,
      database: 'postgres',
    });
    await client.connect();
    await client.query('CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)');
    await client.end();
    await first.stop();

    const second = await startEmbeddedPostgres({ dataDir, port: await freePort() });
    cleanups.push(() => second.stop());
    expect(second.adminPassword).toBe(first.adminPassword);
    const again = new pg.Client({
      host: second.host,
      port: second.port,
      user: second.adminUser,
      password: second.adminPassword,
      database: 'postgres',
    });
    await again.connect();
    const rows = await again.query<{ v: number }>('SELECT v FROM kept');
    await again.end();
    expect(rows.rows).toEqual([{ v: 42 }]);
  });

  it('starts over a stale postmaster.pid left by a crash', async () => {
    const dir = await tempDir();
    const dataDir = join(dir, 'data');
    const first = await startEmbeddedPostgres({ dataDir, port: await freePort() });
    await first.stop();
    // After a reboot the recorded pid belongs to another process (here pid 1): PostgreSQL alone would refuse.
    await writeFile(join(dataDir, 'postmaster.pid'), `1\n${dataDir}\n`);

    const second = await startEmbeddedPostgres({ dataDir, port: await freePort() });
    cleanups.push(() => second.stop());
    expect(await login(second.port, second.adminUser, second.adminPassword)).toBe(second.adminUser);
  });

  it('takes over from a server left running on the same data dir by a killed runtime', async () => {
    const dir = await tempDir();
    const dataDir = join(dir, 'data');
    const orphan = await startEmbeddedPostgres({ dataDir, port: await freePort() });

    const second = await startEmbeddedPostgres({ dataDir, port: await freePort() });
    cleanups.push(() => second.stop());
    await orphan.stop(); // settles although its server is gone
    await expect(login(orphan.port, orphan.adminUser, orphan.adminPassword)).rejects.toThrow(/ECONNREFUSED/);
    expect(await login(second.port, second.adminUser, second.adminPassword)).toBe(second.adminUser);
  });

  it('fails with a clear error when the port is in use', async () => {
    const dir = await tempDir();
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

    await expect(startEmbeddedPostgres({ dataDir: join(dir, 'data'), port })).rejects.toThrow(
      `port ${port} is already in use`,
    );
  });

  it('refuses a non-empty data dir that holds no cluster it made', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'stray'), 'x');
    await expect(startEmbeddedPostgres({ dataDir: dir, port: await freePort() })).rejects.toThrow(
      /holds no cluster made by Stint/,
    );
  });

  it('removes the data dir on stop when not persistent', async () => {
    const dir = await tempDir();
    const dataDir = join(dir, 'data');
    const server = await startEmbeddedPostgres({ dataDir, port: await freePort(), persistent: false });
    await server.stop();
    await expect(stat(dataDir)).rejects.toThrow(/ENOENT/);
  });
});

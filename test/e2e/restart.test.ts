import { join } from 'node:path';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { call, until } from '../support/http.ts';
import { createMysqlFixture, loginResult, type MysqlFixture } from '../support/mysql.ts';
import { canAuth, createRedisAdmin, REDIS_HOST, REDIS_PORT } from '../support/redis.ts';

/**
 * Executions live in memory in the local runtime: a restart loses them. An ACTIVE grant must still be revoked
 * on time, because the new process resumes every unfinished request from the table.
 */
let stint: Stint | undefined;
let mysqlFixture: MysqlFixture | undefined;
let redisAdmin: Awaited<ReturnType<typeof createRedisAdmin>> | undefined;

afterAll(async () => {
  await stint?.stop();
  await mysqlFixture?.drop();
  await redisAdmin?.drop();
});

/** A self-serve flow of up to 5 minutes on one target. */
const selfServe = (integrationId: string, resource: string, permission: string) => ({
  name: `restart ${integrationId}`,
  requestors: { everyone: true },
  targets: [{ integrationId, resource, permission }],
  approval: { mode: 'auto' },
  defaultMinutes: 1,
  maxMinutes: 5,
  justificationRequired: false,
  maxExtensions: 0,
});

it('revokes ACTIVE PostgreSQL, MySQL and Redis grants on time after the runtime restarts', {
  timeout: 300_000,
}, async () => {
  const dir = await clusterParentDir('stint-e2e-restart');
  mysqlFixture = await createMysqlFixture('restart');
  redisAdmin = await createRedisAdmin();
  const options = {
    stateDir: join(dir, 'state'),
    pgDataDir: join(dir, 'postgres'),
    pgPort: await freePort(),
    port: await freePort(),
    scheduleEveryMs: 1000,
    env: { STINT_RESTART_MYSQL_ADMIN: mysqlFixture.secret, STINT_RESTART_REDIS_ADMIN: redisAdmin.secret },
  };
  stint = await startStint(options);
  const alice = { sub: 'alice', email: 'alice@example.com', groups: [] };
  let token = await stint.token(alice);

  // MySQL / MariaDB and Redis integrations next to the demo PostgreSQL, each with a one-minute self-serve flow.
  const adminToken = await stint.token({ sub: 'root', email: 'root@example.com', groups: ['stint-admins'] });
  const put = async (path: string, body: unknown) => {
    const res = await call(stint?.url ?? '', 'PUT', path, { token: adminToken, body });
    expect(res.status, res.text).toBeLessThan(300);
  };
  await put('/integrations/restart-mysql', {
    name: 'restart mysql',
    type: 'mysql',
    config: { host: '127.0.0.1', port: 3306, tls: 'disable' },
    secretRef: 'env:STINT_RESTART_MYSQL_ADMIN',
    resources: [{ id: mysqlFixture.database, permissions: [{ id: 'read', grants: [mysqlFixture.readRole] }] }],
  });
  await put('/integrations/restart-redis', {
    name: 'restart redis',
    type: 'redis',
    config: { host: REDIS_HOST, port: REDIS_PORT, tls: 'disable' },
    secretRef: 'env:STINT_RESTART_REDIS_ADMIN',
    resources: [{ id: 'keys', permissions: [{ id: 'read', grants: ['%R~restart:*', '+@read', '+@connection'] }] }],
  });
  await put('/flows/restart-mysql', selfServe('restart-mysql', mysqlFixture.database, 'read'));
  await put('/flows/restart-redis', selfServe('restart-redis', 'keys', 'read'));
  const others: { id: string; kind: 'mysql' | 'redis'; username: string; password: string }[] = [];
  for (const kind of ['mysql', 'redis'] as const) {
    const res = await call(stint.url, 'POST', '/requests', {
      token,
      body: { flowId: `restart-${kind}`, durationMinutes: 1, justification: 'restart test' },
    });
    expect(res.status, res.text).toBe(201);
    const { id } = res.json as { id: string };
    await until(
      async () =>
        ((await call(stint?.url ?? '', 'GET', `/requests/${id}`, { token })).json as { status: string }).status,
      (s) => s === 'ACTIVE',
    );
    const access = (await call(stint.url, 'GET', `/requests/${id}/access`, { token })).json as {
      username: string;
      password: string;
    };
    others.push({ id, kind, username: access.username, password: access.password });
  }
  const canUse = async (o: (typeof others)[number]) =>
    o.kind === 'mysql' ? (await loginResult(o.username, o.password)) === true : canAuth(o.username, o.password);
  for (const o of others) expect(await canUse(o), o.kind).toBe(true);
  const created = await call(stint.url, 'POST', '/requests', {
    token,
    body: { flowId: 'demo-readonly', durationMinutes: 1, justification: 'restart test' },
  });
  expect(created.status, created.text).toBe(201);
  const { id } = created.json as { id: string };
  const read = async () =>
    (await call(stint?.url ?? '', 'GET', `/requests/${id}`, { token })).json as {
      status: string;
      expiresAt?: string;
      revokedAt?: string;
    };
  const active = await until(read, (r) => r.status === 'ACTIVE');
  const creds = (await call(stint.url, 'GET', `/requests/${id}/access`, { token })).json as {
    host: string;
    port: number;
    database: string;
    username: string;
    password: string;
  };

  await stint.stop();
  stint = await startStint(options);
  token = await stint.token(alice);

  expect((await read()).status).toBe('ACTIVE');
  const expired = await until(read, (r) => r.status === 'EXPIRED', 180_000);
  expect(expired.expiresAt).toBe(active.expiresAt);
  expect(Date.parse(expired.revokedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(active.expiresAt ?? ''));
  const client = new pg.Client({ ...creds, user: creds.username, connectionTimeoutMillis: 5000 });
  await expect(client.connect()).rejects.toThrow(/password authentication failed/);

  // MySQL and Redis expired too, through the resumed workflow (Redis has no expiry of its own).
  for (const o of others) {
    const status = async () =>
      ((await call(stint?.url ?? '', 'GET', `/requests/${o.id}`, { token })).json as { status: string }).status;
    await until(status, (st) => st === 'EXPIRED', 180_000);
    expect(await canUse(o), o.kind).toBe(false);
  }
});

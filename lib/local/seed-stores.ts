import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import type { FlowInput } from '#lib/domain/flow.ts';
import type { IntegrationInput } from '#lib/domain/integration.ts';
import { demoFlows } from './seed.ts';

/**
 * `npm start`'s demos on the machine's own MySQL / MariaDB and Redis, when they are reachable: a database (or key
 * prefix), roles (or ACL rules), an admin login with exactly the documented privileges whose secret is a file in the
 * data folder (`file:` references are local only), an integration and a self-serve flow each. Absent servers are
 * skipped, and `npm start` says so. STINT_MYSQL_URL / STINT_REDIS_URL (e.g. `mysql://root@127.0.0.1:3306`,
 * `redis://127.0.0.1:6379`) name the servers and the login that creates the demo; "off" skips one.
 */
export const STORE_DEMO = {
  mysql: {
    integrationId: 'demo-mysql',
    flowId: 'demo-mysql-readonly',
    database: 'stint_demo',
    read: 'demo_orders_read',
    write: 'demo_orders_write',
    admin: 'demo_stint_admin',
  },
  redis: { integrationId: 'demo-redis', flowId: 'demo-redis-readonly', prefix: 'demo', admin: 'demo_stint_admin' },
} as const;

export type StoreDemo = { integration: IntegrationInput; flowId: string; flow: FlowInput; summary: string };

/** A password kept in the data folder, so a restart reuses the admin login it created. */
function adminSecretFile(stateDir: string, name: string, username: string): { ref: string; password: string } {
  const file = join(stateDir, `${name}-admin.json`);
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { password: string };
    return { ref: `file:${file}`, password: saved.password };
  }
  const password = randomBytes(24).toString('base64url');
  writeFileSync(file, JSON.stringify({ username, password }), { mode: 0o600 });
  return { ref: `file:${file}`, password };
}

/** The demo PostgreSQL's self-serve flow (lib/local/seed.ts) on another target. */
function selfServe(name: string, integrationId: string, resource: string, permission: string): FlowInput {
  const base = demoFlows['demo-readonly'];
  if (base === undefined) throw new Error('lib/local/seed.ts has no demo-readonly flow');
  return {
    ...base,
    name,
    description: 'Anyone may read it for up to 15 minutes, no approval needed.',
    targets: [{ integrationId, resource, permission }],
  };
}

/** Seeds the MySQL / MariaDB demo; `skipped` says why not when the server cannot be reached. */
export async function seedMysqlDemo(
  stateDir: string,
  url = process.env.STINT_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306',
  /** Tests name their own admin login, so they never reset the password of a running npm start's. */
  admin: string = STORE_DEMO.mysql.admin,
): Promise<StoreDemo | { skipped: string }> {
  if (url === 'off') return { skipped: 'STINT_MYSQL_URL=off' };
  const d = { ...STORE_DEMO.mysql, admin };
  let conn: mysql.Connection;
  try {
    conn = await mysql.createConnection({ uri: url, connectTimeout: 2000, multipleStatements: false });
  } catch (error) {
    return { skipped: `${new URL(url).host} unreachable (${(error as Error).message})` };
  }
  const target = new URL(url);
  try {
    const { ref, password } = adminSecretFile(stateDir, 'mysql', d.admin);
    const a = `'${d.admin}'@'%'`;
    for (const sql of [
      `CREATE DATABASE IF NOT EXISTS \`${d.database}\``,
      `CREATE TABLE IF NOT EXISTS \`${d.database}\`.orders (id INT PRIMARY KEY, customer VARCHAR(40) NOT NULL, total DECIMAL(10,2) NOT NULL)`,
      `INSERT IGNORE INTO \`${d.database}\`.orders VALUES (1, 'Ada', 42.00), (2, 'Grace', 17.50), (3, 'Linus', 99.99)`,
      `CREATE ROLE IF NOT EXISTS \`${d.read}\``,
      `GRANT SELECT ON \`${d.database}\`.* TO \`${d.read}\``,
      `CREATE ROLE IF NOT EXISTS \`${d.write}\``,
      `GRANT SELECT, INSERT, UPDATE, DELETE ON \`${d.database}\`.* TO \`${d.write}\``,
      `CREATE USER IF NOT EXISTS ${a} IDENTIFIED BY ${conn.escape(password)}`,
      `ALTER USER ${a} IDENTIFIED BY ${conn.escape(password)}`,
      // The privileges docs/integrations/mysql.md names, nothing more.
      `GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO ${a}`,
      `GRANT SELECT ON mysql.user TO ${a}`,
      `GRANT EVENT ON \`${d.database}\`.* TO ${a}`,
      `GRANT \`${d.read}\` TO ${a} WITH ADMIN OPTION`,
      `GRANT \`${d.write}\` TO ${a} WITH ADMIN OPTION`,
    ]) {
      await conn.query(sql);
    }
    const [rows] = await conn.query("SHOW VARIABLES LIKE 'event_scheduler'");
    const scheduler = (rows as { Value?: string }[])[0]?.Value ?? 'OFF';
    return {
      flowId: d.flowId,
      flow: selfServe('Demo: MariaDB / MySQL read-only, self-serve', d.integrationId, d.database, 'read'),
      integration: {
        name: 'Demo MySQL / MariaDB (this machine)',
        type: 'mysql',
        config: { host: target.hostname, port: Number(target.port || 3306), tls: 'disable' },
        secretRef: ref,
        resources: [
          {
            id: d.database,
            description: 'The demo orders database',
            owners: [],
            permissions: [
              { id: 'read', description: 'SELECT', grants: [d.read] },
              { id: 'write', description: 'Read and write', grants: [d.write] },
            ],
          },
        ],
      },
      summary: `MySQL / MariaDB on ${target.host}, database "${d.database}": flow ${d.flowId} (event_scheduler ${scheduler}${
        scheduler === 'ON'
          ? ': the server drops users at expiry by itself'
          : ': Stint revokes on time, the server does not'
      })`,
    };
  } finally {
    await conn.end();
  }
}

/** Seeds the Redis demo; `skipped` says why not when the server cannot be reached. */
export async function seedRedisDemo(
  stateDir: string,
  url = process.env.STINT_REDIS_URL ?? 'redis://127.0.0.1:6379',
  admin: string = STORE_DEMO.redis.admin,
): Promise<StoreDemo | { skipped: string }> {
  if (url === 'off') return { skipped: 'STINT_REDIS_URL=off' };
  const d = { ...STORE_DEMO.redis, admin };
  const target = new URL(url);
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    return { skipped: `${target.host} unreachable (${(error as Error).message})` };
  }
  try {
    const { ref, password } = adminSecretFile(stateDir, 'redis', d.admin);
    // The admin rules docs/integrations/redis.md names: manage ACL users and end their connections.
    await redis.call('ACL', 'SETUSER', d.admin, 'reset', 'on', `>${password}`, '+acl', '+client|kill');
    await redis.set(`${d.prefix}:greeting`, 'hello from the Stint demo');
    return {
      flowId: d.flowId,
      flow: selfServe('Demo: Redis read-only, self-serve', d.integrationId, 'keyspace', 'readonly'),
      integration: {
        name: 'Demo Redis (this machine)',
        type: 'redis',
        config: { host: target.hostname, port: Number(target.port || 6379), tls: 'disable' },
        secretRef: ref,
        resources: [
          {
            id: 'keyspace',
            description: `Keys under ${d.prefix}:`,
            owners: [],
            permissions: [
              {
                id: 'readonly',
                description: 'Read demo:* keys',
                grants: [`%R~${d.prefix}:*`, '+@read', '+@connection', '-@dangerous'],
              },
            ],
          },
        ],
      },
      summary: `Redis on ${target.host}, keys "${d.prefix}:*": flow ${d.flowId}`,
    };
  } finally {
    redis.disconnect();
  }
}

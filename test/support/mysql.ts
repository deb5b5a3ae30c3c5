import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';

/**
 * The machine's MariaDB (127.0.0.1:3306, root without a password over TCP) for the mysql driver's tests. Other
 * tests use it at the same time: everything made here has a per-run random suffix and is dropped afterwards.
 */
export const MYSQL_HOST = process.env.STINT_TEST_MYSQL_HOST ?? '127.0.0.1';
export const MYSQL_PORT = Number(process.env.STINT_TEST_MYSQL_PORT ?? 3306);

export async function rootQuery<T = Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<T[]> {
  const c = await mysql.createConnection({ host: MYSQL_HOST, port: MYSQL_PORT, user: 'root', dateStrings: true });
  try {
    const [rows] = await c.query(sql, values);
    return Array.isArray(rows) ? (rows as T[]) : [];
  } finally {
    await c.end();
  }
}

/** A login as someone (over TCP, with their password). */
export async function connectAs(user: string, password: string, database?: string): Promise<mysql.Connection> {
  const c = await mysql.createConnection({
    host: MYSQL_HOST,
    port: MYSQL_PORT,
    user,
    password,
    ...(database === undefined ? {} : { database }),
  });
  c.on('error', () => undefined);
  return c;
}

/** Whether the user can log in with that password; the server's reason when not. */
export async function loginResult(user: string, password: string, database?: string): Promise<true | string> {
  try {
    const c = await connectAs(user, password, database);
    await c.end();
    return true;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** A test fixture: a database with a table `items`, a read role (SELECT) and a write role (SELECT, UPDATE). */
export type MysqlFixture = {
  suffix: string;
  database: string;
  readRole: string;
  writeRole: string;
  admin: { username: string; password: string };
  /** The admin secret JSON, as an integration's secretRef resolves it. */
  secret: string;
  drop(): Promise<void>;
};

/**
 * Creates the fixture, and an admin user with the privileges docs/integrations/mysql.md names for MariaDB: CREATE
 * USER, PROCESS and CONNECTION ADMIN server-wide, SELECT on mysql.user, EVENT on the database, the roles WITH ADMIN
 * OPTION. Nothing more: the tests prove the list is enough.
 */
export async function createMysqlFixture(label: string): Promise<MysqlFixture> {
  const suffix = `${label}_${randomBytes(4).toString('hex')}`;
  const database = `stinttest_${suffix}`;
  const readRole = `app_read_${suffix}`;
  const writeRole = `app_write_${suffix}`;
  const admin = { username: `stintadm_${suffix}`.slice(0, 80), password: randomBytes(18).toString('base64url') };
  const a = `'${admin.username}'@'%'`;
  const statements = [
    `CREATE DATABASE \`${database}\``,
    `CREATE TABLE \`${database}\`.items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL)`,
    `INSERT INTO \`${database}\`.items VALUES (1, 'one')`,
    `CREATE ROLE \`${readRole}\``,
    `GRANT SELECT ON \`${database}\`.* TO \`${readRole}\``,
    `CREATE ROLE \`${writeRole}\``,
    `GRANT SELECT, UPDATE ON \`${database}\`.* TO \`${writeRole}\``,
    `CREATE USER ${a} IDENTIFIED BY '${admin.password}'`,
    `GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO ${a}`,
    `GRANT SELECT ON mysql.user TO ${a}`,
    `GRANT EVENT ON \`${database}\`.* TO ${a}`,
    `GRANT \`${readRole}\` TO ${a} WITH ADMIN OPTION`,
    `GRANT \`${writeRole}\` TO ${a} WITH ADMIN OPTION`,
  ];
  for (const sql of statements) await rootQuery(sql);
  return {
    suffix,
    database,
    readRole,
    writeRole,
    admin,
    secret: JSON.stringify(admin),
    drop: async () => {
      // Stint's users for this database go with their events (a failed test may leave some).
      const events = await rootQuery<{ name: string }>(
        'SELECT EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?',
        [database],
      );
      for (const { name } of events) {
        await rootQuery(`DROP USER IF EXISTS '${name}'@'%'`);
        await rootQuery(`DROP ROLE IF EXISTS \`${name}_r\``);
      }
      await rootQuery(`DROP DATABASE IF EXISTS \`${database}\``);
      await rootQuery(`DROP USER IF EXISTS ${a}`);
      await rootQuery(`DROP ROLE IF EXISTS \`${readRole}\``);
      await rootQuery(`DROP ROLE IF EXISTS \`${writeRole}\``);
    },
  };
}

/** What the server holds of a user name: the user, its MariaDB role, its events, its connections. */
export async function traces(user: string): Promise<{ users: number; roles: number; events: number; threads: number }> {
  const [u] = await rootQuery<{ n: number }>("SELECT COUNT(*) AS n FROM mysql.user WHERE User = ? AND Host = '%'", [
    user,
  ]);
  const [r] = await rootQuery<{ n: number }>("SELECT COUNT(*) AS n FROM mysql.user WHERE User = ? AND Host = ''", [
    `${user}_r`,
  ]);
  const [e] = await rootQuery<{ n: number }>(
    'SELECT COUNT(*) AS n FROM information_schema.EVENTS WHERE EVENT_NAME = ?',
    [user],
  );
  const [t] = await rootQuery<{ n: number }>(
    'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?',
    [user],
  );
  return { users: Number(u?.n), roles: Number(r?.n), events: Number(e?.n), threads: Number(t?.n) };
}

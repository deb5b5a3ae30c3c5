import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stint } from '#lib/local/stint.ts';
import { call, until } from '../../support/http.ts';
import {
  connectAs,
  createMysqlFixture,
  loginResult,
  MYSQL_HOST,
  MYSQL_PORT,
  type MysqlFixture,
  rootQuery,
  traces,
} from '../../support/mysql.ts';

/**
 * The mysql driver end to end, through the local runtime over HTTP, against the machine's MariaDB. The file that
 * starts Stint calls `mysqlTestAdmin()` first and puts its answer into startStint's `env` as STINT_TEST_MYSQL_ADMIN
 * (the integration's `secretRef: "env:STINT_TEST_MYSQL_ADMIN"`), then calls `mysqlSuite`.
 */
export const MYSQL_ADMIN_ENV = 'STINT_TEST_MYSQL_ADMIN';

let fixture: Promise<MysqlFixture> | undefined;

/** Creates this run's database, roles and admin user (once); the admin secret JSON for startStint's env. */
export async function mysqlTestAdmin(): Promise<string> {
  fixture ??= createMysqlFixture('e2e');
  return (await fixture).secret;
}

type Ctx = () => { stint: Stint; tokenFor(sub: string, groups?: string[]): Promise<string> };
type RequestJson = { id: string; status: string; failureReason?: string; expiresAt?: string };
type Access = { host: string; port: number; database: string; username: string; password: string; expiresAt: string };

export function mysqlSuite(ctx: Ctx): void {
  describe('mysql (MariaDB) end to end', { timeout: 240_000 }, () => {
    let fx: MysqlFixture;
    const integrationId = 'e2e-mysql';
    const tokens: Record<string, string> = {};
    const url = () => ctx().stint.url;

    async function create(who: string, flowId: string, durationMinutes = 5): Promise<string> {
      const res = await call(url(), 'POST', '/requests', {
        token: tokens[who],
        body: { flowId, durationMinutes, justification: 'mysql e2e' },
      });
      expect(res.status, res.text).toBe(201);
      return (res.json as RequestJson).id;
    }
    async function reach(who: string, id: string, status: string): Promise<RequestJson> {
      return until(
        async () => (await call(url(), 'GET', `/requests/${id}`, { token: tokens[who] })).json as RequestJson,
        (r) => r.status === status,
        150_000,
      );
    }
    async function access(who: string, id: string): Promise<Access> {
      const res = await call(url(), 'GET', `/requests/${id}/access`, { token: tokens[who] });
      expect(res.status, res.text).toBe(200);
      return res.json as Access;
    }
    async function act(who: string, id: string, action: string, body: unknown = {}) {
      return call(url(), 'POST', `/requests/${id}/${action}`, { token: tokens[who], body });
    }

    beforeAll(async () => {
      await mysqlTestAdmin();
      if (fixture === undefined) throw new Error('no fixture');
      fx = await fixture;
      for (const [sub, groups] of [
        ['alice', []],
        ['bob', []],
        ['root', ['stint-admins']],
      ] as const)
        tokens[sub] = await ctx().tokenFor(sub, [...groups]);
      const integration = await call(url(), 'PUT', `/integrations/${integrationId}`, {
        token: tokens.root,
        body: {
          name: 'E2E MariaDB',
          type: 'mysql',
          config: { host: MYSQL_HOST, port: MYSQL_PORT, tls: 'disable' },
          secretRef: `env:${MYSQL_ADMIN_ENV}`,
          resources: [
            {
              id: fx.database,
              permissions: [
                { id: 'read', grants: [fx.readRole] },
                { id: 'broken', grants: [`no_such_role_${fx.suffix}`] },
              ],
            },
          ],
        },
      });
      expect(integration.status, integration.text).toBe(200);
      for (const permission of ['read', 'broken']) {
        const flow = await call(url(), 'PUT', `/flows/mysql-${permission}`, {
          token: tokens.root,
          body: {
            name: `mysql ${permission}`,
            requestors: { everyone: true },
            targets: [{ integrationId, resource: fx.database, permission }],
            approval: { mode: 'auto' },
            defaultMinutes: 5,
            maxMinutes: 30,
            justificationRequired: false,
            maxExtensions: 1,
          },
        });
        expect(flow.status, flow.text).toBe(200);
      }
    }, 120_000);

    afterAll(async () => {
      await (await fixture)?.drop();
    });

    it('grants a login that may SELECT but not UPDATE, and revoke ends it', async () => {
      const id = await create('alice', 'mysql-read');
      await reach('alice', id, 'ACTIVE');
      const creds = await access('alice', id);
      expect(creds).toMatchObject({ host: MYSQL_HOST, port: MYSQL_PORT, database: fx.database });
      expect(await loginResult(creds.username, 'wrong-password')).toMatch(/Access denied/);

      const session = await connectAs(creds.username, creds.password, creds.database);
      const [rows] = await session.query('SELECT name FROM items WHERE id = 1');
      expect(rows).toEqual([{ name: 'one' }]);
      await expect(session.query("UPDATE items SET name = 'x' WHERE id = 1")).rejects.toThrow(/UPDATE command denied/);

      expect((await act('alice', id, 'revoke')).status).toBe(200);
      await reach('alice', id, 'REVOKED');
      await expect(session.query('SELECT 1')).rejects.toThrow();
      session.destroy();
      expect(await loginResult(creds.username, creds.password)).toMatch(/Access denied/);
      expect(await traces(creds.username)).toEqual({ users: 0, roles: 0, events: 0, threads: 0 });
    });

    it('gives overlapping requests by two people their own users; revoking one leaves the other', async () => {
      const a = await create('alice', 'mysql-read');
      const b = await create('bob', 'mysql-read');
      await reach('alice', a, 'ACTIVE');
      await reach('bob', b, 'ACTIVE');
      const ca = await access('alice', a);
      const cb = await access('bob', b);
      expect(ca.username).not.toBe(cb.username);

      await act('alice', a, 'revoke');
      await reach('alice', a, 'REVOKED');
      expect(await loginResult(ca.username, ca.password)).toMatch(/Access denied/);
      expect(await loginResult(cb.username, cb.password, cb.database)).toBe(true);

      await act('bob', b, 'revoke');
      await reach('bob', b, 'REVOKED');
      expect(await loginResult(cb.username, cb.password)).toMatch(/Access denied/);
    });

    it('extends: the expiry event moves with the request', async () => {
      const id = await create('alice', 'mysql-read');
      const active = await reach('alice', id, 'ACTIVE');
      const extended = await act('alice', id, 'extend', { minutes: 5 });
      expect(extended.status, extended.text).toBe(200);
      const expiresAt = Date.parse((extended.json as RequestJson).expiresAt ?? '');
      expect(expiresAt).toBe(Date.parse(active.expiresAt ?? '') + 5 * 60_000);
      const creds = await access('alice', id);
      // The event runs at the expiry cut to the second (never later).
      const want = new Date(Math.floor(expiresAt / 1000) * 1000).toISOString().slice(0, 19).replace('T', ' ');
      const rows = await until(
        () =>
          rootQuery<{ at: string }>('SELECT EXECUTE_AT AS at FROM information_schema.EVENTS WHERE EVENT_NAME = ?', [
            creds.username,
          ]),
        (r) => r[0]?.at === want,
        30_000,
      );
      expect(rows).toEqual([{ at: want }]);
      await act('alice', id, 'revoke');
      await reach('alice', id, 'REVOKED');
    });

    it('fails a request for a role that does not exist with the server reason, leaving nothing', async () => {
      const id = await create('alice', 'mysql-broken');
      const failed = await reach('alice', id, 'FAILED');
      expect(failed.failureReason).toMatch(new RegExp(`Invalid role specification .no_such_role_${fx.suffix}`));
      const managed = await rootQuery<{ n: number }>(
        'SELECT COUNT(*) AS n FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?',
        [fx.database],
      );
      expect(Number(managed[0]?.n)).toBe(0);
    });
  });
}

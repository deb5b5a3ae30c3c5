import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '#lib/local/seed.ts';
import type { Stint } from '#lib/local/stint.ts';
import { call, until } from '../../support/http.ts';
import {
  aclUsers,
  asDefault,
  canAuth,
  createRedisAdmin,
  loginAs,
  outcome,
  REDIS_HOST,
  REDIS_PORT,
  runSuffix,
} from '../../support/redis.ts';

/**
 * The Redis driver end to end, through the local runtime over HTTP, against the machine's Redis (127.0.0.1:6379):
 * an integration put by an admin with `secretRef: "env:STINT_TEST_REDIS_ADMIN"`, requests granted, used, revoked.
 */

export type RedisSuiteContext = {
  stint: Stint;
  tokenFor(sub: string, groups?: string[]): Promise<string>;
};

const run = runSuffix();
const PREFIX = `stinte2e:${run}`;
const INTEGRATION = `redis-e2e-${run}`;
let dropAdmin: (() => Promise<void>) | undefined;

/**
 * Creates the admin ACL user the suite's integration logs in with (exactly the privileges the docs name) and
 * answers its secret JSON: startStint's env must hold it as STINT_TEST_REDIS_ADMIN. The suite deletes it at the end.
 */
export async function redisTestAdmin(): Promise<string> {
  const admin = await createRedisAdmin();
  dropAdmin = admin.drop;
  return admin.secret;
}

type RequestJson = { id: string; status: string; failureReason?: string };
type RedisAccess = { host: string; port: number; username: string; password: string; expiresAt: string };

export function redisSuite(ctx: () => RedisSuiteContext): void {
  describe('redis through the local runtime', { timeout: 180_000 }, () => {
    let adminToken = '';
    let userToken = '';
    const sessions: { disconnect(): void }[] = [];

    const api = (token: string, method: string, path: string, body?: unknown) =>
      call(ctx().stint.url, method, path, { token, ...(body === undefined ? {} : { body }) });
    const get = async (id: string) => (await api(userToken, 'GET', `/requests/${id}`)).json as RequestJson;
    const reach = (id: string, status: string) =>
      until(
        () => get(id),
        (r) => r.status === status,
        120_000,
      );
    async function request(permission: string): Promise<string> {
      const created = await api(userToken, 'POST', '/requests', {
        flowId: `${INTEGRATION}-${permission}`,
        durationMinutes: 5,
        justification: 'redis e2e',
      });
      expect(created.status, created.text).toBe(201);
      return (created.json as RequestJson).id;
    }
    async function accessOf(id: string): Promise<RedisAccess> {
      const res = await api(userToken, 'GET', `/requests/${id}/access`);
      expect(res.status, res.text).toBe(200);
      return res.json as RedisAccess;
    }
    async function session(creds: RedisAccess) {
      const r = await loginAs(creds.username, creds.password, creds.port);
      sessions.push(r);
      return r;
    }
    async function revoke(id: string): Promise<void> {
      expect((await api(userToken, 'POST', `/requests/${id}/revoke`, {})).status).toBe(200);
      await reach(id, 'REVOKED');
    }

    const integrationBody = (grants: Record<string, string[]>) => ({
      name: 'Redis (e2e)',
      type: 'redis',
      config: { host: REDIS_HOST, port: REDIS_PORT },
      secretRef: 'env:STINT_TEST_REDIS_ADMIN',
      resources: [
        {
          id: 'cache',
          permissions: Object.entries(grants).map(([id, rules]) => ({ id, grants: rules })),
        },
      ],
    });

    beforeAll(async () => {
      adminToken = await ctx().tokenFor(`redis-admin-${run}`, [DEMO.adminGroup]);
      userToken = await ctx().tokenFor(`redis-user-${run}`);
      await asDefault((r) => r.set(`${PREFIX}:greeting`, 'hello'));
      const put = await api(
        adminToken,
        'PUT',
        `/integrations/${INTEGRATION}`,
        integrationBody({
          readonly: [`%R~${PREFIX}:*`, '+get', '+set'],
          // Passes the rule check (it sets no password or flag) but names no command Redis knows.
          broken: [`~${PREFIX}:*`, '+nosuchcommand'],
        }),
      );
      expect(put.status, put.text).toBe(200);
      for (const permission of ['readonly', 'broken']) {
        const flow = await api(adminToken, 'PUT', `/flows/${INTEGRATION}-${permission}`, {
          name: `Redis ${permission}`,
          requestors: { everyone: true },
          targets: [{ integrationId: INTEGRATION, resource: 'cache', permission }],
          approval: { mode: 'auto' },
          defaultMinutes: 5,
          maxMinutes: 30,
          justificationRequired: false,
          maxExtensions: 1,
        });
        expect(flow.status, flow.text).toBe(200);
      }
    });

    afterAll(async () => {
      for (const s of sessions) s.disconnect();
      await asDefault((r) => r.del(`${PREFIX}:greeting`));
      await dropAdmin?.();
    });

    it('grants an ACL user that runs what its rules allow, is refused the rest, and is gone after revoke', async () => {
      const id = await request('readonly');
      await reach(id, 'ACTIVE');
      const creds = await accessOf(id);
      expect(creds).toMatchObject({ host: REDIS_HOST, port: REDIS_PORT, username: expect.stringMatching(/^stint_/) });
      expect(creds).not.toHaveProperty('database');

      expect(await canAuth(creds.username, 'wrong-password')).toBe(false);
      const s = await session(creds);
      expect(await s.get(`${PREFIX}:greeting`)).toBe('hello');
      expect(await outcome(() => s.set(`${PREFIX}:greeting`, 'changed'))).toMatch(/^NOPERM/);
      expect(await outcome(() => s.get(`elsewhere:${run}`))).toMatch(/^NOPERM/);

      await revoke(id);

      expect(await canAuth(creds.username, creds.password)).toBe(false);
      await until(
        async () => s.status,
        (status) => status === 'end',
        10_000,
        50,
      );
      expect(await aclUsers()).not.toContain(creds.username);
    });

    it('keeps an overlapping request working when the other one is revoked', async () => {
      const first = await request('readonly');
      const second = await request('readonly');
      await reach(first, 'ACTIVE');
      await reach(second, 'ACTIVE');
      const a = await accessOf(first);
      const b = await accessOf(second);
      expect(a.username).not.toBe(b.username);

      await revoke(first);

      expect(await canAuth(a.username, a.password)).toBe(false);
      const s = await session(b);
      expect(await s.get(`${PREFIX}:greeting`)).toBe('hello');
      await revoke(second);
      expect(await canAuth(b.username, b.password)).toBe(false);
    });

    it('extends without touching the user: the open connection and the password keep working', async () => {
      const id = await request('readonly');
      await reach(id, 'ACTIVE');
      const creds = await accessOf(id);
      const s = await session(creds);

      const extended = await api(userToken, 'POST', `/requests/${id}/extend`, { minutes: 5 });

      expect(extended.status, extended.text).toBe(200);
      await until(
        () => accessOf(id),
        (a) => Date.parse(a.expiresAt) > Date.parse(creds.expiresAt),
        30_000,
      );
      expect(await s.get(`${PREFIX}:greeting`)).toBe('hello');
      expect(await canAuth(creds.username, creds.password)).toBe(true);
      await revoke(id);
      expect(await canAuth(creds.username, creds.password)).toBe(false);
    });

    it('fails a grant whose rule Redis refuses, with Redis’s reason, leaving no user', async () => {
      const id = await request('broken');
      const failed = await reach(id, 'FAILED');
      expect(failed.failureReason).toMatch(/nosuchcommand/);
      expect((await aclUsers()).filter((u) => u.includes(id.toLowerCase()))).toEqual([]);
    });

    it('refuses at PUT /integrations a rule that would set a password, naming the field', async () => {
      const res = await api(
        adminToken,
        'PUT',
        `/integrations/${INTEGRATION}-bad`,
        integrationBody({ ok: ['~k:*', '+get'], bad: ['~k:*', '>sneaky', 'on'] }),
      );
      expect(res.status).toBe(400);
      expect(res.text).toContain('body.resources.0.permissions.1.grants.1');
      expect(res.text).not.toContain('sneaky');
      expect((await api(adminToken, 'GET', `/integrations/${INTEGRATION}-bad`)).status).toBe(404);
    });
  });
}

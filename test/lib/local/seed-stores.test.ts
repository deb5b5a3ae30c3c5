import { randomBytes } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { describe, expect, it, onTestFinished } from 'vitest';
import { validateIntegrationConfig } from '#lib/integrations/checks/registry.ts';
import { seedMysqlDemo, seedRedisDemo } from '#lib/local/seed-stores.ts';

/** npm start's MySQL / MariaDB and Redis demos, against the machine's servers, and without them. */
describe('the data store demos of npm start', () => {
  it('seeds MariaDB and Redis when they are there: valid integrations, admin secrets in 0600 files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-seed-stores-'));
    const admin = `seedtest_${randomBytes(4).toString('hex')}`;
    const demos = [await seedMysqlDemo(dir, undefined, admin), await seedRedisDemo(dir, undefined, admin)];
    const root = await mysql.createConnection({ uri: 'mysql://root@127.0.0.1:3306' });
    const redis = new Redis(6379, '127.0.0.1');
    onTestFinished(async () => {
      await root.query(`DROP USER IF EXISTS '${admin}'@'%'`);
      await root.end();
      await redis.call('ACL', 'DELUSER', admin);
      redis.disconnect();
    });
    for (const demo of demos) {
      if ('skipped' in demo) throw new Error(`not seeded: ${demo.skipped}`);
      expect(() => validateIntegrationConfig(demo.integration)).not.toThrow();
      const file = (demo.integration.secretRef ?? '').replace(/^file:/, '');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(demo.flow.targets[0]?.integrationId).toMatch(/^demo-(mysql|redis)$/);
    }
  });

  it('skips a server that is not there, saying why, or one turned off', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-seed-stores-'));
    // Nothing listens on port 1.
    expect(await seedMysqlDemo(dir, 'mysql://root@127.0.0.1:1')).toMatchObject({
      skipped: expect.stringContaining('unreachable'),
    });
    expect(await seedRedisDemo(dir, 'redis://127.0.0.1:1')).toMatchObject({
      skipped: expect.stringContaining('unreachable'),
    });
    expect(await seedRedisDemo(dir, 'off')).toEqual({ skipped: 'STINT_REDIS_URL=off' });
  });
});

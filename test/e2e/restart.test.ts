import { join } from 'node:path';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { call, until } from '../support/http.ts';

/**
 * Executions live in memory in the local runtime: a restart loses them. An ACTIVE grant must still be revoked
 * on time, because the new process resumes every unfinished request from the table.
 */
let stint: Stint | undefined;

afterAll(async () => {
  await stint?.stop();
});

it('revokes an ACTIVE grant on time after the runtime restarts', { timeout: 300_000 }, async () => {
  const dir = await clusterParentDir('stint-e2e-restart');
  const options = {
    stateDir: join(dir, 'state'),
    pgDataDir: join(dir, 'postgres'),
    pgPort: await freePort(),
    port: await freePort(),
    scheduleEveryMs: 1000,
  };
  stint = await startStint(options);
  const alice = { sub: 'alice', email: 'alice@example.com', groups: [] };
  let token = await stint.token(alice);
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
});

import pg, { escapeIdentifier, escapeLiteral } from 'pg';
import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { roleNameFor } from '#lib/integrations/postgresql.ts';
import { DEMO } from '#lib/local/seed.ts';
import type { Stint } from '#lib/local/stint.ts';
import { call, until } from '../../support/http.ts';

/**
 * The orphan sweep and drift check end to end on the demo PostgreSQL integration, through the local runtime: the
 * reconciler's sweep schedule (runtime.runSchedules), the driver function called by Lambda Invoke, the findings on
 * the bus. The lead folds this suite into the shared data-stores file with the MySQL and Redis suites.
 */
export function sweepSuite(ctx: () => { stint: Stint; tokenFor(sub: string, groups?: string[]): Promise<string> }) {
  const unit = { integrationId: DEMO.integrationId, resource: DEMO.database, permission: 'readonly' };
  const RequestJson = z.object({ id: z.string(), status: z.string() });

  async function admin<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    const { host, port, adminUser, adminPassword } = ctx().stint.postgres;
    const client = new pg.Client({ host, port, user: adminUser, password: adminPassword, database: 'postgres' });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }
  const roleExists = async (name: string) =>
    (await admin('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).length === 1;
  const sweepEvents = (type: string, principal: string) =>
    ctx()
      .stint.runtime.events()
      .filter(
        (e) =>
          e['detail-type'] === type &&
          z.object({ principal: z.string() }).safeParse(e.detail).data?.principal === principal,
      );

  async function activeRequest(token: string): Promise<string> {
    const { stint } = ctx();
    const created = await call(stint.url, 'POST', '/requests', {
      token,
      body: { flowId: 'demo-readonly', durationMinutes: 10, justification: 'sweep e2e' },
    });
    expect(created.status, created.text).toBe(201);
    const { id } = RequestJson.parse(created.json);
    await until(
      async () => RequestJson.parse((await call(stint.url, 'GET', `/requests/${id}`, { token })).json),
      (r) => r.status === 'ACTIVE',
      120_000,
    );
    return id;
  }

  describe('the orphan sweep (PostgreSQL, local runtime)', () => {
    it('removes the role of a REVOKED request restored behind Stint’s back with grant.orphan_revoked, and leaves an unmarked stint_ role and another deployment’s role', async () => {
      const { stint } = ctx();
      // A hand-restored backup: the role of a request Stint already revoked is back, with its marker.
      const token = await ctx().tokenFor('sweep-restored');
      const requestId = await activeRequest(token);
      const revoked = await call(stint.url, 'POST', `/requests/${requestId}/revoke`, { token, body: {} });
      expect(revoked.status, revoked.text).toBe(200);
      await until(
        async () => RequestJson.parse((await call(stint.url, 'GET', `/requests/${requestId}`, { token })).json),
        (r) => r.status === 'REVOKED',
        120_000,
      );
      const orphan = roleNameFor(requestId, unit);
      const unmarked = `stint_e2e_unmarked_${ulid().toLowerCase()}`;
      // Marked for a request this deployment never saw: another Stint deployment on the same server made it.
      const foreignId = ulid();
      const foreign = roleNameFor(foreignId, unit);
      await admin(`CREATE ROLE ${escapeIdentifier(foreign)} NOLOGIN`);
      await admin(
        `COMMENT ON ROLE ${escapeIdentifier(foreign)} IS ${escapeLiteral(`managed by stint; request ${foreignId}`)}`,
      );
      await admin(`CREATE ROLE ${escapeIdentifier(orphan)} LOGIN`);
      await admin(
        `COMMENT ON ROLE ${escapeIdentifier(orphan)} IS ${escapeLiteral(`managed by stint; request ${requestId}`)}`,
      );
      await admin(`CREATE ROLE ${escapeIdentifier(unmarked)} NOLOGIN`);
      try {
        await stint.runtime.runSchedules();
        const events = await until(
          async () => sweepEvents('grant.orphan_revoked', orphan),
          (found) => found.length > 0,
          30_000,
          50,
        );

        expect(await roleExists(orphan)).toBe(false);
        expect(await roleExists(unmarked)).toBe(true);
        expect(await roleExists(foreign)).toBe(true);
        expect(events[0]?.source).toBe('stint');
        expect(events[0]?.detail).toMatchObject({
          type: 'grant.orphan_revoked',
          integration: { id: DEMO.integrationId, type: 'postgresql' },
          principal: orphan,
          requestId,
        });
        expect(sweepEvents('grant.orphan_revoked', unmarked)).toEqual([]);
        expect(sweepEvents('grant.orphan_revoked', foreign)).toEqual([]);
      } finally {
        await admin(`DROP ROLE IF EXISTS ${escapeIdentifier(foreign)}`);
        await admin(`DROP ROLE IF EXISTS ${escapeIdentifier(unmarked)}`);
        await admin(`DROP ROLE IF EXISTS ${escapeIdentifier(orphan)}`);
      }
    });

    it('keeps an ACTIVE request’s role, and reports drift once it is dropped by hand', async () => {
      const { stint, tokenFor } = ctx();
      const token = await tokenFor(`sweeper-${ulid().toLowerCase()}`);
      const id = await activeRequest(token);
      const role = roleNameFor(id, unit);
      expect(await roleExists(role)).toBe(true);

      await stint.runtime.runSchedules();
      expect(await roleExists(role)).toBe(true);
      expect(sweepEvents('grant.orphan_revoked', role)).toEqual([]);

      await admin(`DROP ROLE ${escapeIdentifier(role)}`);
      await stint.runtime.runSchedules();
      const drift = await until(
        async () => sweepEvents('grant.drift_detected', role),
        (found) => found.length > 0,
        30_000,
        50,
      );

      expect(drift[0]?.detail).toMatchObject({
        type: 'grant.drift_detected',
        principal: role,
        unit,
        request: { id, status: 'ACTIVE' },
      });
      // Reported only: nothing re-created the role. Revoking finds it gone and ends cleanly.
      expect(await roleExists(role)).toBe(false);
      expect((await call(stint.url, 'POST', `/requests/${id}/revoke`, { token, body: {} })).status).toBe(200);
    });

    it('discovers the demo database and its roles for admins', async () => {
      const { stint, tokenFor } = ctx();
      const token = await tokenFor('sweep-admin', ['stint-admins']);

      const res = await call(stint.url, 'GET', `/integrations/${DEMO.integrationId}/discover`, { token });

      expect(res.status, res.text).toBe(200);
      const answer = z
        .object({
          resources: z.array(z.object({ id: z.string(), permissions: z.array(z.object({ id: z.string() })) })),
        })
        .parse(res.json);
      const demo = answer.resources.find((r) => r.id === DEMO.database);
      expect(demo?.permissions.map((p) => p.id)).toContain(DEMO.readonlyRole);
      expect(demo?.permissions.some((p) => p.id.startsWith('stint_') || p.id.startsWith('pg_'))).toBe(false);
    });
  });
}

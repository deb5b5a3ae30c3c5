import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { DEMO } from '#lib/local/seed.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { requestsOver } from '../support/e2e-requests.ts';
import { call } from '../support/http.ts';
import { canLogin, loginWith } from '../support/postgres.ts';

/**
 * Owners as approvers end to end, through the local runtime over HTTP, on the synthesized template, with the
 * embedded PostgreSQL of the demo: an admin names the owners of the demo database on its integration, a flow's
 * approver set says `owners: true`; an owner approves and the grant goes ACTIVE, and a requester who owns the
 * resource is refused (403 problem+json), as is a request nobody but its requester owns (422).
 */
let stint: Stint;
const people = {
  alice: { sub: 'alice', email: 'alice@example.com', groups: [] as string[] },
  olga: { sub: 'olga', email: 'olga@example.com', groups: [] as string[] },
  nina: { sub: 'nina', email: 'nina@example.com', groups: [] as string[] },
  root: { sub: 'root', email: 'root@example.com', groups: ['stint-admins'] },
};
type Person = keyof typeof people;
const tokens = {} as Record<Person, string>;

const requests = requestsOver<Person>({
  url: () => stint.url,
  token: (who) => tokens[who],
  admin: 'root',
  justification: 'fix the orders report',
  flow: () => ({
    requestors: { everyone: true },
    targets: [{ integrationId: DEMO.integrationId, resource: DEMO.database, permission: 'readonly' }],
    approval: { mode: 'manual', sets: [{ name: 'Owners', owners: true }], rule: { type: 'anyOf' }, timeoutMinutes: 30 },
    defaultMinutes: 5,
    maxMinutes: 30,
    justificationRequired: true,
  }),
});

const Problem = z.looseObject({
  type: z.string(),
  status: z.number(),
  detail: z.string(),
  field: z.string().optional(),
});
const Listing = z.object({ items: z.array(z.object({ id: z.string() })) });

/** Sets the owners of the demo database and of its integration, as an admin does through the API. */
async function setOwners(resourceOwners: string[], integrationOwners: string[]): Promise<void> {
  const path = `/integrations/${DEMO.integrationId}`;
  const current = await call(stint.url, 'GET', path, { token: tokens.root });
  expect(current.status, current.text).toBe(200);
  const {
    id: _i,
    version: _v,
    lastChange: _l,
    ...input
  } = z.looseObject({ resources: z.array(z.looseObject({ id: z.string() })) }).parse(current.json);
  const resources = input.resources.map((r) => (r.id === DEMO.database ? { ...r, owners: resourceOwners } : r));
  const put = await call(stint.url, 'PUT', path, {
    token: tokens.root,
    body: { ...input, owners: integrationOwners, resources },
  });
  expect(put.status, put.text).toBe(200);
}

beforeAll(async () => {
  stint = await startStint({
    pgDataDir: join(await clusterParentDir('stint-e2e-owners'), 'pg'),
    pgPort: await freePort(),
    port: 0,
    scheduleEveryMs: 1000,
  });
  for (const name of Object.keys(people) as Person[]) tokens[name] = await stint.token(people[name]);
  await setOwners(['alice', 'olga'], []);
  await requests.putFlow('owners-approve', {});
}, 180_000);

afterAll(async () => {
  await stint?.stop();
});

describe('owners as approvers', { timeout: 240_000 }, () => {
  it('an owner approves and the request goes ACTIVE; the requester who owns the resource cannot approve', async () => {
    const created = await requests.create('alice', 'owners-approve');
    expect(created.status).toBe('PENDING');
    expect(created.unitOwners).toEqual([{ owners: ['alice', 'olga'], source: 'resource' }]);

    const own = await requests.act('alice', created.id, 'approve');
    expect(own.status, own.text).toBe(403);
    expect(own.contentType).toContain('application/problem+json');
    expect(Problem.parse(own.json)).toMatchObject({
      type: 'https://stint.dev/problems/not-approver',
      detail: 'requesters cannot approve their own request',
    });
    expect((await requests.get('alice', created.id)).status).toBe('PENDING');

    const olgaInbox = await call(stint.url, 'GET', '/requests?scope=approvals', { token: tokens.olga });
    const ninaInbox = await call(stint.url, 'GET', '/requests?scope=approvals', { token: tokens.nina });
    expect(Listing.parse(olgaInbox.json).items.map((r) => r.id)).toContain(created.id);
    expect(Listing.parse(ninaInbox.json).items.map((r) => r.id)).not.toContain(created.id);
    const byNina = await requests.act('nina', created.id, 'approve');
    expect(byNina.status, byNina.text).toBe(404);

    const byOlga = await requests.act('olga', created.id, 'approve', { reason: 'I own the demo database' });
    expect(byOlga.status, byOlga.text).toBe(200);
    const granted = await requests.reach('alice', created.id, 'ACTIVE');
    expect(granted.votes).toMatchObject([{ by: 'olga', vote: 'approve', sets: [0], ownerOf: [0] }]);

    const access = await call(stint.url, 'GET', `/requests/${created.id}/access`, { token: tokens.alice });
    expect(access.status, access.text).toBe(200);
    const creds = z
      .object({ host: z.string(), port: z.number(), database: z.string(), username: z.string(), password: z.string() })
      .parse(access.json);
    const session = await loginWith(creds);
    const rows = await session.query('SELECT count(*)::int AS n FROM orders');
    expect(rows.rows[0]?.n).toBeGreaterThan(0);
    await session.end();

    await requests.revoke('alice', created.id);
    await requests.reach('alice', created.id, 'REVOKED');
    expect(await canLogin(creds)).toBe(false);
  });

  it('refuses with 422 problem+json a request that nobody but its requester owns', async () => {
    await setOwners(['alice'], []);

    const res = await call(stint.url, 'POST', '/requests', {
      token: tokens.alice,
      body: { flowId: 'owners-approve', durationMinutes: 5, justification: 'fix the orders report' },
    });

    expect(res.status, res.text).toBe(422);
    expect(res.contentType).toContain('application/problem+json');
    expect(Problem.parse(res.json)).toMatchObject({
      type: 'https://stint.dev/problems/policy-violation',
      field: 'body.targets',
      detail: expect.stringContaining('its only owners are the requester or the grantee'),
    });
  });
});

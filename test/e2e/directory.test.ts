import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { call, until } from '../support/http.ts';

/**
 * The directory admin routes over HTTP on the local runtime: JWT-authorized like every admin route, sharing the
 * directory with SCIM, and every change reaching the bus as a `directory.*.changed` audit event.
 */
let stint: Stint;
let admin: string;
let stranger: string;

beforeAll(async () => {
  const dir = await clusterParentDir('stint-e2e-directory');
  stint = await startStint({ pgDataDir: join(dir, 'pg'), pgPort: await freePort(), port: await freePort() });
  // The local runtime's admin group (lib/local/seed.ts DEMO.adminGroup, config STINT_ADMIN_GROUP).
  admin = await stint.token({ sub: 'dir-root', email: 'dir-root@example.com', groups: ['stint-admins'] });
  stranger = await stint.token({ sub: 'dir-mallory', email: 'mallory@example.com', groups: ['sales'] });
}, 180_000);

afterAll(async () => {
  await stint?.stop();
});

const AAD = '0b6d1f7e-4444-4a2b-9c3d-5e6f7a8b9c0d';
const Detail = z.object({ after: z.object({ id: z.string() }), change: z.string(), action: z.string() });

/** directory events about `id`, as `<type> <change> <action>`, once `count` have arrived (the bus is asynchronous). */
async function directoryEvents(id: string, count: number): Promise<string[]> {
  const read = async () =>
    stint.runtime
      .events()
      .filter((e) => e['detail-type'].startsWith('directory.'))
      .flatMap((e) => {
        const detail = Detail.safeParse(e.detail).data;
        return detail?.after.id === id ? [`${e['detail-type']} ${detail.change} ${detail.action}`] : [];
      });
  return until(read, (events) => events.length >= count, 30_000, 50);
}

describe('directory admin routes on the local runtime', () => {
  it('creates users, links a Teams account once, refuses strangers, and audits each change', async () => {
    const person = (name: string) => ({ userName: `${name}@example.com`, emails: [`${name}@example.com`] });

    expect(
      (await call(stint.url, 'PUT', '/directory/users/dir-bob', { token: stranger, body: person('bob') })).status,
    ).toBe(403);
    const bob = await call(stint.url, 'PUT', '/directory/users/dir-bob', { token: admin, body: person('dir-bob') });
    expect(bob.status, bob.text).toBe(200);
    expect(
      (await call(stint.url, 'PUT', '/directory/users/dir-carl', { token: admin, body: person('dir-carl') })).status,
    ).toBe(200);

    const linked = await call(stint.url, 'PUT', '/directory/users/dir-bob/accounts', {
      token: admin,
      body: { accounts: [{ kind: 'teams', aadObjectId: AAD }] },
      headers: { 'if-match': '"1"' },
    });
    expect(linked.status, linked.text).toBe(200);
    expect(linked.json).toMatchObject({ version: 2, accounts: [{ kind: 'teams', aadObjectId: AAD }] });

    const taken = await call(stint.url, 'PUT', '/directory/users/dir-carl/accounts', {
      token: admin,
      body: { accounts: [{ kind: 'teams', aadObjectId: AAD }] },
    });
    expect(taken.status).toBe(409);
    expect(taken.contentType).toContain('application/problem+json');
    expect(taken.json).toMatchObject({ field: 'body.accounts.0' });

    // SCIM sees the same directory: the user an admin created is there for the IdP.
    const scim = await call(stint.url, 'GET', '/scim/v2/Users/dir-bob', {
      headers: { authorization: `Bearer ${stint.scimToken}` },
    });
    expect(scim.status).toBe(200);
    expect(scim.json).toMatchObject({ id: 'dir-bob', userName: 'dir-bob@example.com' });

    const deleted = await call(stint.url, 'DELETE', '/directory/users/dir-carl', { token: admin });
    expect(deleted.status).toBe(204);

    expect(await directoryEvents('dir-bob', 2)).toEqual([
      'directory.user.changed created create',
      'directory.user.changed updated link-accounts',
    ]);
    expect(await directoryEvents('dir-carl', 2)).toEqual([
      'directory.user.changed created create',
      'directory.user.changed deleted delete',
    ]);
  });

  it('puts a group with members and lists it', async () => {
    await call(stint.url, 'PUT', '/directory/users/dir-dana', {
      token: admin,
      body: { userName: 'dir-dana@example.com', emails: ['dir-dana@example.com'] },
    });

    const group = await call(stint.url, 'PUT', '/directory/groups/dir-dba', {
      token: admin,
      body: { displayName: 'dir-dba', members: ['dir-dana'] },
    });
    const listed = await call(stint.url, 'GET', '/directory/groups?displayName=dir-dba', { token: admin });

    expect(group.status, group.text).toBe(200);
    expect(listed.json).toMatchObject({ items: [{ id: 'dir-dba', members: ['dir-dana'] }], cursor: null });
    expect(await directoryEvents('dir-dba', 1)).toEqual(['directory.group.changed created create']);
  });
});

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { call } from '../support/http.ts';

/**
 * Strings that are not well-formed Unicode over HTTP on the local runtime: a lone UTF-16 surrogate, sent as the JSON
 * escape `\ud800` (valid JSON text), is refused with 400 naming the field (problem+json; SCIM: scim+json), and a token
 * whose `sub` holds one is refused without creating a request (it used to create one stuck in GRANTING).
 */
let stint: Stint;
let admin: string;

beforeAll(async () => {
  const dir = await clusterParentDir('stint-e2e-unicode');
  stint = await startStint({ pgDataDir: join(dir, 'pg'), pgPort: await freePort(), port: await freePort() });
  admin = await stint.token({ sub: 'uni-root', email: 'uni-root@example.com', groups: ['stint-admins'] });
}, 180_000);

afterAll(async () => {
  await stint?.stop();
});

const Page = z.object({ items: z.array(z.object({ id: z.string() })) });

async function allRequestIds(): Promise<string[]> {
  const res = await call(stint.url, 'GET', '/requests?scope=all&limit=100', { token: admin });
  expect(res.status, res.text).toBe(200);
  return Page.parse(res.json).items.map((r) => r.id);
}

describe('malformed Unicode on the local runtime', () => {
  it('answers PUT /directory/users/{id} with a lone surrogate in userName with 400 problem+json naming it', async () => {
    const res = await call(stint.url, 'PUT', '/directory/users/uni-ann', {
      token: admin,
      raw: '{"userName":"\\ud800","emails":["uni-ann@example.com"]}',
    });
    const read = await call(stint.url, 'GET', '/directory/users/uni-ann', { token: admin });

    expect(res.status, res.text).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.json).toMatchObject({ status: 400, field: 'body.userName' });
    expect(read.status).toBe(404);
  });

  it('answers SCIM POST /scim/v2/Users with a lone surrogate in userName with 400 scim+json', async () => {
    const res = await call(stint.url, 'POST', '/scim/v2/Users', {
      headers: { authorization: `Bearer ${stint.scimToken}`, 'content-type': 'application/scim+json' },
      raw: '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a\\udc00","emails":[{"value":"uni-b@example.com"}]}',
    });
    const found = await call(stint.url, 'GET', '/scim/v2/Users?filter=userName%20eq%20%22uni-b%40example.com%22', {
      headers: { authorization: `Bearer ${stint.scimToken}` },
    });

    expect(res.status, res.text).toBe(400);
    expect(res.contentType).toContain('application/scim+json');
    expect(res.json).toMatchObject({ status: '400', scimType: 'invalidValue' });
    expect(String(z.object({ detail: z.string() }).parse(res.json).detail)).toMatch(/^userName: /);
    expect(found.json).toMatchObject({ totalResults: 0 });
  });

  it('refuses a token whose sub holds a lone surrogate and creates no request', async () => {
    const before = await allRequestIds();
    const token = await stint.token({ sub: 'uni-mallory\ud800', email: 'uni-mallory@example.com' });

    const res = await call(stint.url, 'POST', '/requests', {
      token,
      body: { flowId: 'demo-readonly', durationMinutes: 5, justification: 'look' },
    });

    expect(res.status, res.text).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.json).toMatchObject({ field: 'token.sub' });
    expect(await allRequestIds()).toEqual(before);
  });
});

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';

/** The local runtime serves the SCIM routes from the synthesized template, with no JWT authorizer in front. */
const TOKEN = 'e2e-scim-token-0123456789';
let stint: Stint;

beforeAll(async () => {
  const dir = await clusterParentDir('stint-e2e-scim');
  stint = await startStint({
    pgDataDir: join(dir, 'pg'),
    pgPort: await freePort(),
    port: await freePort(),
    // What Secrets Manager holds in AWS: the SCIM token (the template's ARN is replaced by an env: reference).
    env: { E2E_SCIM_TOKEN: TOKEN, STINT_SCIM_TOKEN_REF: 'env:E2E_SCIM_TOKEN' },
  });
}, 180_000);
afterAll(async () => {
  await stint?.stop();
});

async function scim(method: string, path: string, body?: unknown, token: string | null = TOKEN) {
  const res = await fetch(`${stint.url}${path}`, {
    method,
    headers: {
      'content-type': 'application/scim+json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    body: text === '' ? undefined : JSON.parse(text),
  };
}

describe('SCIM through the local runtime', () => {
  it('refuses a missing token with a SCIM 401 from the handler, not the JWT authorizer', async () => {
    const res = await scim('GET', '/scim/v2/Users', undefined, null);

    expect(res.status).toBe(401);
    expect(res.type).toBe('application/scim+json');
    expect(res.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
  });

  it('provisions a user and finds it by userName', async () => {
    const created = await scim('POST', '/scim/v2/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'e2e@example.com',
      externalId: 'e2e-sub-1',
    });
    const found = await scim('GET', `/scim/v2/Users?filter=${encodeURIComponent('userName eq "e2e@example.com"')}`);
    const patched = await scim('PATCH', '/scim/v2/Users/e2e-sub-1', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });

    expect(created.status).toBe(201);
    expect(created.body.id).toBe('e2e-sub-1');
    expect(found.body).toMatchObject({ totalResults: 1, Resources: [{ id: 'e2e-sub-1' }] });
    expect(patched).toMatchObject({ status: 200, body: { active: false } });
  });
});

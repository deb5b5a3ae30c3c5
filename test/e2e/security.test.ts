import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { clusterParentDir, freePort } from '#lib/local/embedded-postgres.ts';
import { type Stint, startStint } from '#lib/local/stint.ts';
import { call, until } from '../support/http.ts';

/**
 * What the security review tried, end to end through the local runtime over HTTP (the API Gateway emulation hands
 * handlers flattened claims exactly as AWS does).
 */
let stint: Stint;
const people = {
  alice: { sub: 'alice', email: 'alice@example.com', groups: [] as string[] },
  bob: { sub: 'bob', email: 'bob@example.com', groups: ['sales'] },
};
type Person = keyof typeof people;
const tokens = {} as Record<Person, string>;

beforeAll(async () => {
  stint = await startStint({
    pgDataDir: join(await clusterParentDir('stint-e2e-security'), 'pg'),
    pgPort: await freePort(),
    port: 0,
    scheduleEveryMs: 1000,
  });
  for (const name of Object.keys(people) as Person[]) tokens[name] = await stint.token(people[name]);
});
afterAll(async () => {
  await stint?.stop();
});

const Problem = z.looseObject({ status: z.number(), type: z.string(), title: z.string(), detail: z.string() });
const Created = z.looseObject({ id: z.string(), status: z.string() });

/** A refusal as a caller sees it, without what differs per call (correlation id, instance path, the id itself). */
function shown(reply: Awaited<ReturnType<typeof call>>, id: string) {
  const { correlationId: _c, instance: _i, ...rest } = Problem.parse(reply.json);
  return {
    ...rest,
    httpStatus: reply.status,
    contentType: reply.contentType,
    detail: rest.detail.replaceAll(id, '<id>'),
  };
}

async function createAs(who: Person, body: Record<string, unknown>): Promise<string> {
  const res = await call(stint.url, 'POST', '/requests', { token: tokens[who], body });
  expect(res.status, res.text).toBe(201);
  return Created.parse(res.json).id;
}

const routes: [string, string, unknown][] = [
  ['GET', '', undefined],
  ['GET', '/access', undefined],
  ['POST', '/approve', {}],
  ['POST', '/reject', { reason: 'no' }],
  ['POST', '/cancel', {}],
  ['POST', '/revoke', {}],
  ['POST', '/extend', { minutes: 5 }],
];

describe('a request the caller may not see', () => {
  it('answers every route of a PENDING and an ACTIVE request exactly as for an id that does not exist', async () => {
    const pending = await createAs('alice', { flowId: 'demo-admin', durationMinutes: 5, justification: 'fix orders' });
    const active = await createAs('alice', { flowId: 'demo-readonly', durationMinutes: 5, justification: 'look' });
    await until(
      async () => Created.parse((await call(stint.url, 'GET', `/requests/${active}`, { token: tokens.alice })).json),
      (r) => r.status === 'ACTIVE',
      60_000,
    );
    const missing = '01JZZZZZZZZZZZZZZZZZZZZZZZ';

    for (const id of [pending, active]) {
      for (const [method, suffix, body] of routes) {
        const options = { token: tokens.bob, ...(body === undefined ? {} : { body }) };
        const forHidden = await call(stint.url, method, `/requests/${id}${suffix}`, options);
        const forMissing = await call(stint.url, method, `/requests/${missing}${suffix}`, options);
        expect(shown(forHidden, id), `${method} ${suffix}`).toEqual(shown(forMissing, missing));
        expect(forHidden.status).toBe(404);
      }
    }
    const after = await call(stint.url, 'GET', `/requests/${pending}`, { token: tokens.alice });
    expect(Created.parse(after.json).status).toBe('PENDING');
    const stillActive = await call(stint.url, 'GET', `/requests/${active}`, { token: tokens.alice });
    expect(Created.parse(stillActive.json).status).toBe('ACTIVE');
  });
});

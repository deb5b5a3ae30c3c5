import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { type Route, routes } from '#functions/api/routes.ts';
import { type ScimRoute, scimRoutes } from '#functions/scim/routes.ts';
import { bodies } from '#lib/http/openapi.ts';
import { PatchRequest, ScimGroupInput, ScimUserInput, URN } from '#lib/scim/schemas.ts';
import { Store } from '#lib/store/store.ts';
import { lambdaContext } from '../support/api-event.ts';
import { type LocalTable, startDynalite } from '../support/dynalite.ts';
import { aBundle, aChange, aFlow, anIntegration, aRequest } from '../support/fixtures.ts';
import { stubHandlerEnv } from '../support/handler-env.ts';
import { scimEvent } from '../support/scim-event.ts';
import { ROLES, seedFlow, seedIntegration } from '../support/services.ts';
import { type SfnEndpoint, startSfnEndpoint } from '../support/sfn-endpoint.ts';
import { startTestIssuer, type TestIssuer } from '../support/token.ts';

/**
 * Fuzzing every string field of every write route (POST/PUT/PATCH of functions/api/routes.ts, the directory admin
 * routes among them, and of functions/scim/routes.ts). Routes come from the route tables and body shapes from the
 * zod schemas the handlers validate with (those GET /openapi.json describes, lib/http/openapi.ts; for SCIM,
 * lib/scim/schemas.ts). Each route has hand-written valid seed bodies, and its seeds must hold every string field
 * of its schema, so a new route or field fails here until it is fuzzed. One field (or path id) at a time is replaced by a value with a lone
 * surrogate, a control character, a very long string or a wrong type. Whatever the value: no 5xx, every refusal is
 * problem+json (SCIM: scim+json), a refusal changes nothing in the table, and a lone surrogate is always a 400 that
 * names the field. Handlers run in process on dynalite.
 */
const NUM_RUNS = 40;
const SCIM_TOKEN = 'scim-fuzz-token-0123456789abcdef';
const adminClaims = { sub: 'root', email: 'root@example.com', groups: [ROLES.adminGroup] };
const AAD = '0b6d1f7e-5555-4a2b-9c3d-5e6f7a8b9c0d';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Segment = string | number;
type Lambda<E> = (event: E, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// ─── Seeds: valid bodies and path ids, by API route entry and SCIM route key ──────────────────────────────

const USER = {
  userName: 'fuzz-user@example.com',
  emails: ['fuzz-user@example.com'],
  displayName: 'Fuzz',
  manager: 'root',
};

const apiSeeds: Record<string, { id?: string; bodies: Json[] }> = {
  'create-request': {
    bodies: [
      {
        flowId: 'self-serve',
        durationMinutes: 15,
        justification: 'deploy\nthe fix',
        targets: [{ resource: 'app', permission: 'readonly', integrationId: 'pg' }],
        grantee: { sub: 'bob', email: 'bob@example.com' },
      },
      { flowId: 'self-serve', durationMinutes: 15, justification: 'deploy', bundle: 'b-fuzz' },
    ],
  },
  'approve-request': { id: 'req-fuzz', bodies: [{ reason: 'looks right' }] },
  'reject-request': { id: 'req-fuzz', bodies: [{ reason: 'not now' }] },
  'cancel-request': { id: 'req-fuzz', bodies: [{ reason: 'no longer needed' }] },
  'revoke-request': { id: 'req-fuzz', bodies: [{ reason: 'done' }] },
  'extend-request': { id: 'req-fuzz', bodies: [{ minutes: 10, reason: 'more time' }] },
  'put-flow': {
    id: 'f-fuzz',
    bodies: [
      {
        name: 'Fuzz flow',
        description: 'A flow\twith every field',
        requestors: {
          everyone: false,
          users: ['alice'],
          groups: ['dev'],
          oncall: [{ provider: 'pd', schedule: 'PSCHED1' }],
        },
        targets: [{ integrationId: 'pg', resource: 'app', permission: 'readonly' }],
        bundles: ['b-fuzz'],
        approval: {
          mode: 'manual',
          sets: [
            { name: 'DBAs', users: ['approver-1'], groups: ['dba'], manager: true },
            { name: 'On call', oncall: { provider: 'pd', escalationPolicy: 'PPOLICY1', level: 1 } },
          ],
          rule: { type: 'anyOf' },
          timeoutMinutes: 60,
          escalation: {
            everyMinutes: 30,
            tiers: [
              { name: 'Leads', users: ['lead-1'], groups: ['leads'] },
              { name: 'Lead on call', oncall: { provider: 'pd', schedule: 'PLEADS1' } },
            ],
          },
        },
        defaultMinutes: 30,
        maxMinutes: 120,
        workingHours: { timezone: 'Europe/Paris', days: [1, 2, 3, 4, 5], start: '08:00', end: '18:00' },
        labels: { team: 'ops' },
        slackChannel: 'C0123ABCD',
        teamsChannel: '19:abc123@thread.tacv2',
        jiraApproval: { target: 'tickets', approveStatuses: ['Approved'], rejectStatuses: ['Rejected'] },
      },
      {
        name: 'Fuzz on-call flow',
        requestors: { oncall: [{ provider: 'pd', escalationPolicy: 'PPOLICY1' }] },
        targets: [{ integrationId: 'pg', resource: 'app', permission: 'readonly' }],
        approval: {
          mode: 'manual',
          sets: [{ oncall: { provider: 'pd', schedule: 'PSCHED1' } }],
          rule: { type: 'anyOf' },
          timeoutMinutes: 60,
          escalation: { everyMinutes: 30, tiers: [{ oncall: { provider: 'pd', escalationPolicy: 'PPOLICY2' } }] },
        },
        defaultMinutes: 30,
        maxMinutes: 120,
      },
      {
        name: 'Fuzz auto flow',
        requestors: { everyone: true },
        targets: [{ integrationId: 'pg', resource: 'app', permission: 'readonly' }],
        approval: { mode: 'auto' },
        defaultMinutes: 30,
        maxMinutes: 120,
      },
    ],
  },
  'put-integration': {
    id: 'i-fuzz',
    bodies: [
      {
        name: 'Fuzz PostgreSQL',
        type: 'postgresql',
        config: { host: '127.0.0.1', port: 5432, sslmode: 'disable' },
        secretRef: 'env:STINT_FUZZ_SECRET',
        owners: ['dana'],
        resources: [
          {
            id: 'app',
            description: 'The app database',
            owners: ['alice'],
            permissions: [{ id: 'readonly', description: 'SELECT', grants: ['app_readonly'] }],
          },
        ],
      },
    ],
  },
  'put-bundle': {
    id: 'b-fuzz',
    bodies: [
      {
        name: 'Fuzz bundle',
        description: 'Read the app',
        units: [{ integrationId: 'pg', resource: 'app', permission: 'readonly' }],
      },
    ],
  },
  'put-directory-user': { id: 'u-fuzz', bodies: [USER] },
  'put-directory-user-accounts': {
    id: 'u-fuzz',
    bodies: [
      {
        accounts: [
          { kind: 'slack', teamId: 'T0FUZZ', userId: 'U0FUZZ' },
          { kind: 'teams', aadObjectId: AAD },
          { kind: 'jira', accountId: 'acc-fuzz' },
          {
            kind: 'aws-identity-store',
            identityStoreId: 'd-1234567890',
            userId: '12345678-1234-1234-1234-123456789012',
          },
        ],
      },
    ],
  },
  'put-directory-group': { id: 'g-fuzz', bodies: [{ displayName: 'fuzzers', members: ['u-fuzz', 'root'] }] },
};

const scimUser = (name: string): Json => ({
  schemas: [URN.user, URN.enterpriseUser],
  userName: `${name}@example.com`,
  externalId: `ext-${name}`,
  displayName: name,
  active: true,
  emails: [{ value: `${name}@example.com`, type: 'work', primary: true, display: name }],
  [URN.enterpriseUser]: { manager: { value: 'root', displayName: 'Root' } },
});
/** The forms Entra ID sends: booleans as strings, the manager as a bare id. */
const scimUserAsEntra = (name: string): Json => ({
  schemas: [URN.user],
  userName: `${name}@example.com`,
  active: 'True',
  emails: [{ value: `${name}@example.com`, primary: 'true' }],
  [URN.enterpriseUser]: { manager: 'root' },
});
const scimGroup: Json = {
  schemas: [URN.group],
  displayName: 'scim-fuzzers',
  externalId: 'ext-group',
  // Replaced by the id of the user created first (members must be directory users).
  members: [{ value: 'scim-user', display: 'SCIM user' }],
};
const patch = (path: string, value: Json): Json => ({
  schemas: [URN.patchOp],
  Operations: [{ op: 'replace', path, value }],
});

/** SCIM bodies by route key, with the zod schema the handler parses them with (functions/scim/*.ts). */
const scimSeeds: Record<string, { schema: z.ZodType; id?: string; bodies: Json[] }> = {
  'POST /scim/v2/Users': { schema: ScimUserInput, bodies: [scimUser('scim-new'), scimUserAsEntra('scim-entra')] },
  'PUT /scim/v2/Users/{id}': {
    schema: ScimUserInput,
    id: 'scim-user',
    bodies: [scimUser('scim-user'), scimUserAsEntra('scim-user')],
  },
  'PATCH /scim/v2/Users/{id}': { schema: PatchRequest, id: 'scim-user', bodies: [patch('displayName', 'Renamed')] },
  'POST /scim/v2/Groups': { schema: ScimGroupInput, bodies: [scimGroup] },
  'PUT /scim/v2/Groups/{id}': { schema: ScimGroupInput, id: 'scim-group', bodies: [scimGroup] },
  'PATCH /scim/v2/Groups/{id}': { schema: PatchRequest, id: 'scim-group', bodies: [patch('displayName', 'renamed')] },
};

// ─── Schema walking ──────────────────────────────────────────────────────────────────────────────────────

/** Paths of every string field a JSON Schema describes: `[]` for any array item, `*` for any record key. */
function schemaStringPaths(schema: unknown, path: string[] = [], out: string[][] = []): string[][] {
  if (!isRecord(schema)) return out;
  const isString =
    schema.type === 'string' ||
    typeof schema.const === 'string' ||
    (Array.isArray(schema.enum) && schema.enum.every((e) => typeof e === 'string'));
  if (isString) out.push(path);
  for (const key of ['anyOf', 'oneOf', 'allOf']) {
    const branches = schema[key];
    if (Array.isArray(branches)) for (const branch of branches) schemaStringPaths(branch, path, out);
  }
  if (isRecord(schema.properties))
    for (const [name, inner] of Object.entries(schema.properties)) schemaStringPaths(inner, [...path, name], out);
  if (isRecord(schema.additionalProperties)) schemaStringPaths(schema.additionalProperties, [...path, '*'], out);
  if (schema.items !== undefined) schemaStringPaths(schema.items, [...path, '[]'], out);
  return out;
}

/** Paths of every string leaf of a seed, with real indexes. */
function seedStringPaths(value: Json, path: Segment[] = [], out: Segment[][] = []): Segment[][] {
  if (typeof value === 'string') out.push(path);
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) seedStringPaths(v, [...path, i], out);
  else if (value !== null && typeof value === 'object')
    for (const [key, v] of Object.entries(value)) seedStringPaths(v, [...path, key], out);
  return out;
}

const covers = (seedPath: Segment[], schemaPath: string[]) =>
  seedPath.length === schemaPath.length &&
  schemaPath.every((s, i) => s === '*' || (s === '[]' ? typeof seedPath[i] === 'number' : s === seedPath[i]));

/** Schema string fields that no seed holds. */
function uncovered(schema: unknown, seeds: Json[]): string[] {
  const seedPaths = seeds.flatMap((seed) => seedStringPaths(seed));
  return schemaStringPaths(schema)
    .filter((p) => !seedPaths.some((s) => covers(s, p)))
    .map((p) => p.join('.'));
}

function withValue(seed: Json, path: Segment[], value: Json): Json {
  const copy = structuredClone(seed);
  let node: Json = copy;
  for (const [i, step] of path.entries()) {
    const last = i === path.length - 1;
    if (Array.isArray(node) && typeof step === 'number') {
      if (last) node[step] = value;
      else node = node[step] ?? null;
    } else if (node !== null && typeof node === 'object' && !Array.isArray(node) && typeof step === 'string') {
      if (last) node[step] = value;
      else node = node[step] ?? null;
    }
  }
  return copy;
}

// ─── Bad values ──────────────────────────────────────────────────────────────────────────────────────────

type Bad = { value: Json; lone: boolean };

const insert = (original: string, piece: string, at: number) => {
  const i = at % (original.length + 1);
  return `${original.slice(0, i)}${piece}${original.slice(i)}`;
};

/** A lone surrogate, a C0/C1 control, a very long string, or (unless `stringsOnly`) a value of another type. */
function badValue(original: string, stringsOnly: boolean): fc.Arbitrary<Bad> {
  const lone = fc
    .tuple(fc.integer({ min: 0xd800, max: 0xdfff }), fc.nat())
    .map(([unit, at]) => ({ value: insert(original, String.fromCharCode(unit), at), lone: true }));
  const control = fc
    .tuple(fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x7f, max: 0x9f })), fc.nat())
    .map(([code, at]) => ({ value: insert(original, String.fromCharCode(code), at), lone: false }));
  const long = fc
    .constantFrom(257, 2_001, 5_000, 70_000)
    .map((n) => ({ value: `${original}${'x'.repeat(n)}`, lone: false }));
  const wrongType = fc
    .constantFrom<Json>(0, -1, 1.5, true, null, [], {}, ['x'], { value: 'x' })
    .map((value) => ({ value, lone: false }));
  return stringsOnly ? fc.oneof(lone, control, long) : fc.oneof(lone, lone, control, long, wrongType);
}

type Mutation = { target: 'path' | 'body'; seed: number; path: Segment[]; bad: Bad };

function mutations(bodies: Json[], hasId: boolean, idSeed: string | undefined): fc.Arbitrary<Mutation> {
  const targets = bodies.flatMap((body, seed) => seedStringPaths(body).map((path) => ({ seed, path })));
  const inBody = fc.constantFrom(...targets).chain(({ seed, path }) => {
    const body = bodies[seed] ?? null;
    const original = seedStringPaths(body).some((p) => p.join('\u0000') === path.join('\u0000'))
      ? String(valueAt(body, path))
      : '';
    return badValue(original, false).map((bad): Mutation => ({ target: 'body', seed, path, bad }));
  });
  if (!hasId) return inBody;
  const inPath = badValue(idSeed ?? 'id', true).map(
    (bad): Mutation => ({ target: 'path', seed: 0, path: ['id'], bad }),
  );
  return fc.oneof({ arbitrary: inBody, weight: 4 }, { arbitrary: inPath, weight: 1 });
}

function valueAt(value: Json, path: Segment[]): Json {
  let node: Json = value;
  for (const step of path) {
    if (Array.isArray(node) && typeof step === 'number') node = node[step] ?? null;
    else if (node !== null && typeof node === 'object' && !Array.isArray(node) && typeof step === 'string')
      node = node[step] ?? null;
    else return null;
  }
  return node;
}

// ─── The world the routes run in ─────────────────────────────────────────────────────────────────────────

let table: LocalTable;
let sfn: SfnEndpoint;
let issuer: TestIssuer;

beforeAll(async () => {
  table = await startDynalite();
  sfn = await startSfnEndpoint();
  issuer = await startTestIssuer();
  stubHandlerEnv({ table, issuer, sfnUrl: sfn.url, scimToken: SCIM_TOKEN });
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
  // A provider the seeds' on-call sets name (put-flow checks the names; nothing here asks it who is on call).
  vi.stubEnv(
    'STINT_ONCALL',
    JSON.stringify([{ name: 'pd', kind: 'pagerduty', secretRef: 'env:STINT_FUZZ_PD_KEY', cacheSeconds: 60 }]),
  );
  const store = new Store(table.doc, table.tableName);
  await seedIntegration(store, anIntegration());
  await seedFlow(store, aFlow({ id: 'self-serve', approval: { mode: 'auto' } }));
  const { id: _id, version: _v, lastChange: _c, deleted: _d, ...bundle } = aBundle({ id: 'b-fuzz' });
  await store.putBundle('b-fuzz', bundle, aChange({ action: 'put' }));
  await store.createRequest(aRequest({ id: 'req-fuzz' }));
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await sfn.stop();
  await issuer.stop();
  await table.stop();
});

async function items(): Promise<string[]> {
  const out = await table.doc.send(new ScanCommand({ TableName: table.tableName }));
  return (out.Items ?? []).map((item) => JSON.stringify(item)).sort();
}

/** The table as the last check saw it (nothing but the fuzzed calls writes to it), so each call costs one scan. */
let snapshot: string[] | undefined;

/** The `handler` a functions/<kind>/<entry>.ts module exports (each entry's own event type). */
async function handlerOf<E>(kind: 'api' | 'scim', entry: string): Promise<Lambda<E>> {
  const LambdaModule = z.object({ handler: z.custom<Lambda<E>>((v) => typeof v === 'function') });
  return LambdaModule.parse(await import(`../../functions/${kind}/${entry}.ts`)).handler;
}

type Outcome = { status: number; type: string; body: Record<string, unknown> };

function outcome(result: APIGatewayProxyStructuredResultV2): Outcome {
  const json: unknown = result.body === undefined || result.body === '' ? {} : JSON.parse(result.body);
  return {
    status: result.statusCode ?? 0,
    type: String(result.headers?.['content-type'] ?? ''),
    body: isRecord(json) ? json : {},
  };
}

const writes = <R extends { method: string }>(all: readonly R[]) =>
  all.filter((r) => r.method === 'POST' || r.method === 'PUT' || r.method === 'PATCH');

/** The zod schema the route's handler validates its body with (the one GET /openapi.json describes). */
function requestSchema(route: Route): z.ZodType | undefined {
  return bodies[route.entry];
}

/** Checks one mutated call: no 5xx, refusals in the route's error format and without a write, lone surrogates named. */
async function check(
  send: () => Promise<APIGatewayProxyStructuredResultV2>,
  m: Mutation,
  format: 'problem' | 'scim',
): Promise<void> {
  const before = snapshot ?? (await items());
  const res = outcome(await send());
  snapshot = await items();
  const where = `${m.target} ${m.path.join('.')} = ${JSON.stringify(m.bad.value).slice(0, 80)}`;
  expect(res.status, where).toBeLessThan(500);
  if (res.status >= 400) {
    expect(res.type, where).toBe(format === 'problem' ? 'application/problem+json' : 'application/scim+json');
    expect(snapshot, where).toEqual(before);
  }
  if (m.bad.lone) {
    expect(res.status, where).toBe(400);
    const field = [m.target, ...m.path].join('.');
    if (format === 'problem') expect(res.body.field, where).toBe(field);
    else
      expect(String(res.body.detail), where).toMatch(
        new RegExp(`^${m.target === 'body' ? m.path.join('\\.') : 'path\\.id'}: `),
      );
  }
}

describe('fuzzing the string fields of every API write route', () => {
  const apiWrites = writes(routes);

  it('has valid seeds for every write route covering every string field of its body', () => {
    expect(apiWrites.length).toBeGreaterThan(0);
    const problems = apiWrites.flatMap((route) => {
      const seeds = apiSeeds[route.entry];
      const schema = requestSchema(route);
      if (seeds === undefined) return [`${route.entry}: no seed`];
      if (schema === undefined) return [`${route.entry}: no request body in the API description`];
      const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
      return [
        ...seeds.bodies
          .filter((b) => !schema.safeParse(b).success)
          .map(() => `${route.entry}: a seed its schema refuses`),
        ...uncovered(json, seeds.bodies).map((path) => `${route.entry}: no seed holds ${path}`),
      ];
    });
    expect(problems).toEqual([]);
  });

  it.each(apiWrites.map((r) => [`${r.method} ${r.path}`, r] as const))(
    '%s: no 5xx, refusals are problem+json and write nothing, lone surrogates are 400 naming the field',
    async (_name, route) => {
      const seeds = apiSeeds[route.entry];
      if (seeds === undefined) throw new Error(`no seed for ${route.entry}`);
      const handler: Lambda<APIGatewayProxyEventV2WithJWTAuthorizer> = await handlerOf('api', route.entry);
      const hasId = route.path.includes('{id}');
      await fc.assert(
        fc.asyncProperty(mutations(seeds.bodies, hasId, seeds.id), async (m) => {
          const body =
            m.target === 'body' ? withValue(seeds.bodies[m.seed] ?? null, m.path, m.bad.value) : seeds.bodies[0];
          const id = m.target === 'path' ? String(m.bad.value) : seeds.id;
          const event = await issuer.event({
            method: route.method,
            path: route.path.replace('{id}', encodeURIComponent(String(id).toWellFormed())),
            claims: adminClaims,
            body: JSON.stringify(body),
            ...(hasId && id !== undefined ? { params: { id } } : {}),
          });
          await check(() => handler(event, lambdaContext), m, 'problem');
        }),
        { numRuns: NUM_RUNS },
      );
    },
  );
});

function scimRouteEvent(route: ScimRoute, id: string | undefined, body: Json): APIGatewayProxyEventV2 {
  return scimEvent({
    route: `${route.method} ${route.path}`,
    token: SCIM_TOKEN,
    path: route.path.replace('{id}', encodeURIComponent(String(id).toWellFormed())),
    ...(id === undefined ? {} : { params: { id } }),
    body,
  });
}

describe('fuzzing the string fields of every SCIM write route', () => {
  const scimWrites = writes(scimRoutes);

  beforeAll(async () => {
    // The resources PUT and PATCH address, created through SCIM itself.
    const users: Lambda<APIGatewayProxyEventV2> = await handlerOf('scim', 'scim-users');
    const groups: Lambda<APIGatewayProxyEventV2> = await handlerOf('scim', 'scim-groups');
    const post = (entry: 'Users' | 'Groups') => scimRoutes.find((r) => r.method === 'POST' && r.path.endsWith(entry));
    const user = post('Users');
    const group = post('Groups');
    if (user === undefined || group === undefined) throw new Error('no SCIM POST routes');
    const createdUser = outcome(await users(scimRouteEvent(user, undefined, scimUser('scim-user')), lambdaContext));
    const member = String(createdUser.body.id);
    for (const seed of Object.values(scimSeeds)) {
      seed.bodies = seed.bodies.map((b) =>
        valueAt(b, ['members', 0, 'value']) === 'scim-user' ? withValue(b, ['members', 0, 'value'], member) : b,
      );
    }
    const createdGroup = outcome(
      await groups(
        scimRouteEvent(group, undefined, withValue(scimGroup, ['members', 0, 'value'], member)),
        lambdaContext,
      ),
    );
    expect([createdUser.status, createdGroup.status], JSON.stringify(createdGroup.body)).toEqual([201, 201]);
    snapshot = undefined;
    for (const seed of Object.values(scimSeeds)) {
      if (seed.id === 'scim-user') seed.id = String(createdUser.body.id);
      if (seed.id === 'scim-group') seed.id = String(createdGroup.body.id);
    }
  });

  it('has valid seeds for every write route covering every string field of its body', () => {
    const problems = scimWrites.flatMap((route) => {
      const seeds = scimSeeds[`${route.method} ${route.path}`];
      if (seeds === undefined) return [`${route.method} ${route.path}: no seed`];
      const invalid = seeds.bodies.filter((b) => !seeds.schema.safeParse(b).success);
      const schema = z.toJSONSchema(seeds.schema, { io: 'input', unrepresentable: 'any' });
      return [
        ...invalid.map(() => `${route.method} ${route.path}: a seed its schema refuses`),
        ...uncovered(schema, seeds.bodies).map((path) => `${route.method} ${route.path}: no seed holds ${path}`),
      ];
    });
    expect(problems).toEqual([]);
  });

  it.each(scimWrites.map((r) => [`${r.method} ${r.path}`, r] as const))(
    '%s: no 5xx, refusals are scim+json and write nothing, lone surrogates are 400 naming the field',
    async (key, route) => {
      const seeds = scimSeeds[key];
      if (seeds === undefined) throw new Error(`no seed for ${key}`);
      const handler: Lambda<APIGatewayProxyEventV2> = await handlerOf('scim', route.entry);
      const hasId = route.path.includes('{id}');
      await fc.assert(
        fc.asyncProperty(mutations(seeds.bodies, hasId, seeds.id), async (m) => {
          const body =
            m.target === 'body' ? withValue(seeds.bodies[m.seed] ?? null, m.path, m.bad.value) : seeds.bodies[0];
          const id = m.target === 'path' ? String(m.bad.value) : seeds.id;
          await check(
            () => handler(scimRouteEvent(route, hasId ? id : undefined, body ?? null), lambdaContext),
            m,
            'scim',
          );
        }),
        { numRuns: NUM_RUNS },
      );
    },
  );
});

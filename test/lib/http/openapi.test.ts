import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { routes } from '#functions/api/routes.ts';
import {
  answersETag,
  bodies,
  openApiDocument,
  queries,
  responses,
  successStatus,
  takesIfMatch,
  takesIfNoneMatch,
} from '#lib/http/openapi.ts';

/**
 * GET /openapi.json against the route table and the functions themselves: every route documented with its success
 * answer, and request bodies and queries exactly the schemas each function validates with.
 */
const doc = openApiDocument({ issuer: 'https://issuer.example.com/pool/' });

const Operation = z.object({
  operationId: z.string(),
  parameters: z.array(z.object({ name: z.string(), in: z.string() })),
  requestBody: z.object({ content: z.object({ 'application/json': z.object({ schema: z.unknown() }) }) }).optional(),
  responses: z.record(
    z.string(),
    z.object({
      headers: z.record(z.string(), z.unknown()).optional(),
      content: z
        .looseObject({ 'application/json': z.object({ schema: z.record(z.string(), z.unknown()) }).optional() })
        .optional(),
    }),
  ),
});
const operationOf = (route: (typeof routes)[number]) => {
  const paths = z.record(z.string(), z.record(z.string(), z.unknown())).parse(doc.paths);
  return Operation.parse(paths[route.path]?.[route.method.toLowerCase()]);
};

/** The schemas a function's chain validates with (lib/http/chain.ts exposes them on the handler). */
const Schemas = z.object({ body: z.unknown(), query: z.unknown() }).partial();
async function schemasOf(entry: string) {
  const module: unknown = await import(`../../../functions/api/${entry}.ts`);
  const handler = z.object({ handler: z.custom<object>((v) => typeof v === 'function') }).parse(module).handler;
  return Schemas.parse(Reflect.get(handler, 'schemas'));
}

describe('the OpenAPI document', () => {
  it.each(routes.map((r) => [`${r.method} ${r.path}`, r] as const))(
    'documents %s with its success status and, unless 204, an answer schema',
    (_name, route) => {
      const operation = operationOf(route);
      const status = successStatus(route);
      const success = operation.responses[status];

      expect(operation.operationId).toBe(route.entry);
      expect(Object.keys(operation.responses).filter((s) => /^\d+$/.test(s))).toEqual([status]);
      if (status === '204') {
        expect(success?.content).toBeUndefined();
      } else {
        expect(responses[route.entry], `no response schema for ${route.entry}`).toBeDefined();
        expect(Object.keys(success?.content?.['application/json']?.schema ?? {}).length).toBeGreaterThan(0);
      }
    },
  );

  it.each(routes.map((r) => [r.entry] as const))(
    'describes exactly the body and query schemas the %s function validates with',
    async (entry) => {
      const schemas = await schemasOf(entry);

      expect(bodies[entry]).toBe(schemas.body);
      expect(queries[entry]).toBe(schemas.query);
    },
  );

  it('answers 201 with a Location for a new request and 204 for deletes', () => {
    const create = routes.find((r) => r.entry === 'create-request');
    const deletes = routes.filter((r) => r.method === 'DELETE');
    if (create === undefined) throw new Error('no create-request route');

    expect(Object.keys(operationOf(create).responses[201]?.headers ?? {})).toEqual(['Location']);
    expect(deletes.length).toBeGreaterThan(0);
    for (const route of deletes) expect(operationOf(route).responses[204], route.entry).toBeDefined();
  });

  it('names If-Match, If-None-Match and the ETag answer on the conditional routes only', () => {
    for (const route of routes) {
      const operation = operationOf(route);
      const headers = operation.parameters.filter((p) => p.in === 'header').map((p) => p.name);
      const answer = operation.responses[successStatus(route)]?.headers ?? {};

      expect(headers.includes('If-Match'), route.entry).toBe(takesIfMatch.has(route.entry));
      expect(headers.includes('If-None-Match'), route.entry).toBe(takesIfNoneMatch.has(route.entry));
      expect('ETag' in answer, route.entry).toBe(answersETag.has(route.entry));
    }
    for (const entry of ['put-flow', 'put-integration', 'put-bundle', 'delete-flow', 'get-bundle']) {
      expect(answersETag.has(entry), entry).toBe(true);
    }
  });

  it('describes the access answer kind by kind, and the request view with its timeline and approval', () => {
    const access = routes.find((r) => r.entry === 'get-access');
    const request = routes.find((r) => r.entry === 'get-request');
    if (access === undefined || request === undefined) throw new Error('routes changed');

    const accessSchema = operationOf(access).responses[200]?.content?.['application/json']?.schema ?? {};
    const requestSchema = z
      .object({ properties: z.record(z.string(), z.unknown()) })
      .parse(operationOf(request).responses[200]?.content?.['application/json']?.schema);
    const kinds = z
      .array(z.object({ properties: z.object({ kind: z.object({ enum: z.array(z.string()) }) }) }))
      .parse(accessSchema.oneOf)
      .flatMap((o) => o.properties.kind.enum);

    expect(kinds).toEqual(['database', 'aws-account', 'aws-role', 'custom']);
    expect(Object.keys(requestSchema.properties)).toEqual(expect.arrayContaining(['timeline', 'approval']));
  });

  it('resolves every $ref inside the document (recursive JSON values live under components.schemas)', () => {
    const text = JSON.stringify(doc);
    const refs = [...new Set([...text.matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1] ?? ''))];
    const schemas = z.record(z.string(), z.unknown()).parse(doc.components.schemas);

    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      expect(ref, ref).toMatch(/^#\/components\/schemas\//);
      expect(schemas[ref.replace('#/components/schemas/', '')], ref).toBeDefined();
    }
    expect(text).not.toContain('"definitions"');
  });

  it('describes the security scheme as bearer and as OpenID Connect at the issuer', () => {
    expect(doc.components.securitySchemes).toEqual({
      jwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      oidc: {
        type: 'openIdConnect',
        openIdConnectUrl: 'https://issuer.example.com/pool/.well-known/openid-configuration',
      },
    });
    expect(openApiDocument().components.securitySchemes).not.toHaveProperty('oidc');
  });
});

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { routes } from '#functions/api/routes.ts';
import { DirectoryGroup, DirectoryUser } from '#lib/directory/types.ts';
import { Bundle, BundleInput } from '#lib/domain/bundle.ts';
import { CreateRequestInput } from '#lib/domain/create-request.ts';
import { AccessFlow, FlowInput } from '#lib/domain/flow.ts';
import { Integration, IntegrationInput } from '#lib/domain/integration.ts';
import {
  AccessView,
  DecisionBody,
  DirectoryAccountsBody,
  DirectoryGroupBody,
  DirectoryGroupsQuery,
  DirectoryUserBody,
  DirectoryUsersQuery,
  ExtendBody,
  ListQuery,
  ListRequestsQuery,
} from './schemas.ts';
import { CatalogView, MeView, RequestView } from './views.ts';

/** Request bodies and responses by route entry: the same zod schemas the handlers validate with. */
export const bodies: Record<string, z.ZodType> = {
  'create-request': CreateRequestInput,
  'approve-request': DecisionBody,
  'reject-request': DecisionBody,
  'cancel-request': DecisionBody,
  'revoke-request': DecisionBody,
  'extend-request': ExtendBody,
  'put-flow': FlowInput,
  'put-integration': IntegrationInput,
  'put-bundle': BundleInput,
  'put-directory-user': DirectoryUserBody,
  'put-directory-user-accounts': DirectoryAccountsBody,
  'put-directory-group': DirectoryGroupBody,
};
const queries: Record<string, z.ZodObject> = {
  'list-requests': ListRequestsQuery,
  'list-flows': ListQuery,
  'list-integrations': ListQuery,
  'list-bundles': ListQuery,
  'list-directory-users': DirectoryUsersQuery,
  'list-directory-groups': DirectoryGroupsQuery,
};
const page = (item: z.ZodType) => z.object({ items: z.array(item), cursor: z.string().nullable() });
const responses: Record<string, z.ZodType> = {
  'get-me': MeView,
  'get-catalog': CatalogView,
  'list-flows': page(AccessFlow),
  'get-flow': AccessFlow,
  'put-flow': AccessFlow,
  'list-integrations': page(Integration),
  'get-integration': Integration,
  'put-integration': Integration,
  'list-bundles': page(Bundle),
  'get-bundle': Bundle,
  'put-bundle': Bundle,
  'create-request': RequestView,
  'get-request': RequestView,
  'approve-request': RequestView,
  'reject-request': RequestView,
  'cancel-request': RequestView,
  'revoke-request': RequestView,
  'extend-request': RequestView,
  'list-requests': z.object({ items: z.array(RequestView), cursor: z.string().nullable() }),
  'get-access': AccessView,
  'list-directory-users': z.object({ items: z.array(DirectoryUser), cursor: z.string().nullable() }),
  'get-directory-user': DirectoryUser,
  'put-directory-user': DirectoryUser,
  'put-directory-user-accounts': DirectoryUser,
  'list-directory-groups': z.object({ items: z.array(DirectoryGroup), cursor: z.string().nullable() }),
  'get-directory-group': DirectoryGroup,
  'put-directory-group': DirectoryGroup,
};

/** Writes that take an optional `If-Match: "<version>"` (412 when the item moved on) and answer with an ETag. */
const conditional = new Set([
  'put-directory-user',
  'delete-directory-user',
  'put-directory-user-accounts',
  'put-directory-group',
  'delete-directory-group',
]);
const ifMatch = {
  name: 'If-Match',
  in: 'header',
  required: false,
  description: 'The ETag (version) last read; the write is refused with 412 if the item changed since',
  schema: { type: 'string' },
};

const problem = {
  description: 'RFC 9457 problem details',
  content: {
    'application/problem+json': {
      schema: {
        type: 'object',
        required: ['type', 'title', 'status', 'detail'],
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
          field: { type: 'string' },
          errors: {
            type: 'array',
            items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
          },
          correlationId: { type: 'string' },
        },
      },
    },
  },
};

/** Schemas that zod emits as definitions (recursive ones such as z.json()), shared by the whole document. */
type Components = Map<string, unknown>;

/**
 * A zod schema as OpenAPI 3.0 JSON Schema. zod puts a recursive schema's definitions inside the emitted schema
 * (`#/definitions/__schema0`), which means nothing once the schema is embedded in a path: each definition moves to
 * `components.schemas` under a name derived from its content (the same definition, the same name), and its
 * references follow it.
 */
function schema(s: z.ZodType, io: 'input' | 'output', components?: Components) {
  const { definitions, ...emitted }: { definitions?: Record<string, unknown>; properties?: Record<string, unknown> } =
    z.toJSONSchema(s, { io, unrepresentable: 'any', target: 'openapi-3.0' });
  if (definitions === undefined || components === undefined) return emitted;
  let text = JSON.stringify({ emitted, definitions });
  const names = Object.keys(definitions).map((id) => {
    const name = `Def${createHash('sha256').update(JSON.stringify(definitions[id])).digest('hex').slice(0, 10)}`;
    text = text.replaceAll(`"#/definitions/${id}"`, `"#/components/schemas/${name}"`);
    return [id, name] as const;
  });
  const moved: { emitted: typeof emitted; definitions: Record<string, unknown> } = JSON.parse(text);
  for (const [id, name] of names) components.set(name, moved.definitions[id]);
  return moved.emitted;
}

/** The OpenAPI 3 document of the HTTP API, generated from the route table and zod schemas. */
export function openApiDocument(serverUrl?: string) {
  const components: Components = new Map();
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const body = bodies[route.entry];
    const query = queries[route.entry];
    const response = responses[route.entry];
    const params = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const queryParams =
      query === undefined
        ? []
        : Object.keys(query.shape).map((name) => ({
            name,
            in: 'query',
            required: false,
            schema: schema(z.object({ v: query.shape[name] as z.ZodType }), 'input').properties?.v,
          }));
    paths[route.path] ??= {};
    const operations = paths[route.path] ?? {};
    operations[route.method.toLowerCase()] = {
      operationId: route.entry,
      ...(route.auth ? {} : { security: [] }),
      parameters: [...params, ...queryParams, ...(conditional.has(route.entry) ? [ifMatch] : [])],
      ...(body === undefined
        ? {}
        : {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: schema(body, 'input', components) } },
            },
          }),
      responses: {
        [route.entry === 'create-request' ? '201' : route.method === 'DELETE' ? '204' : '200']: {
          description: 'OK',
          ...(response === undefined
            ? {}
            : { content: { 'application/json': { schema: schema(response, 'output', components) } } }),
        },
        '4XX': problem,
        '5XX': problem,
      },
    };
  }
  return {
    openapi: '3.0.3',
    info: { title: 'Stint API', version: '1.0.0', description: 'Just-in-time access requests, approvals and grants.' },
    ...(serverUrl === undefined ? {} : { servers: [{ url: serverUrl }] }),
    components: {
      schemas: Object.fromEntries(components),
      securitySchemes: { jwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    security: [{ jwt: [] }],
    paths,
  };
}

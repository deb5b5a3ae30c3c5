import * as z from 'zod';
import { routes } from '#functions/api/routes.ts';
import { DirectoryGroup, DirectoryUser } from '#lib/directory/types.ts';
import { Bundle, BundleInput } from '#lib/domain/bundle.ts';
import { CreateRequestInput } from '#lib/domain/create-request.ts';
import { AccessFlow, FlowInput } from '#lib/domain/flow.ts';
import { Integration, IntegrationInput } from '#lib/domain/integration.ts';
import { DiscoverAnswer } from '#lib/workflow/contract.ts';
import {
  AccessAnswer,
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
import { AuthConfigView, CatalogFlow, MeView, RequestView } from './views.ts';

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
export const queries: Record<string, z.ZodObject> = {
  'list-requests': ListRequestsQuery,
  'list-flows': ListQuery,
  'list-integrations': ListQuery,
  'list-bundles': ListQuery,
  'list-directory-users': DirectoryUsersQuery,
  'list-directory-groups': DirectoryGroupsQuery,
};

const page = (item: z.ZodType) => z.object({ items: z.array(item), cursor: z.string().nullable() });

/** The body of each route's success answer (a 204 has none). */
export const responses: Record<string, z.ZodType> = {
  health: z.object({ status: z.literal('ok') }),
  'auth-config': AuthConfigView,
  openapi: z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.record(z.string(), z.unknown()) }),
  'get-me': MeView,
  'get-catalog': z.object({ flows: z.array(CatalogFlow) }),
  'create-request': RequestView,
  'get-request': RequestView,
  'approve-request': RequestView,
  'reject-request': RequestView,
  'cancel-request': RequestView,
  'revoke-request': RequestView,
  'extend-request': RequestView,
  'list-requests': page(RequestView),
  'get-access': AccessAnswer,
  'list-flows': page(AccessFlow),
  'get-flow': AccessFlow,
  'put-flow': AccessFlow,
  'list-integrations': page(Integration),
  'get-integration': Integration,
  'put-integration': Integration,
  'discover-integration': DiscoverAnswer,
  'list-bundles': page(Bundle),
  'get-bundle': Bundle,
  'put-bundle': Bundle,
  'list-directory-users': page(DirectoryUser),
  'get-directory-user': DirectoryUser,
  'put-directory-user': DirectoryUser,
  'put-directory-user-accounts': DirectoryUser,
  'list-directory-groups': page(DirectoryGroup),
  'get-directory-group': DirectoryGroup,
  'put-directory-group': DirectoryGroup,
};

/** The success status of a route: 201 for a created request, 204 for a delete, 200 otherwise. */
export function successStatus(route: { method: string; entry: string }): '200' | '201' | '204' {
  if (route.entry === 'create-request') return '201';
  return route.method === 'DELETE' ? '204' : '200';
}

/** Writes that take `If-Match: "<version>"` (412 when the item moved on). */
export const takesIfMatch = new Set([
  'put-flow',
  'delete-flow',
  'put-integration',
  'delete-integration',
  'put-bundle',
  'delete-bundle',
  'put-directory-user',
  'delete-directory-user',
  'put-directory-user-accounts',
  'put-directory-group',
  'delete-directory-group',
]);
/** Writes that take `If-None-Match: *` (create only; 412 when the item exists). */
export const takesIfNoneMatch = new Set(['put-flow', 'put-integration', 'put-bundle']);
/** Routes that answer with `ETag: "<version>"`. */
export const answersETag = new Set([
  'get-flow',
  'put-flow',
  'delete-flow',
  'get-integration',
  'put-integration',
  'delete-integration',
  'get-bundle',
  'put-bundle',
  'delete-bundle',
  'get-directory-user',
  'put-directory-user',
  'put-directory-user-accounts',
  'get-directory-group',
  'put-directory-group',
]);

const ifMatch = {
  name: 'If-Match',
  in: 'header',
  required: false,
  description:
    'The ETag (version) last read, e.g. "3": the write applies only to that version, else 412 and nothing is written. ' +
    'Without it the last writer wins; the portal and the CLI always send it.',
  schema: { type: 'string' },
};
const ifNoneMatch = {
  name: 'If-None-Match',
  in: 'header',
  required: false,
  description: '`*`: create only; 412 if the item exists. Not together with If-Match.',
  schema: { type: 'string', enum: ['*'] },
};
const channelHeader = {
  name: 'X-Stint-Channel',
  in: 'header',
  required: false,
  description:
    'What the change is recorded as made through (timeline, audit events): `portal`, `cli`, `mcp` (an AI agent ' +
    'through `stint mcp`) or `api` (the default). ' +
    'A label only; it grants nothing.',
  schema: { type: 'string', enum: ['api', 'cli', 'mcp', 'portal'] },
};
const etagHeader = {
  ETag: {
    description: 'The version of the item, quoted (e.g. "3"): send it back as If-Match',
    schema: { type: 'string' },
  },
};
const location = { Location: { description: 'The new request', schema: { type: 'string' } } };

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
          current: {
            type: 'object',
            description: '412 only: the version the item is at now and who last changed it',
            properties: {
              version: { type: 'integer' },
              lastChange: {
                type: 'object',
                properties: {
                  by: { type: 'string' },
                  channel: { type: 'string' },
                  action: { type: 'string' },
                  at: { type: 'string' },
                },
              },
            },
          },
          correlationId: { type: 'string' },
        },
      },
    },
  },
};

/**
 * Recursive parts (an integration's `config` is any JSON value) that zod emits as local `definitions`; the
 * document carries them once under `components.schemas`, where OpenAPI 3.0 references can reach them.
 */
type Shared = { byContent: Map<string, string>; schemas: Record<string, unknown> };

function schema(s: z.ZodType, io: 'input' | 'output', shared?: Shared) {
  const json = z.toJSONSchema(s, { io, unrepresentable: 'any', target: 'openapi-3.0' });
  const { definitions, ...rest } = json as typeof json & { definitions?: Record<string, unknown> };
  if (definitions === undefined || shared === undefined) return json;
  // Name each definition by its content, so the same recursive schema is one component wherever it appears.
  const names = new Map<string, string>();
  for (const [local, definition] of Object.entries(definitions)) {
    const key = JSON.stringify(definition);
    let name = shared.byContent.get(key);
    if (name === undefined) {
      name = shared.byContent.size === 0 ? 'JsonValue' : `JsonValue${shared.byContent.size + 1}`;
      shared.byContent.set(key, name);
    }
    names.set(`#/definitions/${local}`, `#/components/schemas/${name}`);
  }
  const relink = (text: string) =>
    text.replace(/"\$ref":"(#\/definitions\/[^"]+)"/g, (m, ref: string) => {
      const target = names.get(ref);
      return target === undefined ? m : `"$ref":"${target}"`;
    });
  for (const [local, definition] of Object.entries(definitions)) {
    const name = names.get(`#/definitions/${local}`)?.replace('#/components/schemas/', '');
    if (name !== undefined) shared.schemas[name] ??= JSON.parse(relink(JSON.stringify(definition)));
  }
  return JSON.parse(relink(JSON.stringify(rest)));
}

/**
 * The OpenAPI 3 document of the HTTP API, generated from the route table and zod schemas. With `issuer`, the security
 * scheme is also described as OpenID Connect (its discovery document), so generated clients can find the sign-in.
 */
export function openApiDocument(options: { serverUrl?: string; issuer?: string } = {}) {
  const paths: Record<string, Record<string, unknown>> = {};
  const shared: Shared = { byContent: new Map(), schemas: {} };
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
    const status = successStatus(route);
    const headers = {
      ...(answersETag.has(route.entry) ? etagHeader : {}),
      ...(route.entry === 'create-request' ? location : {}),
    };
    paths[route.path] ??= {};
    const operations = paths[route.path] ?? {};
    operations[route.method.toLowerCase()] = {
      operationId: route.entry,
      ...(route.auth ? {} : { security: [] }),
      parameters: [
        ...params,
        ...queryParams,
        ...(takesIfMatch.has(route.entry) ? [ifMatch] : []),
        ...(takesIfNoneMatch.has(route.entry) ? [ifNoneMatch] : []),
        ...(route.method === 'GET' ? [] : [channelHeader]),
      ],
      ...(body === undefined
        ? {}
        : {
            requestBody: { required: true, content: { 'application/json': { schema: schema(body, 'input', shared) } } },
          }),
      responses: {
        [status]: {
          description: status === '201' ? 'Created' : status === '204' ? 'No Content' : 'OK',
          ...(Object.keys(headers).length === 0 ? {} : { headers }),
          ...(response === undefined || status === '204'
            ? {}
            : { content: { 'application/json': { schema: schema(response, 'output', shared) } } }),
        },
        '4XX': problem,
        '5XX': problem,
      },
    };
  }
  const oidc =
    options.issuer === undefined
      ? {}
      : {
          oidc: {
            type: 'openIdConnect',
            openIdConnectUrl: `${options.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`,
          },
        };
  return {
    openapi: '3.0.3',
    info: { title: 'Stint API', version: '1.0.0', description: 'Just-in-time access requests, approvals and grants.' },
    ...(options.serverUrl === undefined ? {} : { servers: [{ url: options.serverUrl }] }),
    components: {
      securitySchemes: { jwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, ...oidc },
      schemas: shared.schemas,
    },
    // Either scheme: the same bearer token; `oidc` only says where the issuer is.
    security: [{ jwt: [] }, ...(options.issuer === undefined ? [] : [{ oidc: [] }])],
    paths,
  };
}

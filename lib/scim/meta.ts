import { URN } from './schemas.ts';

/** RFC 7643 §5: what this service provider supports (PATCH and filter yes; bulk, sort, ETag preconditions no). */
export function serviceProviderConfig(base: string) {
  return {
    schemas: [URN.serviceProviderConfig],
    documentationUri: 'https://github.com/stint-dev/stint#scim',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: 100 },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description: 'A static bearer token, stored as a secret and shown to the IdP administrator once.',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}

export function resourceTypes(base: string) {
  const types = [
    { id: 'User', name: 'User', endpoint: '/Users', schema: URN.user, extensions: [URN.enterpriseUser] },
    { id: 'Group', name: 'Group', endpoint: '/Groups', schema: URN.group, extensions: [] },
  ];
  return types.map((t) => ({
    schemas: [URN.resourceType],
    id: t.id,
    name: t.name,
    endpoint: t.endpoint,
    schema: t.schema,
    schemaExtensions: t.extensions.map((schema) => ({ schema, required: false })),
    meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/${t.id}` },
  }));
}

type Attribute = { name: string; type: string; multiValued?: boolean; required?: boolean; subAttributes?: Attribute[] };

function attribute(a: Attribute): Record<string, unknown> {
  return {
    name: a.name,
    type: a.type,
    multiValued: a.multiValued ?? false,
    required: a.required ?? false,
    caseExact: false,
    mutability: a.name === 'id' ? 'readOnly' : 'readWrite',
    returned: 'default',
    uniqueness: a.name === 'userName' || a.name === 'displayName' ? 'server' : 'none',
    ...(a.subAttributes === undefined ? {} : { subAttributes: a.subAttributes.map(attribute) }),
  };
}

/** RFC 7643 §7, minimal: the attributes the directory stores. */
export function schemas(base: string) {
  const defs = [
    {
      id: URN.user,
      name: 'User',
      attributes: [
        { name: 'userName', type: 'string', required: true },
        { name: 'displayName', type: 'string' },
        { name: 'active', type: 'boolean' },
        { name: 'externalId', type: 'string' },
        {
          name: 'emails',
          type: 'complex',
          multiValued: true,
          subAttributes: [
            { name: 'value', type: 'string' },
            { name: 'type', type: 'string' },
            { name: 'primary', type: 'boolean' },
          ],
        },
      ],
    },
    {
      id: URN.enterpriseUser,
      name: 'EnterpriseUser',
      attributes: [{ name: 'manager', type: 'complex', subAttributes: [{ name: 'value', type: 'string' }] }],
    },
    {
      id: URN.group,
      name: 'Group',
      attributes: [
        { name: 'displayName', type: 'string', required: true },
        { name: 'externalId', type: 'string' },
        { name: 'members', type: 'complex', multiValued: true, subAttributes: [{ name: 'value', type: 'string' }] },
      ],
    },
  ];
  return defs.map((d) => ({
    schemas: [URN.schema],
    id: d.id,
    name: d.name,
    attributes: d.attributes.map(attribute),
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${d.id}` },
  }));
}

export function listOf(resources: unknown[]) {
  return {
    schemas: [URN.listResponse],
    totalResults: resources.length,
    startIndex: 1,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}

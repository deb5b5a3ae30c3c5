import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/**
 * A SCIM request as API Gateway hands it to the SCIM functions (payload format 2.0, no JWT authorizer), for
 * in-process handler tests. `route` is the route key (`POST /scim/v2/Users`); `path` the request path when it differs
 * (an id in place of `{id}`); `token` the bearer token, `null` for none.
 */
export function scimEvent(input: {
  route: string;
  token: string | null;
  path?: string;
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  rawBody?: string;
}): APIGatewayProxyEventV2 {
  const [method = 'GET', routePath = '/'] = input.route.split(' ');
  const path = input.path ?? routePath;
  const auth = input.token === null ? {} : { authorization: `Bearer ${input.token}` };
  return {
    version: '2.0',
    routeKey: input.route,
    rawPath: path,
    rawQueryString: new URLSearchParams(input.query ?? {}).toString(),
    headers: { 'content-type': 'application/scim+json', host: 'stint.example.com', ...auth },
    queryStringParameters: input.query,
    pathParameters: input.params,
    body: input.rawBody ?? (input.body === undefined ? undefined : JSON.stringify(input.body)),
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: 'stint.example.com',
      domainPrefix: 'stint',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'Okta SCIM Client' },
      requestId: 'req-scim-1',
      routeKey: input.route,
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
  };
}

import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import { z } from 'zod';
import { UnauthenticatedError } from '#lib/domain/errors.ts';
import { Identity } from '#lib/domain/identity.ts';

/**
 * API Gateway's JWT authorizer has already verified the token; its claims arrive flattened to strings.
 * Array claims come as `"[a b]"` (HTTP APIs) or a JSON array string, so groups are parsed from all forms.
 */
const ClaimValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]);
const Claims = z.record(z.string(), ClaimValue);

export function parseGroups(value: z.infer<typeof ClaimValue> | undefined): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value;
  const text = String(value).trim();
  if (text === '') return [];
  if (text.startsWith('[') && text.endsWith(']')) {
    const inner = text.slice(1, -1).trim();
    if (inner === '') return [];
    if (inner.startsWith('"')) {
      const parsed = z.array(z.string()).safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
    }
    return inner.split(/[\s,]+/).filter((g) => g !== '');
  }
  return text
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g !== '');
}

export function identityFromEvent(event: APIGatewayProxyEventV2WithJWTAuthorizer): Identity {
  const claims = Claims.safeParse(event.requestContext?.authorizer?.jwt?.claims ?? {});
  if (!claims.success) throw new UnauthenticatedError('The token claims could not be read');
  const c = claims.data;
  const parsed = Identity.safeParse({
    sub: c.sub === undefined ? undefined : String(c.sub),
    email: c.email === undefined ? undefined : String(c.email),
    groups: [...new Set([...parseGroups(c.groups), ...parseGroups(c['cognito:groups'])])],
  });
  if (!parsed.success) throw new UnauthenticatedError('The token must carry `sub` and a valid `email` claim');
  return parsed.data;
}

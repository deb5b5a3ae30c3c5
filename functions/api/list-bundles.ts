import { httpHandler } from '#lib/http/handler.ts';
import { ListQuery } from '#lib/http/schemas.ts';
import { admin } from '#lib/services/wiring/admin.ts';

export const handler = httpHandler({ query: ListQuery }, async ({ query, identity }) => {
  const page = await admin().list('bundle', identity, query);
  return { status: 200, body: { items: page.items, cursor: page.cursor ?? null } };
});

import { httpHandler } from '#lib/http/handler.ts';
import { DirectoryUsersQuery } from '#lib/http/schemas.ts';
import { directoryAdmin } from '#lib/services/wiring/admin.ts';

export const handler = httpHandler({ query: DirectoryUsersQuery }, async ({ query, identity }) => {
  const page = await directoryAdmin().listUsers(identity, query);
  return { status: 200, body: { items: page.items, cursor: page.cursor ?? null } };
});

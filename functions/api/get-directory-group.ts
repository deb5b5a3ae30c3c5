import { httpHandler } from '#lib/http/handler.ts';
import { DirectoryIdParams, etagOf } from '#lib/http/schemas.ts';
import { directoryAdmin } from '#lib/services/wiring/admin.ts';

export const handler = httpHandler({ params: DirectoryIdParams }, async ({ params, identity }) => {
  const group = await directoryAdmin().getGroup(params.id, identity);
  return { status: 200, body: group, headers: etagOf(group) };
});

import { httpHandler } from '#lib/http/handler.ts';
import { DirectoryIdParams, preconditionOf } from '#lib/http/schemas.ts';
import { directoryAdmin } from '#lib/services/wiring/admin.ts';

export const handler = httpHandler({ params: DirectoryIdParams }, async ({ params, identity, event, channel }) => {
  await directoryAdmin().deleteGroup(params.id, identity, channel, preconditionOf(event.headers));
  return { status: 204 };
});

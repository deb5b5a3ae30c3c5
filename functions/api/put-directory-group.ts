import { httpHandler } from '#lib/http/handler.ts';
import { DirectoryGroupBody, DirectoryIdParams, etagOf, preconditionOf } from '#lib/http/schemas.ts';
import { directoryAdmin } from '#lib/services/wiring/admin.ts';

export const handler = httpHandler(
  { params: DirectoryIdParams, body: DirectoryGroupBody },
  async ({ params, body, identity, event, channel }) => {
    const group = await directoryAdmin().putGroup(params.id, body, identity, channel, preconditionOf(event.headers));
    return { status: 200, body: group, headers: etagOf(group) };
  },
);

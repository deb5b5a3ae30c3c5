import { httpHandler } from '#lib/http/handler.ts';
import { DirectoryIdParams, DirectoryUserBody, etagOf, preconditionOf } from '#lib/http/schemas.ts';
import { directoryAdmin } from '#lib/services/wiring/admin.ts';

export const handler = httpHandler(
  { params: DirectoryIdParams, body: DirectoryUserBody },
  async ({ params, body, identity, event, channel }) => {
    const user = await directoryAdmin().putUser(params.id, body, identity, channel, preconditionOf(event.headers));
    return { status: 200, body: user, headers: etagOf(user) };
  },
);

import { httpHandler } from '#lib/http/handler.ts';
import { DirectoryAccountsBody, DirectoryIdParams, etagOf, preconditionOf } from '#lib/http/schemas.ts';
import { directoryAdmin } from '#lib/services/wiring/admin.ts';

export const handler = httpHandler(
  { params: DirectoryIdParams, body: DirectoryAccountsBody },
  async ({ params, body, identity, event, channel }) => {
    const user = await directoryAdmin().putAccounts(
      params.id,
      body.accounts,
      identity,
      channel,
      preconditionOf(event.headers),
    );
    return { status: 200, body: user, headers: etagOf(user) };
  },
);

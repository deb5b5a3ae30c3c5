import { httpHandler } from '#lib/http/handler.ts';
import { ListRequestsQuery } from '#lib/http/schemas.ts';
import { toRequestView } from '#lib/http/views.ts';
import { requestInbox } from '#lib/services/wiring/request-inbox.ts';

export const handler = httpHandler({ query: ListRequestsQuery }, async ({ query, identity }) => {
  const page = await requestInbox().list(identity, query);
  return {
    status: 200,
    body: { items: page.items.map((r) => toRequestView(r, identity)), cursor: page.cursor ?? null },
  };
});

import { onCallAnswersByKey } from '#lib/domain/approvals.ts';
import { httpHandler } from '#lib/http/handler.ts';
import { ListRequestsQuery } from '#lib/http/schemas.ts';
import { toRequestView } from '#lib/http/views.ts';
import { requestInbox } from '#lib/services/wiring/request-inbox.ts';

export const handler = httpHandler({ query: ListRequestsQuery }, async ({ query, identity }) => {
  const { page, oncall } = await requestInbox().listWithOnCall(identity, query);
  return {
    status: 200,
    body: {
      items: page.items.map((r) => toRequestView(r, identity, onCallAnswersByKey(r, oncall))),
      cursor: page.cursor ?? null,
    },
  };
});

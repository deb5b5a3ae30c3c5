import { httpHandler } from '#lib/http/handler.ts';
import { theRequest } from '#lib/http/read-ahead.ts';
import { IdParams } from '#lib/http/schemas.ts';
import { toRequestView } from '#lib/http/views.ts';
import { requestView } from '#lib/services/wiring/request-view.ts';

export const handler = httpHandler(
  { params: IdParams },
  async ({ params, identity }) => {
    const { request, oncall } = await requestView().getWithOnCall(params.id, identity);
    return { status: 200, body: toRequestView(request, identity, oncall) };
  },
  { readAhead: theRequest },
);

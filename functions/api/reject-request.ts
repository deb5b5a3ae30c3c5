import { httpHandler } from '#lib/http/handler.ts';
import { theRequest } from '#lib/http/read-ahead.ts';
import { DecisionBody, IdParams } from '#lib/http/schemas.ts';
import { toRequestView } from '#lib/http/views.ts';
import { requests } from '#lib/services/wiring/requests.ts';

export const handler = httpHandler(
  { params: IdParams, body: DecisionBody },
  async ({ params, body, identity, channel }) => {
    const { request, oncall } = await requests().vote(params.id, identity, { vote: 'reject', channel, ...body });
    return { status: 200, body: toRequestView(request, identity, oncall) };
  },
  { readAhead: theRequest },
);

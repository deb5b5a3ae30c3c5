import { CreateRequestInput } from '#lib/domain/create-request.ts';
import { httpHandler } from '#lib/http/handler.ts';
import { whatARequestIsMadeUnder } from '#lib/http/read-ahead.ts';
import { toRequestView } from '#lib/http/views.ts';
import { requests } from '#lib/services/wiring/requests.ts';

export const handler = httpHandler(
  { body: CreateRequestInput },
  async ({ body, identity, channel }) => {
    const request = await requests().create(body, identity, channel);
    return { status: 201, body: toRequestView(request, identity), headers: { location: `/requests/${request.id}` } };
  },
  { readAhead: whatARequestIsMadeUnder },
);

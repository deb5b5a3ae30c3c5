import { CreateRequestInput } from '#lib/domain/create-request.ts';
import { httpHandler } from '#lib/http/handler.ts';
import { toRequestView } from '#lib/http/views.ts';
import { requests } from '#lib/services/wiring.ts';

export const handler = httpHandler({ body: CreateRequestInput }, async ({ body, identity }) => {
  const request = await requests().create(body, identity, 'api');
  return { status: 201, body: toRequestView(request, identity), headers: { location: `/requests/${request.id}` } };
});

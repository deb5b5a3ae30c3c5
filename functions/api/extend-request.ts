import { httpHandler } from '#lib/http/handler.ts';
import { theRequest } from '#lib/http/read-ahead.ts';
import { ExtendBody, IdParams } from '#lib/http/schemas.ts';
import { toRequestView } from '#lib/http/views.ts';
import { requestChanges } from '#lib/services/wiring/request-changes.ts';

export const handler = httpHandler(
  { params: IdParams, body: ExtendBody },
  async ({ params, body, identity, channel }) => {
    const request = await requestChanges().extend(params.id, identity, { channel, ...body });
    return { status: 200, body: toRequestView(request, identity) };
  },
  { readAhead: theRequest },
);

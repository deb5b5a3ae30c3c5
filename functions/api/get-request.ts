import { httpHandler } from '#lib/http/handler.ts';
import { IdParams } from '#lib/http/schemas.ts';
import { toRequestView } from '#lib/http/views.ts';
import { requests } from '#lib/services/wiring.ts';

export const handler = httpHandler({ params: IdParams }, async ({ params, identity }) => ({
  status: 200,
  body: toRequestView(await requests().get(params.id, identity), identity),
}));

import { httpHandler } from '#lib/http/handler.ts';
import { etagOf, IdParams, preconditionOf } from '#lib/http/schemas.ts';
import { admin } from '#lib/services/wiring/admin.ts';

export const handler = httpHandler({ params: IdParams }, async ({ params, identity, event, channel }) => {
  const tombstone = await admin().remove('integration', params.id, identity, channel, preconditionOf(event.headers));
  return { status: 204, headers: etagOf(tombstone) };
});

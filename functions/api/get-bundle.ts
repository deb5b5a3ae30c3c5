import { httpHandler } from '#lib/http/handler.ts';
import { etagOf, IdParams } from '#lib/http/schemas.ts';
import { admin } from '#lib/services/wiring/admin.ts';

export const handler = httpHandler({ params: IdParams }, async ({ params, identity }) => {
  const item = await admin().get('bundle', params.id, identity);
  return { status: 200, body: item, headers: etagOf(item) };
});

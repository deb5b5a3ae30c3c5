import { httpHandler } from '#lib/http/handler.ts';
import { IdParams } from '#lib/http/schemas.ts';
import { admin } from '#lib/services/wiring.ts';

export const handler = httpHandler({ params: IdParams }, async ({ params, identity }) => {
  await admin().remove('bundle', params.id, identity, 'api');
  return { status: 204 };
});

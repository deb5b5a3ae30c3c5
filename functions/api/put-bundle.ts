import { BundleInput } from '#lib/domain/bundle.ts';
import { httpHandler } from '#lib/http/handler.ts';
import { IdParams } from '#lib/http/schemas.ts';
import { admin } from '#lib/services/wiring.ts';

export const handler = httpHandler({ params: IdParams, body: BundleInput }, async ({ params, body, identity }) => ({
  status: 200,
  body: await admin().putBundle(params.id, body, identity, 'api'),
}));

import { BundleInput } from '#lib/domain/bundle.ts';
import { httpHandler } from '#lib/http/handler.ts';
import { etagOf, IdParams, writePreconditionOf } from '#lib/http/schemas.ts';
import { admin } from '#lib/services/wiring/admin.ts';

export const handler = httpHandler(
  { params: IdParams, body: BundleInput },
  async ({ params, body, identity, event, channel }) => {
    const bundle = await admin().putBundle(params.id, body, identity, channel, writePreconditionOf(event.headers));
    return { status: 200, body: bundle, headers: etagOf(bundle) };
  },
);

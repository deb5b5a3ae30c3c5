import { httpHandler } from '#lib/http/handler.ts';
import { IdParams } from '#lib/http/schemas.ts';
import { discoverTarget } from '#lib/integrations/driver-client.ts';
import { admin } from '#lib/services/wiring/admin.ts';

/** What the integration's target offers, for admins writing its resources (asked of its driver function). */
export const handler = httpHandler({ params: IdParams }, async ({ params, identity }) => ({
  status: 200,
  body: await admin().discover(params.id, identity, discoverTarget),
}));

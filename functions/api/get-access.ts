import { httpHandler } from '#lib/http/handler.ts';
import { IdParams } from '#lib/http/schemas.ts';
import { requests } from '#lib/services/wiring.ts';

/** Credentials for the grantee only, while ACTIVE; never cached. */
export const handler = httpHandler({ params: IdParams }, async ({ params, identity }) => ({
  status: 200,
  body: await requests().access(params.id, identity),
}));

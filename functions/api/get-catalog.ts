import { httpHandler } from '#lib/http/handler.ts';
import { toCatalogFlow } from '#lib/http/views.ts';
import { admin } from '#lib/services/wiring/admin.ts';

export const handler = httpHandler({}, async ({ identity }) => ({
  status: 200,
  body: { flows: (await admin().catalog(identity)).map(toCatalogFlow) },
}));

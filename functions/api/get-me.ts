import { config } from '#lib/config.ts';
import { httpHandler } from '#lib/http/handler.ts';
import { toMeView } from '#lib/http/views.ts';

export const handler = httpHandler({}, async ({ identity }) => ({
  status: 200,
  body: toMeView(identity, config()),
}));

import { httpHandler } from '#lib/http/handler.ts';

export const handler = httpHandler({ auth: false }, async () => ({ status: 200, body: { status: 'ok' } }));

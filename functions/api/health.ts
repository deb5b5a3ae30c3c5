import { publicHttpHandler } from '#lib/http/public.ts';

export const handler = publicHttpHandler({}, async () => ({ status: 200, body: { status: 'ok' } }));

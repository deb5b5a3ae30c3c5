import { httpHandler } from '#lib/http/handler.ts';
import { openApiDocument } from '#lib/http/openapi.ts';

const document = openApiDocument();

export const handler = httpHandler({}, async () => ({ status: 200, body: document }));

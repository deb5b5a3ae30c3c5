import { config } from '#lib/config.ts';
import { httpHandler } from '#lib/http/handler.ts';
import { openApiDocument } from '#lib/http/openapi.ts';
import { lazy } from '#lib/lazy.ts';

const document = lazy(() => openApiDocument({ issuer: config().jwt.issuer }));

export const handler = httpHandler({}, async () => ({ status: 200, body: document() }));

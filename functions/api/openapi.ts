import { config } from '#lib/config.ts';
import { httpHandler } from '#lib/http/handler.ts';
import { openApiDocument } from '#lib/http/openapi.ts';

let document: ReturnType<typeof openApiDocument> | undefined;

export const handler = httpHandler({}, async () => {
  document ??= openApiDocument({ issuer: config().jwt.issuer });
  return { status: 200, body: document };
});

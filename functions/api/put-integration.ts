import { IntegrationInput } from '#lib/domain/integration.ts';
import { httpHandler } from '#lib/http/handler.ts';
import { IdParams } from '#lib/http/schemas.ts';
import { admin } from '#lib/services/wiring.ts';

export const handler = httpHandler(
  { params: IdParams, body: IntegrationInput },
  async ({ params, body, identity }) => ({
    status: 200,
    body: await admin().putIntegration(params.id, body, identity, 'api'),
  }),
);

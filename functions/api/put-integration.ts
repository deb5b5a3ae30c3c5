import { IntegrationInput } from '#lib/domain/integration.ts';
import { httpHandler } from '#lib/http/handler.ts';
import { etagOf, IdParams, writePreconditionOf } from '#lib/http/schemas.ts';
import { integrationChecks } from '#lib/integrations/registry.ts';
import { admin } from '#lib/services/wiring/admin.ts';

/** The one function that holds every driver: it checks an integration against its type's driver. */
export const handler = httpHandler(
  { params: IdParams, body: IntegrationInput },
  async ({ params, body, identity, event, channel }) => {
    const integration = await admin().putIntegration(
      params.id,
      body,
      identity,
      channel,
      integrationChecks,
      writePreconditionOf(event.headers),
    );
    return { status: 200, body: integration, headers: etagOf(integration) };
  },
);

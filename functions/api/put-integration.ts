import { IntegrationInput } from '#lib/domain/integration.ts';
import { httpHandler } from '#lib/http/handler.ts';
import { etagOf, IdParams, writePreconditionOf } from '#lib/http/schemas.ts';
import { integrationChecks } from '#lib/integrations/checks/registry.ts';
import { admin } from '#lib/services/wiring/admin.ts';

/**
 * Checks an integration against its type's checks (lib/integrations/checks/: config schemas, resource and rule checks,
 * the Lambda allow-list), not its full driver: no database client or driver SDK client, only the Lambda client that
 * reads a custom function's tags in tag mode.
 */
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

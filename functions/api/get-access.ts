import { httpHandler } from '#lib/http/handler.ts';
import { theRequest } from '#lib/http/read-ahead.ts';
import { IdParams } from '#lib/http/schemas.ts';
import { issueCredentials } from '#lib/integrations/driver-client.ts';
import { requestAccess } from '#lib/services/wiring/request-access.ts';

/** Credentials for the grantee only, while ACTIVE; never cached (short-lived ones are issued by the driver now). */
export const handler = httpHandler(
  { params: IdParams },
  async ({ params, identity }) => ({
    status: 200,
    body: await requestAccess().access(params.id, identity, issueCredentials),
  }),
  { readAhead: theRequest },
);

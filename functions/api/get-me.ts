import { config } from '#lib/config.ts';
import { httpHandler } from '#lib/http/handler.ts';

export const handler = httpHandler({}, async ({ identity }) => ({
  status: 200,
  body: {
    ...identity,
    admin: identity.groups.includes(config().adminGroup),
    auditor: identity.groups.includes(config().auditorGroup),
  },
}));

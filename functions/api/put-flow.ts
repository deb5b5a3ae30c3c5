import { FlowInput } from '#lib/domain/flow.ts';
import { httpHandler } from '#lib/http/handler.ts';
import { etagOf, IdParams, writePreconditionOf } from '#lib/http/schemas.ts';
import { admin } from '#lib/services/wiring/admin.ts';

export const handler = httpHandler(
  { params: IdParams, body: FlowInput },
  async ({ params, body, identity, event, channel }) => {
    const flow = await admin().putFlow(params.id, body, identity, channel, writePreconditionOf(event.headers));
    return { status: 200, body: flow, headers: etagOf(flow) };
  },
);

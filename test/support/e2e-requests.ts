import { expect } from 'vitest';
import * as z from 'zod';
import type { FlowInput } from '#lib/domain/flow.ts';
import { RequestStatus } from '#lib/domain/request.ts';
import { isTerminal } from '#lib/domain/transitions.ts';
import { call, until } from './http.ts';

/** What the e2e tests read of a request view (the rest passes through). */
export const RequestJson = z.looseObject({
  id: z.string(),
  status: RequestStatus,
  failureReason: z.string().optional(),
  expiresAt: z.string().optional(),
  revokedAt: z.string().optional(),
  unitDetails: z.array(z.looseObject({ progress: z.object({ action: z.string(), reason: z.string() }).optional() })),
});
export type RequestJson = z.infer<typeof RequestJson>;

/**
 * The request routes as one person or another calls them over HTTP, for end-to-end tests of one integration:
 * `base` is the flow every `putFlow` starts from, `justification` what every `create` says.
 */
export function requestsOver<Person extends string>(options: {
  url: () => string;
  token: (who: Person) => string;
  admin: Person;
  justification: string;
  /** The flow body every putFlow starts from (as the API takes it: defaults may be left out). */
  flow: () => Record<string, unknown>;
}) {
  const { url, token } = options;
  const get = async (who: Person, id: string): Promise<RequestJson> => {
    const res = await call(url(), 'GET', `/requests/${id}`, { token: token(who) });
    expect(res.status, res.text).toBe(200);
    return RequestJson.parse(res.json);
  };
  const act = (who: Person, id: string, action: string, body: unknown = {}) =>
    call(url(), 'POST', `/requests/${id}/${action}`, { token: token(who), body });
  return {
    get,
    act,
    async create(who: Person, flowId: string, durationMinutes = 5): Promise<RequestJson> {
      const res = await call(url(), 'POST', '/requests', {
        token: token(who),
        body: { flowId, durationMinutes, justification: options.justification },
      });
      expect(res.status, res.text).toBe(201);
      return RequestJson.parse(res.json);
    },
    /** Waits for `status`; a request that ends in another final status fails at once, with its failureReason. */
    async reach(who: Person, id: string, status: RequestStatus, timeoutMs = 150_000): Promise<RequestJson> {
      const r = await until(
        () => get(who, id),
        (r) => r.status === status || isTerminal(r.status),
        timeoutMs,
      );
      expect(r.status, r.failureReason).toBe(status);
      return r;
    },
    async revoke(who: Person, id: string): Promise<void> {
      const res = await act(who, id, 'revoke');
      expect(res.status, res.text).toBe(200);
    },
    async putFlow(id: string, flow: Partial<FlowInput>): Promise<void> {
      const body = { name: id, ...options.flow(), ...flow };
      const res = await call(url(), 'PUT', `/flows/${id}`, { token: token(options.admin), body });
      expect(res.status, res.text).toBe(200);
    },
  };
}

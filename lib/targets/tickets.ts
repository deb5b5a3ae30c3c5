import type { Store } from '#lib/store/store.ts';
import type { TicketStore } from './types.ts';

/**
 * ITSM tickets kept on the request item (`request.tickets[targetName]`), so the key survives redeliveries and
 * restarts and is visible on the request.
 *
 * `put` is one conditional write through `updateRequest` (version check, re-read on a concurrent change). It keeps
 * status, votes, expiry and `lastChange` untouched, so the stream publisher yields no audit event for it
 * (lib/events/from-stream.ts: "any other MODIFY → none"); it does consume a version number. Writing the key that is
 * already there is a no-op (no write at all).
 */
export class RequestTicketStore implements TicketStore {
  constructor(private readonly store: Pick<Store, 'getRequest' | 'updateRequest'>) {}

  async get(requestId: string, target: string): Promise<string | undefined> {
    const request = await this.store.getRequest(requestId);
    return request?.tickets[target];
  }

  async put(requestId: string, target: string, key: string): Promise<void> {
    await this.store.updateRequest(requestId, (r) =>
      r.tickets[target] === key ? null : { ...r, tickets: { ...r.tickets, [target]: key } },
    );
  }
}

import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { approverStanding, onCallApproverKey } from '#lib/domain/approvals.ts';
import { ValidationError } from '#lib/domain/errors.ts';
import { escalate } from '#lib/domain/escalation.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { encodeCursor } from '#lib/store/cursor.ts';
import { type Page, Store } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aFlow, anIdentity, aRequest } from '../../support/fixtures.ts';

const NOW = Date.parse('2030-01-15T12:00:00.000Z');
const at = (minutes: number) => new Date(NOW + minutes * 60_000).toISOString();

let table: LocalTable;
let store: Store;

beforeEach(async () => {
  table = await startDynalite();
  store = new Store(table.doc, table.tableName, { now: () => new Date(NOW) });
});
afterEach(async () => {
  await table.stop();
});

/** Follows cursors to the end (at most 50 pages), returning every page's ids. */
async function allPages(list: (cursor?: string) => Promise<Page<AccessRequest>>): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await list(cursor);
    pages.push(page.items.map((r) => r.id));
    cursor = page.cursor;
  } while (cursor !== undefined && pages.length < 50);
  return pages;
}

async function created(...requests: AccessRequest[]): Promise<AccessRequest[]> {
  for (const request of requests) await store.createRequest(request);
  return requests;
}

const alice = anIdentity({ sub: 'alice', groups: ['dba', 'eng'] });
const bob = anIdentity({ sub: 'bob' });

describe('listRequestsByRequester', () => {
  it('lists only the requester’s requests, newest first', async () => {
    const [older, newer] = await created(
      aRequest({ requester: bob, createdAt: at(-30) }),
      aRequest({ requester: bob, createdAt: at(-10) }),
      aRequest({ requester: alice, createdAt: at(-20) }),
    );

    const page = await store.listRequestsByRequester('bob', {});

    expect(page.items.map((r) => r.id)).toEqual([newer?.id, older?.id]);
    expect(page.cursor).toBeUndefined();
  });

  it('pages through 3 pages without duplicates or gaps', async () => {
    const requests = await created(
      ...Array.from({ length: 7 }, (_, i) => aRequest({ requester: bob, createdAt: at(-i) })),
    );

    const pages = await allPages((cursor) => store.listRequestsByRequester('bob', { limit: 3, cursor }));

    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual(requests.map((r) => r.id));
  });

  it('returns no cursor when the last page is exactly full', async () => {
    await created(...Array.from({ length: 4 }, (_, i) => aRequest({ requester: bob, createdAt: at(-i) })));

    const pages = await allPages((cursor) => store.listRequestsByRequester('bob', { limit: 2, cursor }));

    expect(pages.map((p) => p.length)).toEqual([2, 2]);
  });

  it('filters by status, still filling pages and paging without gaps', async () => {
    const requests = await created(
      ...Array.from({ length: 9 }, (_, i) =>
        aRequest({ requester: bob, createdAt: at(-i), status: i % 3 === 0 ? 'CANCELLED' : 'PENDING' }),
      ),
    );

    const pages = await allPages((cursor) =>
      store.listRequestsByRequester('bob', { status: 'CANCELLED', limit: 2, cursor }),
    );

    expect(pages.map((p) => p.length)).toEqual([2, 1]);
    expect(pages.flat()).toEqual(requests.filter((r) => r.status === 'CANCELLED').map((r) => r.id));
  });

  it('keeps the cursor stable: the same cursor yields the same next page', async () => {
    await created(...Array.from({ length: 5 }, (_, i) => aRequest({ requester: bob, createdAt: at(-i) })));
    const first = await store.listRequestsByRequester('bob', { limit: 2 });

    const again = await store.listRequestsByRequester('bob', { limit: 2, cursor: first.cursor });
    const twice = await store.listRequestsByRequester('bob', { limit: 2, cursor: first.cursor });

    expect(again.items.map((r) => r.id)).toEqual(twice.items.map((r) => r.id));
    expect(again.items).toHaveLength(2);
  });
});

describe('listRequestsAwaitingApprover', () => {
  const byGroup = aFlow({
    id: 'by-group',
    approval: {
      mode: 'manual',
      sets: [{ users: [], groups: ['dba'] }],
      rule: { type: 'anyOf' },
      timeoutMinutes: 60,
      reasonRequired: false,
    },
  });
  const byUserAndGroup = aFlow({
    id: 'by-user-and-group',
    approval: {
      mode: 'manual',
      sets: [
        { users: ['alice'], groups: ['eng'] },
        { users: ['alice'], groups: ['dba'] },
      ],
      rule: { type: 'allOf' },
      timeoutMinutes: 60,
      reasonRequired: false,
    },
  });
  const byOthers = aFlow({
    id: 'by-others',
    approval: {
      mode: 'manual',
      sets: [{ users: ['carol'], groups: ['sec'] }],
      rule: { type: 'anyOf' },
      timeoutMinutes: 60,
      reasonRequired: false,
    },
  });

  it('lists pending requests where the caller is an approver by user or group, once each, newest first', async () => {
    const [viaGroup, viaBoth] = await created(
      aRequest({ requester: bob, flow: byGroup, createdAt: at(-20) }),
      aRequest({ requester: bob, flow: byUserAndGroup, createdAt: at(-10) }),
      aRequest({ requester: bob, flow: byOthers, createdAt: at(-5) }),
    );

    const page = await store.listRequestsAwaitingApprover(alice, {});

    expect(page.items.map((r) => r.id)).toEqual([viaBoth?.id, viaGroup?.id]);
    expect(page.cursor).toBeUndefined();
  });

  it('excludes the caller’s own requests and requests no longer pending', async () => {
    const [pending] = await created(
      aRequest({ requester: bob, flow: byGroup, createdAt: at(-30) }),
      aRequest({ requester: alice, flow: byGroup, createdAt: at(-20) }),
    );
    const decided = aRequest({ requester: bob, flow: byGroup, createdAt: at(-10) });
    await store.createRequest(decided);
    await store.saveRequest({ ...decided, status: 'APPROVED' }, decided.version);

    const page = await store.listRequestsAwaitingApprover(alice, {});

    expect(page.items.map((r) => r.id)).toEqual([pending?.id]);
  });

  it('ignores an approver pointer whose request was never written', async () => {
    await table.doc.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          pk: 'APPROVER#group:dba',
          sk: `${at(-1)}#orphan`,
          entity: 'approver-pointer',
          requestId: 'orphan',
          approverKey: 'group:dba',
          createdAt: at(-1),
        },
      }),
    );
    const [real] = await created(aRequest({ requester: bob, flow: byGroup, createdAt: at(-2) }));

    const page = await store.listRequestsAwaitingApprover(alice, {});

    expect(page.items.map((r) => r.id)).toEqual([real?.id]);
  });

  it('ignores a pointer the request does not back: another approver key or another position', async () => {
    const [real] = await created(aRequest({ requester: bob, flow: byOthers, createdAt: at(-2) }));
    // Stray pointers to a real pending request: in alice's group partition although the flow names sec/carol.
    for (const sk of [`${real?.createdAt}#${real?.id}`, `${at(-1)}#${real?.id}`]) {
      await table.doc.send(
        new PutCommand({
          TableName: table.tableName,
          Item: { pk: 'APPROVER#group:dba', sk, entity: 'approver-pointer', requestId: real?.id },
        }),
      );
    }

    expect((await store.listRequestsAwaitingApprover(alice, {})).items).toEqual([]);
    expect((await store.listRequestsAwaitingApprover(anIdentity({ sub: 'carol' }), {})).items).toEqual([real]);
  });

  it('lists an on-call set’s requests to the caller only when the answer has them on call', async () => {
    const ref = { provider: 'pagerduty', schedule: 'PSCHED' };
    const byOnCall = aFlow({
      id: 'by-oncall',
      approval: {
        mode: 'manual',
        sets: [{ users: [], groups: [], oncall: ref }],
        rule: { type: 'anyOf' },
        timeoutMinutes: 60,
        reasonRequired: false,
      },
    });
    const [viaOnCall, viaGroup] = await created(
      aRequest({ requester: bob, flow: byOnCall, createdAt: at(-10) }),
      aRequest({ requester: bob, flow: byGroup, createdAt: at(-20) }),
    );
    const key = onCallApproverKey(ref);
    const shift = {
      provider: 'pagerduty',
      schedule: 'PSCHED',
      email: alice.email,
      start: at(-60),
      end: at(60),
    };

    const onCall = await store.listRequestsAwaitingApprover(alice, {}, new Map([[key, { shifts: [shift] }]]));
    const someoneElse = await store.listRequestsAwaitingApprover(
      alice,
      {},
      new Map([[key, { shifts: [{ ...shift, email: 'olga@example.com' }] }]]),
    );
    const down = await store.listRequestsAwaitingApprover(alice, {}, new Map([[key, { unavailable: 'down' }]]));
    const notAsked = await store.listRequestsAwaitingApprover(alice, {});

    expect(onCall.items.map((r) => r.id)).toEqual([viaOnCall?.id, viaGroup?.id]);
    expect(someoneElse.items.map((r) => r.id)).toEqual([viaGroup?.id]);
    expect(down.items.map((r) => r.id)).toEqual([viaGroup?.id]);
    expect(notAsked.items.map((r) => r.id)).toEqual([viaGroup?.id]);
  });

  it('pages through 3 pages without duplicates or gaps across user and group partitions', async () => {
    const flows = [byGroup, byUserAndGroup];
    const requests = await created(
      ...Array.from({ length: 8 }, (_, i) => aRequest({ requester: bob, flow: flows[i % 2], createdAt: at(-i) })),
    );
    // Noise between them: own requests and other approvers' requests.
    await created(
      aRequest({ requester: alice, flow: byGroup, createdAt: at(-2.5) }),
      aRequest({ requester: bob, flow: byOthers, createdAt: at(-4.5) }),
    );

    const pages = await allPages((cursor) => store.listRequestsAwaitingApprover(alice, { limit: 3, cursor }));

    expect(pages.map((p) => p.length)).toEqual([3, 3, 2]);
    expect(pages.flat()).toEqual(requests.map((r) => r.id));
  });
});

describe('listRequestsByStatus', () => {
  it('lists requests of one status across shards, ordered by due time', async () => {
    const deadlines = [50, 10, 40, 20, 30, 5, 60, 45, 15, 25];
    const requests = await created(
      ...deadlines.map((d, i) => aRequest({ createdAt: at(i - 100), approvalDeadline: at(d) })),
    );

    const page = await store.listRequestsByStatus('PENDING', {});

    const expected = [...requests].sort((a, b) => (a.approvalDeadline ?? '').localeCompare(b.approvalDeadline ?? ''));
    expect(page.items.map((r) => r.id)).toEqual(expected.map((r) => r.id));
  });

  it('orders ACTIVE requests by expiry and only lists those due before the given time', async () => {
    const [soon, later] = await created(
      aRequest({ status: 'ACTIVE', expiresAt: at(5) }),
      aRequest({ status: 'ACTIVE', expiresAt: at(50) }),
      aRequest({ status: 'ACTIVE', expiresAt: at(500) }),
    );

    const page = await store.listRequestsByStatus('ACTIVE', { dueBefore: at(60) });

    expect(page.items.map((r) => r.id)).toEqual([soon?.id, later?.id]);
  });

  it('compares due times in UTC even when stored with an offset', async () => {
    const [early, late] = await created(
      aRequest({ approvalDeadline: '2030-01-15T13:30:00+02:00' }), // 11:30Z
      aRequest({ approvalDeadline: '2030-01-15T12:00:00Z' }),
    );

    const page = await store.listRequestsByStatus('PENDING', { dueBefore: '2030-01-15T13:00:00+01:00' });

    expect(page.items.map((r) => r.id)).toEqual([early?.id]);
    expect(late?.approvalDeadline).toBe('2030-01-15T12:00:00Z');
  });

  it('pages through 3 pages without duplicates or gaps, with a due-time bound', async () => {
    const requests = await created(...Array.from({ length: 12 }, (_, i) => aRequest({ approvalDeadline: at(i) })));

    const pages = await allPages((cursor) =>
      store.listRequestsByStatus('PENDING', { dueBefore: at(8), limit: 3, cursor }),
    );

    expect(pages.map((p) => p.length)).toEqual([3, 3, 2]);
    expect(pages.flat()).toEqual(requests.slice(0, 8).map((r) => r.id));
  });

  it('refuses a terminal status, naming the field', async () => {
    const error = await store.listRequestsByStatus('REVOKED', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field: 'status' });
  });
});

describe('listAllRequests', () => {
  const day = (days: number, minutes = 0) => new Date(NOW - days * 86_400_000 + minutes * 60_000).toISOString();

  it('lists every requester’s requests newest first across days', async () => {
    const requests = await created(
      aRequest({ requester: bob, createdAt: day(0) }),
      aRequest({ requester: alice, createdAt: day(0, -1) }),
      aRequest({ requester: bob, createdAt: day(1) }),
      aRequest({ requester: alice, createdAt: day(3) }),
    );

    const page = await store.listAllRequests({});

    expect(page.items.map((r) => r.id)).toEqual(requests.map((r) => r.id));
  });

  it('pages through 3 pages across day partitions without duplicates or gaps', async () => {
    const requests = await created(
      ...Array.from({ length: 8 }, (_, i) => aRequest({ createdAt: day(Math.floor(i / 3), -i) })),
    );

    const pages = await allPages((cursor) => store.listAllRequests({ limit: 3, cursor }));

    expect(pages.map((p) => p.length)).toEqual([3, 3, 2]);
    expect(pages.flat()).toEqual(requests.map((r) => r.id));
  });

  it('filters by status', async () => {
    const [cancelled] = await created(
      aRequest({ createdAt: day(0), status: 'CANCELLED' }),
      aRequest({ createdAt: day(1) }),
    );

    const page = await store.listAllRequests({ status: 'CANCELLED' });

    expect(page.items.map((r) => r.id)).toEqual([cancelled?.id]);
  });

  it('walks back over long empty stretches, up to the 400-day horizon', async () => {
    const requests = await created(
      aRequest({ createdAt: day(0) }),
      aRequest({ createdAt: day(120) }),
      aRequest({ createdAt: day(399) }),
    );
    await created(aRequest({ createdAt: day(402) })); // beyond the 400-day horizon

    const pages = await allPages((cursor) => store.listAllRequests({ limit: 10, cursor }));

    expect(pages).toEqual([requests.map((r) => r.id)]);
  });
});

describe('paging arguments', () => {
  it('refuses a cursor that is not one of ours', async () => {
    for (const cursor of ['not-a-cursor!', 'bm90IGpzb24', encodeCursor({ k: 'requester' }).slice(0, 5)]) {
      const error = await store.listRequestsByRequester('bob', { cursor }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({ field: 'cursor' });
    }
  });

  it('refuses a cursor issued by another listing', async () => {
    await created(...Array.from({ length: 3 }, (_, i) => aRequest({ requester: bob, createdAt: at(-i) })));
    const { cursor } = await store.listRequestsByRequester('bob', { limit: 1 });
    expect(cursor).toBeDefined();

    const error = await store.listAllRequests({ cursor }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field: 'cursor' });
  });

  it('refuses a limit outside 1..100 and defaults to 25', async () => {
    await created(...Array.from({ length: 26 }, (_, i) => aRequest({ requester: bob, createdAt: at(-i) })));

    expect((await store.listRequestsByRequester('bob', {})).items).toHaveLength(25);
    for (const limit of [0, 101, 2.5]) {
      const error = await store.listRequestsByRequester('bob', { limit }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({ field: 'limit' });
    }
  });
});

describe('listRequestsAwaitingApprover: escalation tiers and the manager', () => {
  const escalating = aFlow({
    id: 'escalating',
    approval: {
      mode: 'manual',
      sets: [{ users: ['alice'], groups: [] }],
      rule: { type: 'anyOf' },
      timeoutMinutes: 120,
      reasonRequired: false,
      escalation: {
        everyMinutes: 10,
        tiers: [
          { users: [], groups: ['oncall'] },
          { users: ['erin'], groups: ['sec'] },
        ],
      },
    },
  });
  const byManager = aFlow({
    id: 'by-manager',
    approval: {
      mode: 'manual',
      sets: [{ users: [], groups: [], manager: true }],
      rule: { type: 'anyOf' },
      timeoutMinutes: 60,
      reasonRequired: false,
    },
  });
  const erin = anIdentity({ sub: 'erin' });
  const secMember = anIdentity({ sub: 'sam', groups: ['sec'] });
  const oncall = anIdentity({ sub: 'olga', groups: ['oncall'] });
  const mallory = anIdentity({ sub: 'mallory', groups: ['marketing'] });

  const ids = async (who: ReturnType<typeof anIdentity>) =>
    (await store.listRequestsAwaitingApprover(who, {})).items.map((r) => r.id);

  /** Records the tier as the reconciler does (one conditional write of the domain's escalate()). */
  async function reachTier(request: AccessRequest, tier: number): Promise<AccessRequest> {
    const current = await store.getRequest(request.id);
    if (current === undefined) throw new Error('request not stored');
    const next = escalate(current, tier, new Date(NOW));
    if (next === null) throw new Error(`tier ${tier} not recordable`);
    return store.saveRequest(next, current.version);
  }

  it('shows a tier-2 approver (by user or group) the request only once tier 2 is reached', async () => {
    const [request] = await created(aRequest({ requester: bob, flow: escalating, createdAt: at(-30) }));
    if (request === undefined) throw new Error('no request');

    expect(await ids(erin)).toEqual([]);
    expect(await ids(secMember)).toEqual([]);
    expect(await ids(oncall)).toEqual([]);
    expect(await ids(alice)).toEqual([request.id]);

    await reachTier(request, 1);
    expect(await ids(oncall)).toEqual([request.id]);
    expect(await ids(erin)).toEqual([]);
    expect(await ids(secMember)).toEqual([]);

    await reachTier(request, 2);
    expect(await ids(erin)).toEqual([request.id]);
    expect(await ids(secMember)).toEqual([request.id]);
    expect(await ids(oncall)).toEqual([request.id]);
    expect(await ids(alice)).toEqual([request.id]);
  });

  it('shows the request to the requester’s manager pinned at creation', async () => {
    const [request] = await created(
      aRequest({ requester: anIdentity({ sub: 'bob', manager: 'mona' }), flow: byManager, createdAt: at(-5) }),
    );

    expect(await ids(anIdentity({ sub: 'mona' }))).toEqual([request?.id]);
    expect(await ids(anIdentity({ sub: 'mark' }))).toEqual([]);
  });

  it('never shows the request to a non-approver or to the requester, at any tier', async () => {
    const requester = anIdentity({ sub: 'bob', groups: ['sec', 'oncall'], manager: 'mona' });
    const [request] = await created(aRequest({ requester, flow: escalating, createdAt: at(-30) }));
    if (request === undefined) throw new Error('no request');
    await reachTier(request, 2);

    expect(await ids(mallory)).toEqual([]);
    expect(await ids(requester)).toEqual([]);
    expect(await ids(anIdentity({ sub: 'mona' }))).toEqual([]);
  });

  it('agrees with the vote check for every caller', async () => {
    const requests = await created(
      aRequest({ requester: bob, flow: escalating, createdAt: at(-30) }),
      aRequest({ requester: anIdentity({ sub: 'bob', manager: 'mona' }), flow: byManager, createdAt: at(-20) }),
    );
    const first = requests[0];
    if (first === undefined) throw new Error('no request');
    await reachTier(first, 1);
    const stored = await Promise.all(requests.map((r) => store.getRequest(r.id)));

    for (const who of [alice, bob, erin, secMember, oncall, mallory, anIdentity({ sub: 'mona' })]) {
      const eligible = stored.filter((r) => r !== undefined && approverStanding(r, who).eligible).map((r) => r?.id);
      expect((await ids(who)).sort(), who.sub).toEqual(eligible.sort());
    }
  });
});

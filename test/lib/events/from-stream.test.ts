import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AccessRequest, RequestStatus } from '#lib/domain/request.ts';
import { eventsFromChange, StreamRecordError } from '#lib/events/from-stream.ts';
import {
  ACTIVE_TOKEN,
  APPROVAL_TOKEN,
  bundle,
  configItem,
  flow,
  insert,
  integration,
  modify,
  requestItem,
  requestStages,
  SEALED_SECRET,
  sampleChanges,
} from '#lib/events/samples.ts';

const s = requestStages();
const transition = (from: AccessRequest, to: AccessRequest) =>
  eventsFromChange(modify(requestItem(from), requestItem(to)));

describe('eventsFromChange: request status changes', () => {
  const cases: [string, string, AccessRequest, AccessRequest, string][] = [
    ['PENDING → APPROVED', 'request.approved', s.voted, s.approved, 'carol'],
    ['PENDING → REJECTED', 'request.rejected', s.voted, s.rejected, 'carol'],
    ['PENDING → CANCELLED', 'request.cancelled', s.awaiting, s.cancelled, 'alice'],
    ['PENDING → TIMED_OUT', 'request.timed_out', s.awaiting, s.timedOut, 'stint:system'],
    ['APPROVED → GRANTING', 'grant.started', s.approved, s.granting, 'stint:system'],
    ['GRANTING → ACTIVE', 'grant.active', s.granting, s.active, 'stint:system'],
    ['GRANTING → FAILED', 'grant.failed', s.granting, s.grantFailed, 'stint:system'],
    ['ACTIVE → REVOKING', 'grant.revoking', s.extended, s.revoking, 'bob'],
    ['REVOKING → REVOKED', 'grant.revoked', s.revoking, s.revoked, 'stint:system'],
    ['REVOKING → EXPIRED', 'grant.expired', s.expiring, s.expired, 'stint:system'],
    ['REVOKING → REVOKE_FAILED', 'grant.revoke_failed', s.expiring, s.revokeFailed, 'stint:system'],
    [
      'GRANTING → REVOKING (a failed grant is undone)',
      'grant.revoking',
      s.granting,
      {
        ...s.granting,
        status: 'REVOKING',
        endReason: 'failed',
        failureReason: 'stuck in GRANTING: 3 restarted executions ended without moving the request',
        version: s.granting.version + 1,
        lastChange: { ...s.granting.lastChange, channel: 'reconciler', action: 'abandon-grant' },
      },
      'stint:system',
    ],
    [
      'REVOKING → FAILED (the failed grant was undone)',
      'grant.failed',
      { ...s.granting, status: 'REVOKING', endReason: 'failed', version: s.granting.version + 1 },
      { ...s.grantFailed, endReason: 'failed', version: s.granting.version + 2 },
      'stint:system',
    ],
    [
      'REVOKE_FAILED → REVOKING (retry)',
      'grant.revoking',
      s.revokeFailed,
      { ...s.expiring, version: 10, lastChange: { ...s.expiring.lastChange, channel: 'reconciler' } },
      'stint:system',
    ],
  ];

  it.each(cases)('%s yields one %s event, by the writer of the change', (_name, type, from, to, actor) => {
    const events = transition(from, to);

    expect(events.map((e) => e.type)).toEqual([type]);
    const [event] = events;
    expect(event?.id).toBe(`request:${to.id}:${to.version}`);
    expect(event?.actor.sub).toBe(actor);
    expect(event?.time).toBe(to.lastChange.at);
    expect(event && 'previousStatus' in event ? [event.request.status, event.previousStatus] : []).toEqual([
      to.status,
      from.status,
    ]);
  });

  it('rates grant failures and revoke failures high, rejections and time-outs info', () => {
    expect(transition(s.granting, s.grantFailed)[0]?.severity).toBe('high');
    expect(transition(s.expiring, s.revokeFailed)[0]?.severity).toBe('high');
    expect(transition(s.voted, s.rejected)[0]?.severity).toBe('info');
    expect(transition(s.awaiting, s.timedOut)[0]?.severity).toBe('info');
    expect(transition(s.granting, s.active)[0]?.severity).toBe('info');
  });

  it('yields nothing for a change that kept the version (its event id would collide with an earlier one)', () => {
    expect(transition(s.granting, { ...s.active, version: s.granting.version })).toEqual([]);
    expect(eventsFromChange(modify(configItem('flow', flow()), configItem('flow', flow({ name: 'x' }))))).toEqual([]);
  });

  it('refuses a status change back to PENDING', () => {
    expect(() => transition(s.approved, { ...s.pending, version: 5 })).toThrow(/APPROVED → PENDING/);
  });
});

describe('eventsFromChange: request creation', () => {
  it('yields request.created for a new pending request, without previous status', () => {
    const [event, ...rest] = eventsFromChange(insert(requestItem(s.pending)));

    expect(rest).toEqual([]);
    expect(event?.type).toBe('request.created');
    expect(event?.id).toBe(`request:${s.pending.id}:1`);
    expect(event?.severity).toBe('info');
    expect(event?.actor).toEqual({
      sub: 'alice',
      channel: 'api',
      reason: 'INC-4711: fix stuck payouts in the settlement table',
    });
    expect(event && 'previousStatus' in event).toBe(false);
  });

  it('yields only request.created for an auto-approved request, whose status says APPROVED', () => {
    const auto: AccessRequest = {
      ...s.pending,
      flow: flow({ approval: { mode: 'auto' } }),
      status: 'APPROVED',
      decision: { outcome: 'auto', by: 'stint:system', channel: 'api', at: s.pending.createdAt },
    };

    const events = eventsFromChange(insert(requestItem(auto)));

    expect(events.map((e) => [e.type, 'request' in e ? e.request.status : undefined])).toEqual([
      ['request.created', 'APPROVED'],
    ]);
  });

  it('rates break-glass creation and activation high, and carries the flow labels', () => {
    const breakGlassFlow = flow({ id: 'break-glass', breakGlass: true, labels: { env: 'prod', kind: 'break-glass' } });
    const created: AccessRequest = { ...s.pending, flow: breakGlassFlow, flowId: 'break-glass', status: 'APPROVED' };
    const granting: AccessRequest = { ...s.granting, flow: breakGlassFlow, flowId: 'break-glass' };
    const active: AccessRequest = { ...s.active, flow: breakGlassFlow, flowId: 'break-glass' };
    const revoking: AccessRequest = { ...s.revoking, flow: breakGlassFlow, flowId: 'break-glass' };

    const [createdEvent] = eventsFromChange(insert(requestItem(created)));
    const [activeEvent] = transition(granting, active);
    const [revokingEvent] = transition(active, revoking);

    expect(createdEvent?.severity).toBe('high');
    expect(activeEvent?.severity).toBe('high');
    expect(revokingEvent?.severity).toBe('info');
    expect(createdEvent && 'request' in createdEvent ? createdEvent.request : undefined).toMatchObject({
      breakGlass: true,
      labels: { env: 'prod', kind: 'break-glass' },
    });
  });
});

describe('eventsFromChange: changes within a status', () => {
  it('yields request.approval_recorded with the new vote when a vote does not decide', () => {
    const events = transition(s.awaiting, s.voted);

    expect(events.map((e) => e.type)).toEqual(['request.approval_recorded']);
    const [event] = events;
    expect(event && 'vote' in event ? event.vote : undefined).toEqual(s.voted.votes[0]);
    expect(event?.actor).toEqual({ sub: 'bob', channel: 'slack', reason: 'Matches INC-4711' });
  });

  it('says which approver sets the vote relied on, and how: through a group, or as the owner of which units', () => {
    const sets = [
      { name: 'DBAs', users: [], groups: ['dba'] },
      { name: 'Owners', users: [], groups: [], owners: true },
    ];
    const owned: AccessRequest = {
      ...s.awaiting,
      flow: flow({
        approval: { mode: 'manual', sets, rule: { type: 'allOf' }, timeoutMinutes: 60, reasonRequired: false },
      }),
      unitOwners: [{ owners: ['erin'], source: 'resource' }],
    };
    const byOwner: AccessRequest = {
      ...owned,
      votes: [
        {
          by: 'erin',
          email: 'erin@example.com',
          vote: 'approve',
          channel: 'api',
          at: s.voted.lastChange.at,
          sets: [1],
          ownerOf: [0],
        },
      ],
      version: owned.version + 1,
      lastChange: { by: 'erin', channel: 'api', action: 'approve', at: s.voted.lastChange.at },
    };
    const byDba: AccessRequest = {
      ...owned,
      votes: s.voted.votes,
      version: owned.version + 1,
      lastChange: s.voted.lastChange,
    };

    const [ownerEvent] = transition(owned, byOwner);
    const [dbaEvent] = transition(owned, byDba);

    expect(ownerEvent && 'approverSets' in ownerEvent ? ownerEvent.approverSets : undefined).toEqual([
      { index: 1, tier: 0, name: 'Owners', as: ['owner'], ownerOf: [s.awaiting.units[0]] },
    ]);
    expect(dbaEvent && 'approverSets' in dbaEvent ? dbaEvent.approverSets : undefined).toEqual([
      { index: 0, tier: 0, name: 'DBAs', as: ['group'] },
    ]);
  });

  it('says which schedule and shift an on-call vote relied on', () => {
    const sets = [
      { name: 'DBAs', users: [], groups: ['dba'] },
      { name: 'Primary on-call', users: [], groups: [], oncall: { provider: 'pagerduty', schedule: 'PABC123' } },
    ];
    const onCall: AccessRequest = {
      ...s.awaiting,
      flow: flow({
        approval: { mode: 'manual', sets, rule: { type: 'allOf' }, timeoutMinutes: 60, reasonRequired: false },
      }),
    };
    const shift = {
      provider: 'pagerduty',
      schedule: 'PABC123',
      start: s.awaiting.createdAt,
      end: s.voted.lastChange.at,
    };
    const voted: AccessRequest = {
      ...onCall,
      votes: [
        {
          by: 'olga',
          email: 'olga@example.com',
          vote: 'approve',
          channel: 'api',
          at: s.voted.lastChange.at,
          sets: [1],
          oncall: [{ set: 1, ...shift }],
        },
      ],
      version: onCall.version + 1,
      lastChange: { by: 'olga', channel: 'api', action: 'approve', at: s.voted.lastChange.at },
    };

    const [event] = transition(onCall, voted);

    expect(event?.type).toBe('request.approval_recorded');
    expect(event && 'approverSets' in event ? event.approverSets : undefined).toEqual([
      { index: 1, tier: 0, name: 'Primary on-call', as: ['oncall'], oncall: shift },
    ]);
  });

  it('yields request.oncall_changed with who has come on call', () => {
    const events = transition(s.awaitingOnCall, s.onCallChanged);

    expect(events.map((e) => e.type)).toEqual(['request.oncall_changed']);
    const [event] = events;
    expect(event && 'newlyOnCall' in event ? event.newlyOnCall : undefined).toEqual([
      { set: 0, provider: 'pagerduty', email: 'nina@example.com', end: s.onCallChanged.onCallNotified?.[1]?.end },
    ]);
  });

  it('yields grant.extended with the previous expiry and the extension', () => {
    const events = transition(s.active, s.extended);

    expect(events.map((e) => e.type)).toEqual(['grant.extended']);
    const [event] = events;
    expect(event && 'previousExpiresAt' in event ? [event.previousExpiresAt, event.extension?.minutes] : []).toEqual([
      s.active.expiresAt,
      30,
    ]);
  });

  it('yields grant.extended when only the expiry moves later', () => {
    const later: AccessRequest = { ...s.active, expiresAt: s.extended.expiresAt, version: 7 };

    const [event] = transition(s.active, later);

    expect(event?.type).toBe('grant.extended');
    expect(event?.type === 'grant.extended' ? [event.previousExpiresAt, 'extension' in event] : []).toEqual([
      s.active.expiresAt,
      false,
    ]);
  });

  it('yields request.escalated with the tier reached and the one before, by the reconciler', () => {
    const events = transition(s.awaitingEscalation, s.escalated);

    expect(events.map((e) => e.type)).toEqual(['request.escalated']);
    const [event] = events;
    expect(event?.type === 'request.escalated' ? [event.tier, event.previousTier, event.severity] : []).toEqual([
      1,
      0,
      'info',
    ]);
    expect(event?.actor).toEqual({ sub: 'stint:system', channel: 'reconciler' });
    expect(event?.id).toBe(`request:${s.escalated.id}:${s.escalated.version}`);
  });

  it('yields grant.expiring (info) when the reminder is recorded', () => {
    const events = transition(s.extended, s.reminded);

    expect(events.map((e) => [e.type, e.severity])).toEqual([['grant.expiring', 'info']]);
  });

  const unchanged: [string, AccessRequest, AccessRequest][] = [
    ['an escalated request is rewritten at the same tier', s.escalated, { ...s.escalated, attempt: 1, version: 4 }],
    ['a reminded grant is rewritten', s.reminded, { ...s.reminded, attempt: 1, version: 9 }],
    ['a task token is registered', s.pending, s.awaiting],
    ['the execution attempt is bumped', s.active, { ...s.active, attempt: 1, version: 7 }],
    ['the active token is replaced', s.active, { ...s.active, activeToken: `${ACTIVE_TOKEN}-2`, version: 7 }],
    [
      'grants are updated after revocation',
      s.revoked,
      { ...s.revoked, grants: [], version: 10, lastChange: { ...s.revoked.lastChange, action: 'erase' } },
    ],
    ['the item is rewritten with the same version', s.active, { ...s.active }],
    ['the expiry moves earlier while ACTIVE', s.extended, { ...s.extended, expiresAt: s.active.expiresAt, version: 8 }],
  ];
  it.each(unchanged)('yields nothing when %s', (_name, from, to) => {
    expect(transition(from, to)).toEqual([]);
  });
});

describe('eventsFromChange: config items', () => {
  const kinds = [
    ['flow', flow({ version: 1 }), flow({ version: 2, maxMinutes: 60 })],
    ['integration', integration({ version: 1 }), integration({ version: 2, name: 'Renamed' })],
    ['bundle', bundle({ version: 1 }), bundle({ version: 2, name: 'Renamed' })],
  ] as const;

  describe.each(kinds)('%s', (kind, v1, v2) => {
    const deleted = { ...v2, version: 3, deleted: true, lastChange: { ...v2.lastChange, action: 'delete' } };
    const recreated = { ...v1, version: 4, deleted: false };

    it('INSERT yields *.created with the item, without key attributes', () => {
      const [event, ...rest] = eventsFromChange(insert(configItem(kind, v1)));

      expect(rest).toEqual([]);
      expect(event?.type).toBe(`${kind}.created`);
      expect(event?.id).toBe(`${kind}:${v1.id}:1`);
      expect(event && 'after' in event ? event.after : undefined).toEqual(v1);
    });

    it('MODIFY yields *.updated with before and after', () => {
      const [event] = eventsFromChange(modify(configItem(kind, v1), configItem(kind, v2)));

      expect(event?.type).toBe(`${kind}.updated`);
      expect(event && 'before' in event ? [event.before, event.after] : []).toEqual([v1, v2]);
    });

    it('a soft delete yields *.deleted rated warning', () => {
      const [event] = eventsFromChange(modify(configItem(kind, v2), configItem(kind, deleted)));

      expect(event?.type).toBe(`${kind}.deleted`);
      expect(event?.severity).toBe('warning');
    });

    it('re-creating a deleted item yields *.created; changing a deleted item yields nothing', () => {
      expect(eventsFromChange(modify(configItem(kind, deleted), configItem(kind, recreated)))[0]?.type).toBe(
        `${kind}.created`,
      );
      expect(eventsFromChange(modify(configItem(kind, deleted), configItem(kind, { ...deleted, version: 4 })))).toEqual(
        [],
      );
    });

    it('REMOVE (TTL expiry) yields nothing', () => {
      expect(eventsFromChange({ eventName: 'REMOVE', oldImage: configItem(kind, deleted) })).toEqual([]);
    });
  });

  it('keeps the integration secret reference, which is not a secret', () => {
    const [event] = eventsFromChange(insert(configItem('integration', integration())));

    expect(event && 'after' in event ? event.after : undefined).toMatchObject({
      secretRef: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/pg-prod-AbCdEf',
    });
  });
});

describe('eventsFromChange: items without events and unreadable records', () => {
  it.each([
    'lease',
    'approver-pointer',
    'slack-posts',
    'slack-sent',
    'slack-replay',
    'teams-copy',
    'teams-notice',
    'jira-replay',
    'directory-member',
    'directory-pointer',
  ])('yields nothing for a %s item', (entity) => {
    const item = { entity, pk: 'X', sk: 'Y', anything: 1 };
    expect(eventsFromChange(insert(item))).toEqual([]);
    expect(eventsFromChange(modify(item, { ...item, anything: 2 }))).toEqual([]);
  });

  it('yields nothing when a request item expires (REMOVE)', () => {
    expect(eventsFromChange({ eventName: 'REMOVE', oldImage: requestItem(s.revoked) })).toEqual([]);
  });

  it.each([
    ['an INSERT without a new image', { eventName: 'INSERT' as const }, /without a new image/],
    ['an item without entity', insert({ pk: 'REQ#1', sk: 'REQ' }), /without a known entity: entity/],
    ['an unknown entity', insert({ entity: 'session' }), /without a known entity/],
    [
      'a request with an unknown status',
      insert({ ...requestItem(s.pending), status: 'LIMBO' }),
      /unreadable new image of a request: status/,
    ],
    [
      'a MODIFY without old image',
      { eventName: 'MODIFY' as const, newImage: requestItem(s.voted) },
      /without an old image/,
    ],
    [
      'a flow with a missing field',
      insert({ ...configItem('flow', flow()), name: undefined }),
      /unreadable new image of a flow: name/,
    ],
  ])('throws StreamRecordError for %s', (_name, change, message) => {
    expect(() => eventsFromChange(change)).toThrow(StreamRecordError);
    expect(() => eventsFromChange(change)).toThrow(message);
  });

  it('does not put the offending value in the error message', () => {
    const change = insert({ ...requestItem(s.pending), justification: 42, approvalToken: { nested: APPROVAL_TOKEN } });
    expect(() => eventsFromChange(change)).toThrow(/justification/);
    expect(() => eventsFromChange(change)).not.toThrow(new RegExp(APPROVAL_TOKEN));
  });
});

describe('eventsFromChange: what never leaves the table', () => {
  it.each(Object.entries(sampleChanges()))('%s carries no token, sealed secret, grant or key', (_type, change) => {
    const events = eventsFromChange(change);
    const serialized = JSON.stringify(events);

    for (const secret of [APPROVAL_TOKEN, ACTIVE_TOKEN, SEALED_SECRET]) expect(serialized).not.toContain(secret);
    for (const key of ['approvalToken', 'activeToken', 'sealedSecret', '"pk"', '"sk"', '"gsi', '"entity"', '"ttl"'])
      expect(serialized).not.toContain(key);
    for (const event of events) if ('request' in event) expect(Object.keys(event.request)).not.toContain('grants');
  });

  it('gives a re-read record the same event id', () => {
    const change = sampleChanges()['grant.active'];
    expect(eventsFromChange(change)[0]?.id).toBe(eventsFromChange(structuredClone(change))[0]?.id);
  });
});

describe('eventsFromChange: one event per state change (property)', () => {
  /** Legal request status transitions (docs/architecture.md, "Statuses and transitions"). */
  const NEXT: Record<RequestStatus, RequestStatus[]> = {
    PENDING: ['APPROVED', 'REJECTED', 'CANCELLED', 'TIMED_OUT'],
    APPROVED: ['GRANTING'],
    GRANTING: ['ACTIVE', 'FAILED', 'REVOKING'],
    ACTIVE: ['REVOKING'],
    REVOKING: ['REVOKED', 'EXPIRED', 'REVOKE_FAILED', 'FAILED'],
    REVOKE_FAILED: ['REVOKING'],
    REJECTED: [],
    CANCELLED: [],
    TIMED_OUT: [],
    FAILED: [],
    REVOKED: [],
    EXPIRED: [],
  };
  type Step = { kind: 'status' | 'vote' | 'extend' | 'escalate' | 'remind' | 'noise'; pick: number };
  const step = fc.record({
    kind: fc.constantFrom('status', 'vote', 'extend', 'escalate', 'remind', 'noise'),
    pick: fc.nat(10),
  });

  it('publishes 1 + one per status change, vote and extension, and nothing for other writes', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps: Step[]) => {
        let current: AccessRequest = { ...s.pending, status: 'PENDING' };
        const events = eventsFromChange(insert(requestItem(current)));
        const expected = { status: 0, vote: 0, extend: 0, escalate: 0, remind: 0 };
        for (const { kind, pick } of steps) {
          let next: AccessRequest | undefined;
          const bump = { version: current.version + 1, lastChange: { ...current.lastChange, action: kind } };
          if (kind === 'status') {
            const options = NEXT[current.status];
            const status = options[pick % Math.max(options.length, 1)];
            if (status !== undefined) {
              const expiresAt = status === 'ACTIVE' ? s.active.expiresAt : current.expiresAt;
              next = { ...current, ...bump, status, expiresAt };
              expected.status++;
            }
          } else if (kind === 'vote' && current.status === 'PENDING') {
            next = { ...current, ...bump, votes: [...current.votes, ...s.voted.votes] };
            expected.vote++;
          } else if (kind === 'extend' && current.status === 'ACTIVE') {
            const expiresAt = new Date(Date.parse(current.expiresAt ?? s.active.createdAt) + 60_000).toISOString();
            next = { ...current, ...bump, expiresAt, extensions: [...current.extensions, ...s.extended.extensions] };
            expected.extend++;
          } else if (kind === 'escalate' && current.status === 'PENDING') {
            const tier = (current.escalation?.tier ?? 0) + 1;
            next = { ...current, ...bump, escalation: { tier, notifiedAt: current.lastChange.at } };
            expected.escalate++;
          } else if (kind === 'remind' && current.status === 'ACTIVE') {
            const remindedAt = new Date(Date.parse(current.remindedAt ?? s.active.createdAt) + 60_000).toISOString();
            next = { ...current, ...bump, remindedAt };
            expected.remind++;
          } else if (kind === 'noise') {
            next = { ...current, ...bump, attempt: current.attempt + 1 };
          }
          if (next === undefined) continue;
          events.push(...eventsFromChange(modify(requestItem(current), requestItem(next))));
          current = next;
        }
        const count = (predicate: (type: string) => boolean) => events.filter((e) => predicate(e.type)).length;
        expect(events.length).toBe(
          1 + expected.status + expected.vote + expected.extend + expected.escalate + expected.remind,
        );
        expect(count((t) => t === 'request.created')).toBe(1);
        expect(count((t) => t === 'request.approval_recorded')).toBe(expected.vote);
        expect(count((t) => t === 'grant.extended')).toBe(expected.extend);
        expect(count((t) => t === 'request.escalated')).toBe(expected.escalate);
        expect(count((t) => t === 'grant.expiring')).toBe(expected.remind);
        const withinStatus = [
          'request.created',
          'request.approval_recorded',
          'grant.extended',
          'request.escalated',
          'grant.expiring',
        ];
        expect(count((t) => !withinStatus.includes(t))).toBe(expected.status);
        expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      }),
      { numRuns: 200 },
    );
  });
});

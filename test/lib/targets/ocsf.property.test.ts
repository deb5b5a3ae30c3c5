import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, type RequestEvent, StintEvent, SWEEP_EVENT_TYPES } from '#events/schemas.ts';
import { Channel } from '#lib/domain/common.ts';
import { RequestStatus } from '#lib/domain/request.ts';
import { OcsfUserAccessManagement, toOcsf } from '#lib/targets/ocsf.ts';

// The sweep's findings are not request state changes (no previousStatus; their own fields): not generated here.
const SWEEP: ReadonlySet<string> = new Set(SWEEP_EVENT_TYPES);
const REQUEST_EVENT_TYPES = EVENT_TYPES.filter(
  (t) => (t.startsWith('request.') || t.startsWith('grant.')) && !SWEEP.has(t),
);

const subject = fc.string({ minLength: 1, maxLength: 30 });
const email = fc
  .tuple(fc.stringMatching(/^[a-z0-9][a-z0-9._+-]{0,10}[a-z0-9]$/), fc.stringMatching(/^[a-z]{1,12}$/))
  .filter(([local]) => !local.includes('..'))
  .map(([local, domain]) => `${local}@${domain}.example`);
const identity = fc.record({
  sub: subject,
  email,
  groups: fc.array(fc.string({ minLength: 1, maxLength: 20 }), { maxLength: 3 }),
});
const slug = fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,15}$/);
const unit = fc.record({ integrationId: slug, resource: fc.string({ minLength: 1, maxLength: 40 }), permission: slug });
const iso = fc
  .date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2035-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString());
const channel = fc.constantFrom(...Channel.options);
const reason = fc.string({ maxLength: 60 });

const vote = fc.record(
  {
    by: subject,
    email,
    vote: fc.constantFrom<'approve' | 'reject'>('approve', 'reject'),
    reason,
    channel,
    at: iso,
    sets: fc.array(fc.nat(5), { maxLength: 2 }),
  },
  { requiredKeys: ['by', 'email', 'vote', 'channel', 'at', 'sets'] },
);

/** Any request as consumers see it: every status, any number of units, optional fields present or not. */
const requestView = fc.record(
  {
    id: fc.stringMatching(/^[0-9A-Z]{26}$/),
    version: fc.integer({ min: 1, max: 50 }),
    status: fc.constantFrom(...RequestStatus.options),
    requester: identity,
    grantee: identity,
    flowId: slug,
    flowVersion: fc.integer({ min: 1, max: 20 }),
    labels: fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
    breakGlass: fc.boolean(),
    bundle: slug,
    units: fc.array(unit, { minLength: 1, maxLength: 5 }),
    justification: fc.string({ maxLength: 200 }),
    durationMinutes: fc.integer({ min: 1, max: 10_000 }),
    votes: fc.array(vote, { maxLength: 3 }),
    decision: fc.record(
      {
        outcome: fc.constantFrom<'approved' | 'rejected' | 'auto'>('approved', 'rejected', 'auto'),
        by: subject,
        channel,
        at: iso,
        reason,
      },
      { requiredKeys: ['outcome', 'by', 'channel', 'at'] },
    ),
    createdAt: iso,
    approvalDeadline: iso,
    grantedAt: iso,
    expiresAt: iso,
    revokedAt: iso,
    endReason: fc.constantFrom<'expired' | 'revoked'>('expired', 'revoked'),
    extensions: fc.array(fc.record({ by: subject, minutes: fc.integer({ min: 1, max: 600 }), channel, at: iso }), {
      maxLength: 2,
    }),
    failureReason: fc.string({ maxLength: 100 }),
  },
  {
    requiredKeys: [
      'id',
      'version',
      'status',
      'requester',
      'grantee',
      'flowId',
      'flowVersion',
      'labels',
      'breakGlass',
      'units',
      'durationMinutes',
      'votes',
      'createdAt',
      'extensions',
    ],
  },
);

const actor = fc.oneof(
  fc.constant({ sub: 'stint:system', channel: 'workflow' as const }),
  fc.record({ sub: subject, channel, reason }, { requiredKeys: ['sub', 'channel'] }),
);

/** A request event of any type around any request view, parsed by Stint's own event schema. */
const requestEvent = fc
  .record({
    type: fc.constantFrom(...REQUEST_EVENT_TYPES),
    request: requestView,
    actor,
    time: iso,
    severity: fc.constantFrom<'info' | 'warning' | 'high'>('info', 'warning', 'high'),
    previousStatus: fc.option(fc.constantFrom(...RequestStatus.options), { nil: undefined }),
    vote,
    previousExpiresAt: fc.option(iso, { nil: undefined }),
    tier: fc.integer({ min: 1, max: 5 }),
  })
  .map(({ type, request, vote: v, previousExpiresAt, previousStatus, tier, ...rest }): RequestEvent => {
    const candidate = {
      id: `request:${request.id}:${request.version}`,
      type,
      schemaVersion: 1,
      ...rest,
      request,
      ...(previousStatus === undefined ? {} : { previousStatus }),
      ...(type === 'request.approval_recorded' ? { vote: v, approverSets: [] } : {}),
      ...(type === 'grant.extended' && previousExpiresAt !== undefined ? { previousExpiresAt } : {}),
      ...(type === 'request.escalated' ? { tier, previousTier: tier - 1 } : {}),
      ...(type === 'request.oncall_changed'
        ? { newlyOnCall: [{ set: 0, provider: 'pagerduty', email: 'olga@example.com', end: null }] }
        : {}),
    };
    const event = StintEvent.parse(candidate);
    if (!('request' in event) || event.type === 'grant.drift_detected')
      throw new Error(`${type} is not a request event`);
    return event;
  });

const SUCCESS: ReadonlySet<string> = new Set(['ACTIVE', 'APPROVED', 'REVOKED', 'EXPIRED']);
const FAILURE: ReadonlySet<string> = new Set(['FAILED', 'REVOKE_FAILED', 'REJECTED', 'TIMED_OUT']);
const ASSIGN: ReadonlySet<string> = new Set(['grant.active', 'grant.failed', 'grant.extended']);
const REVOKE: ReadonlySet<string> = new Set(['grant.revoked', 'grant.expired', 'grant.revoke_failed']);

describe('toOcsf over random request events', () => {
  it('always yields a valid 3005 event that keeps the grantee, the units, the actor and the status', () => {
    fc.assert(
      fc.property(requestEvent, (event) => {
        const r = event.request;

        const ocsf = OcsfUserAccessManagement.parse(toOcsf(event));

        const expectedActivity = ASSIGN.has(event.type) ? 1 : REVOKE.has(event.type) ? 2 : 99;
        expect(ocsf.activity_id).toBe(expectedActivity);
        expect(ocsf.type_uid).toBe(300500 + expectedActivity);
        expect(ocsf.time).toBe(Date.parse(event.time));
        expect(ocsf.metadata).toMatchObject({ uid: event.id, correlation_uid: r.id, original_time: event.time });
        expect(ocsf.user.uid).toBe(r.grantee.sub);
        expect(ocsf.user.email_addr).toBe(r.grantee.email);
        expect(ocsf.actor?.user?.uid).toBe(event.actor.sub);
        expect(new Set(ocsf.privileges)).toEqual(
          new Set(r.units.map((u) => `${u.integrationId}/${u.resource}/${u.permission}`)),
        );
        expect(new Set(ocsf.resources?.map((res) => res.uid))).toEqual(
          new Set(r.units.map((u) => `${u.integrationId}/${u.resource}`)),
        );
        expect(ocsf.status_code).toBe(r.status);
        expect(ocsf.status_id).toBe(SUCCESS.has(r.status) ? 1 : FAILURE.has(r.status) ? 2 : 99);
        expect(ocsf.unmapped?.stint).toMatchObject({ request_id: r.id, flow_id: r.flowId, event_type: event.type });
        if (r.justification === undefined) expect(ocsf.unmapped?.stint).not.toHaveProperty('justification');
        else expect(ocsf.unmapped?.stint).toHaveProperty('justification', r.justification);
      }),
      { numRuns: 300 },
    );
  });

  it('serializes to JSON without loss (no undefined attributes, nothing JSON drops)', () => {
    fc.assert(
      fc.property(requestEvent, (event) => {
        const ocsf = toOcsf(event);

        expect(JSON.parse(JSON.stringify(ocsf))).toStrictEqual(ocsf);
      }),
    );
  });
});

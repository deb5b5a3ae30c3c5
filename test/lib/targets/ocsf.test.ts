import { describe, expect, it } from 'vitest';
import { EVENT_SCHEMAS, EVENT_TYPES, type EventType, GrantActive, type StintEvent } from '#events/schemas.ts';
import { ACTIVE_TOKEN, APPROVAL_TOKEN, buildSamples, integration, SEALED_SECRET } from '#lib/events/samples.ts';
import { OCSF_VERSION, OcsfUserAccessManagement, toOcsf } from '#lib/targets/ocsf.ts';

const samples = buildSamples();
const sample = <T extends EventType>(type: T) => EVENT_SCHEMAS[type].parse(samples[type]);

/** Paths of the issues the validator reports, e.g. `['user', 'metadata.product.vendor_name']`. */
function issuePaths(candidate: unknown): string[] {
  const result = OcsfUserAccessManagement.safeParse(candidate);
  return result.success ? [] : result.error.issues.map((issue) => issue.path.join('.'));
}

describe('toOcsf on the sample events', () => {
  it.each(EVENT_TYPES)('maps %s to a valid OCSF 1.5.0 User Access Management event', (type) => {
    const event = samples[type];

    const ocsf = OcsfUserAccessManagement.parse(toOcsf(event));

    expect(ocsf.class_uid).toBe(3005);
    expect(ocsf.category_uid).toBe(3);
    expect(ocsf.type_uid).toBe(300500 + ocsf.activity_id);
    expect(ocsf.metadata.version).toBe(OCSF_VERSION);
    expect(ocsf.metadata.uid).toBe(event.id);
    expect(ocsf.time).toBe(Date.parse(event.time));
    expect(ocsf.unmapped?.stint).toMatchObject({ event_type: type });
  });

  it('maps every event type to the documented activity and status', () => {
    const table = EVENT_TYPES.map((type) => {
      const o = toOcsf(samples[type]);
      return [type, o.activity_id, o.activity_name, o.status_id, o.status];
    });

    expect(table).toEqual([
      ['request.created', 99, 'Request Privileges', 99, 'Pending'],
      ['request.approval_recorded', 99, 'Record Approval', 99, 'Pending'],
      ['request.escalated', 99, 'Escalate Request', 99, 'Pending'],
      ['request.oncall_changed', 99, 'Notify On-call Approver', 99, 'Pending'],
      ['request.approved', 99, 'Approve Request', 1, 'Success'],
      ['request.rejected', 99, 'Reject Request', 2, 'Failure'],
      ['request.cancelled', 99, 'Cancel Request', 99, 'Cancelled'],
      ['request.timed_out', 99, 'Time Out Request', 2, 'Failure'],
      ['grant.started', 99, 'Start Granting', 99, 'In Progress'],
      ['grant.active', 1, 'Assign Privileges', 1, 'Success'],
      ['grant.failed', 1, 'Assign Privileges', 2, 'Failure'],
      ['grant.expiring', 99, 'Remind Expiry', 1, 'Success'],
      ['grant.extended', 1, 'Assign Privileges', 1, 'Success'],
      ['grant.revoking', 99, 'Start Revoking', 99, 'In Progress'],
      ['grant.revoked', 2, 'Revoke Privileges', 1, 'Success'],
      ['grant.expired', 2, 'Revoke Privileges', 1, 'Success'],
      ['grant.revoke_failed', 2, 'Revoke Privileges', 2, 'Failure'],
      ['grant.orphan_revoked', 2, 'Revoke Privileges', 1, 'Success'],
      ['grant.drift_detected', 99, 'Detect Drift', 99, 'Drift Detected'],
      ['flow.created', 99, 'Create Access Flow', 1, 'Success'],
      ['flow.updated', 99, 'Update Access Flow', 1, 'Success'],
      ['flow.deleted', 99, 'Delete Access Flow', 1, 'Success'],
      ['integration.created', 99, 'Create Integration', 1, 'Success'],
      ['integration.updated', 99, 'Update Integration', 1, 'Success'],
      ['integration.deleted', 99, 'Delete Integration', 1, 'Success'],
      ['bundle.created', 99, 'Create Bundle', 1, 'Success'],
      ['bundle.updated', 99, 'Update Bundle', 1, 'Success'],
      ['bundle.deleted', 99, 'Delete Bundle', 1, 'Success'],
      ['directory.user.changed', 99, 'Update Directory User', 1, 'Success'],
      ['directory.group.changed', 99, 'Update Directory Group', 1, 'Success'],
    ]);
  });

  it('maps grant.active field by field', () => {
    const ocsf = toOcsf(sample('grant.active'));

    expect(ocsf).toEqual({
      class_uid: 3005,
      class_name: 'User Access Management',
      category_uid: 3,
      category_name: 'Identity & Access Management',
      activity_id: 1,
      activity_name: 'Assign Privileges',
      type_uid: 300501,
      type_name: 'User Access Management: Assign Privileges',
      time: Date.parse('2026-03-03T09:07:00.000Z'),
      timezone_offset: 0,
      severity_id: 1,
      severity: 'Informational',
      status_id: 1,
      status: 'Success',
      status_code: 'ACTIVE',
      message: 'Granted pg-prod/payments/readwrite to alice until 2026-03-03T10:07:00.000Z',
      metadata: {
        version: '1.5.0',
        product: { name: 'Stint', vendor_name: 'Stint' },
        uid: 'request:01JQ8Z3K7M2X4V6B8N0P2R4T6W:6',
        log_name: 'audit',
        original_time: '2026-03-03T09:07:00.000Z',
        correlation_uid: '01JQ8Z3K7M2X4V6B8N0P2R4T6W',
        labels: ['env:prod', 'team:payments'],
      },
      actor: { user: { uid: 'stint:system', name: 'Stint', type_id: 3 }, app_name: 'workflow' },
      user: { uid: 'alice', email_addr: 'alice@example.com', groups: [{ name: 'engineering' }] },
      privileges: ['pg-prod/payments/readwrite'],
      resources: [
        { uid: 'pg-prod/payments', name: 'payments', type: 'Stint Resource', data: { integration_id: 'pg-prod' } },
      ],
      unmapped: {
        stint: {
          event_type: 'grant.active',
          schema_version: 1,
          request_id: '01JQ8Z3K7M2X4V6B8N0P2R4T6W',
          request_version: 6,
          request_status: 'ACTIVE',
          previous_status: 'GRANTING',
          requester: 'alice',
          flow_id: 'prod-db-admin',
          flow_version: 3,
          break_glass: false,
          justification: 'INC-4711: fix stuck payouts in the settlement table',
          duration_minutes: 60,
          created_at: '2026-03-03T09:00:00.000Z',
          approval_deadline: '2026-03-03T10:00:00.000Z',
          granted_at: '2026-03-03T09:07:00.000Z',
          expires_at: '2026-03-03T10:07:00.000Z',
          decision: { outcome: 'approved', by: 'carol', channel: 'api', at: '2026-03-03T09:06:00.000Z' },
          actor_channel: 'workflow',
        },
      },
    });
  });

  it('puts the grantee in user and the person who revoked in actor, with the e-mail the event knows', () => {
    const ocsf = toOcsf(sample('grant.revoking'));

    expect(ocsf.user).toMatchObject({ uid: 'alice', email_addr: 'alice@example.com' });
    expect(ocsf.actor).toEqual({ user: { uid: 'bob', email_addr: 'bob@example.com' }, app_name: 'api' });
    expect(ocsf.status_detail).toBe('Revoked early: Incident closed');
  });

  it('records the vote of an approval and who cast it', () => {
    const ocsf = toOcsf(sample('request.approval_recorded'));

    expect(ocsf.actor?.user).toEqual({ uid: 'bob', email_addr: 'bob@example.com' });
    expect(ocsf.message).toBe('bob voted to approve the request of alice for pg-prod/payments/readwrite');
    expect(ocsf.unmapped?.stint).toMatchObject({
      vote: { by: 'bob', vote: 'approve', reason: 'Matches INC-4711', channel: 'slack' },
    });
  });

  it('says why a request failed, was rejected or ended', () => {
    expect(toOcsf(sample('grant.failed')).status_detail).toBe('role "payments_write" does not exist');
    expect(toOcsf(sample('grant.revoke_failed')).status_detail).toBe(
      'PostgreSQL refused the connection after 12 attempts (ECONNREFUSED)',
    );
    expect(toOcsf(sample('request.rejected')).status_detail).toBe('Use the runbook');
    expect(toOcsf(sample('grant.expired')).status_detail).toBe('Access period ended');
    expect(toOcsf(sample('request.cancelled')).status_detail).toBe('Fixed without access');
  });

  it('maps Stint severities to OCSF severity ids', () => {
    expect(toOcsf(sample('grant.failed'))).toMatchObject({ severity_id: 4, severity: 'High' });
    expect(toOcsf(sample('flow.deleted'))).toMatchObject({ severity_id: 3, severity: 'Medium' });
    expect(toOcsf(sample('request.created'))).toMatchObject({ severity_id: 1, severity: 'Informational' });
  });

  it('lists every unit as a privilege and each resource once', () => {
    const base = GrantActive.parse(samples['grant.active']);
    const event: StintEvent = {
      ...base,
      request: {
        ...base.request,
        units: [
          { integrationId: 'pg-prod', resource: 'payments', permission: 'readonly' },
          { integrationId: 'pg-prod', resource: 'payments', permission: 'readwrite' },
          { integrationId: 'redis-prod', resource: 'cache', permission: 'readonly' },
        ],
      },
    };

    const ocsf = OcsfUserAccessManagement.parse(toOcsf(event));

    expect(ocsf.privileges).toEqual([
      'pg-prod/payments/readonly',
      'pg-prod/payments/readwrite',
      'redis-prod/cache/readonly',
    ]);
    expect(ocsf.resources?.map((r) => r.uid)).toEqual(['pg-prod/payments', 'redis-prod/cache']);
  });

  it('names the admin as user of an admin change, assigns no privilege and lists what changed', () => {
    const ocsf = toOcsf(sample('bundle.updated'));

    expect(ocsf.user).toEqual({ uid: 'dana' });
    expect(ocsf.actor).toEqual({ user: { uid: 'dana' }, app_name: 'admin' });
    expect(ocsf.privileges).toEqual([]);
    expect(ocsf.resources).toEqual([{ uid: 'bundle:payments-oncall', name: 'Payments on-call', type: 'Stint Bundle' }]);
    expect(ocsf.status_detail).toBe('On-call is read-only now');
    expect(ocsf.unmapped?.stint).toMatchObject({ entity_kind: 'bundle', entity_version: 2, changed_fields: ['units'] });
  });

  it('labels flow events with the flow labels and marks deletions', () => {
    const ocsf = toOcsf(sample('flow.deleted'));

    expect(ocsf.metadata.labels).toEqual(['env:prod', 'team:payments']);
    expect(ocsf.metadata.correlation_uid).toBe('flow:prod-db-admin');
    expect(ocsf.unmapped?.stint).toMatchObject({ deleted: true, changed_fields: ['deleted'] });
  });

  it('never carries task tokens, sealed credentials or an integration secret reference', () => {
    const all = JSON.stringify(EVENT_TYPES.map((type) => toOcsf(samples[type])));

    for (const secret of [APPROVAL_TOKEN, ACTIVE_TOKEN, SEALED_SECRET, integration().secretRef]) {
      expect(all).not.toContain(secret);
    }
  });
});

describe('OcsfUserAccessManagement validator', () => {
  const valid = (): Record<string, unknown> => structuredClone(toOcsf(sample('grant.revoked')));

  it('accepts a mapped event (the control for the cases below)', () => {
    expect(issuePaths(valid())).toEqual([]);
  });

  it('rejects an event without the required user', () => {
    const event = valid();
    delete event.user;

    expect(issuePaths(event)).toEqual(['user']);
  });

  it.each([
    ['time'],
    ['class_uid'],
    ['category_uid'],
    ['activity_id'],
    ['severity_id'],
    ['metadata'],
    ['privileges'],
    ['type_uid'],
  ])('rejects an event without the required %s', (field) => {
    const event = valid();
    delete event[field];

    expect(issuePaths(event)).toContain(field);
  });

  it('rejects metadata without the schema version or the product vendor', () => {
    const event = valid();
    const metadata = structuredClone(toOcsf(sample('grant.revoked')).metadata);
    const { version: _version, ...withoutVersion } = metadata;
    const { vendor_name: _vendor, ...productWithoutVendor } = metadata.product;

    expect(issuePaths({ ...event, metadata: withoutVersion })).toEqual(['metadata.version']);
    expect(issuePaths({ ...event, metadata: { ...metadata, product: productWithoutVendor } })).toEqual([
      'metadata.product.vendor_name',
    ]);
    expect(issuePaths({ ...event, metadata: { ...metadata, version: 'v1' } })).toEqual(['metadata.version']);
  });

  it.each([
    ['severity_id', 7],
    ['activity_id', 3], // Assign Role exists only from OCSF 1.9.0
    ['status_id', 3],
    ['class_uid', 3004],
    ['category_uid', 2],
  ])('rejects %s = %s, outside the OCSF enum', (field, value) => {
    const event = valid();
    event[field] = value;

    expect(issuePaths(event)).toContain(field);
  });

  it('rejects a type_uid that is not class_uid * 100 + activity_id', () => {
    const event = { ...valid(), type_uid: 300501 };

    expect(issuePaths(event)).toEqual(['type_uid']);
  });

  it('rejects captions that contradict their ids', () => {
    expect(issuePaths({ ...valid(), activity_name: 'Assign Privileges' })).toEqual(['activity_name']);
    expect(issuePaths({ ...valid(), status: 'Failure' })).toEqual(['status']);
    expect(issuePaths({ ...valid(), severity: 'High' })).toEqual(['severity']);
    expect(issuePaths({ ...valid(), type_name: 'User Access Management: Other' })).toEqual(['type_name']);
  });

  it('requires activity_name when the activity is Other (99)', () => {
    const event: Record<string, unknown> = {
      ...valid(),
      activity_id: 99,
      type_uid: 300599,
      type_name: 'User Access Management: Other',
    };
    delete event.activity_name;

    expect(issuePaths(event)).toEqual(['activity_name']);
  });

  it('enforces the at_least_one constraints of user, actor and resource', () => {
    expect(issuePaths({ ...valid(), user: { email_addr: 'alice@example.com' } })).toEqual(['user']);
    expect(issuePaths({ ...valid(), actor: {} })).toEqual(['actor']);
    expect(issuePaths({ ...valid(), resources: [{ type: 'Stint Resource' }] })).toEqual(['resources.0']);
  });

  it('rejects a malformed e-mail address and an attribute outside the class', () => {
    expect(issuePaths({ ...valid(), user: { uid: 'alice', email_addr: 'not-an-address' } })).toEqual([
      'user.email_addr',
    ]);
    expect(issuePaths({ ...valid(), approvalToken: APPROVAL_TOKEN })).toEqual(['']);
  });
});

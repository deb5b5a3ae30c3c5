import { describe, expect, it } from 'vitest';
import { Bundle } from '#lib/domain/bundle.ts';
import { buildRequest, CreateRequestInput, isRequestor } from '#lib/domain/create-request.ts';
import { DomainError, ForbiddenError, NotFoundError, PolicyError, ValidationError } from '#lib/domain/errors.ts';
import type { AccessFlow } from '#lib/domain/flow.ts';
import type { Identity } from '#lib/domain/identity.ts';
import { Integration } from '#lib/domain/integration.ts';
import { AccessRequest } from '#lib/domain/request.ts';
import { alice, flow, identity, integrations, mallory, NOW, opsBundle } from './fixtures.ts';

type Ctx = Parameters<typeof buildRequest>[1];

function build(
  f: AccessFlow,
  input: Partial<CreateRequestInput> = {},
  ctx: Partial<Ctx> = {},
): ReturnType<typeof buildRequest> {
  return buildRequest(
    { flowId: f.id, durationMinutes: 30, justification: 'incident 42', ...input },
    { id: 'req-1', requester: alice, isAdmin: false, flow: f, integrations, now: NOW, channel: 'api', ...ctx },
  );
}

function failure(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a domain error, got none');
}

const twoTargets = {
  targets: [
    { integrationId: 'pg', resource: 'app', permission: 'readonly' },
    { integrationId: 'pg', resource: 'billing', permission: 'readonly' },
  ],
};

describe('CreateRequestInput', () => {
  it('accepts the documented body', () => {
    const input = CreateRequestInput.parse({
      flowId: 'db-admin',
      durationMinutes: 30,
      justification: '  incident 42  ',
      targets: [{ resource: 'app', permission: 'readonly' }],
    });
    expect(input.justification).toBe('incident 42');
  });

  it('refuses targets and a bundle together, naming the bundle', () => {
    const result = CreateRequestInput.safeParse({
      flowId: 'db-admin',
      durationMinutes: 30,
      targets: [{ resource: 'app', permission: 'readonly' }],
      bundle: 'ops',
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path)).toEqual([['bundle']]);
  });

  it.each([
    ['unknown field (zod reports it on the object, with the key)', { surprise: true }, []],
    ['zero duration', { durationMinutes: 0 }, ['durationMinutes']],
    ['fractional duration', { durationMinutes: 1.5 }, ['durationMinutes']],
    ['blank justification', { justification: '   ' }, ['justification']],
    ['empty targets', { targets: [] }, ['targets']],
    ['bad grantee email', { grantee: { sub: 'x', email: 'nope' } }, ['grantee', 'email']],
  ])('refuses %s', (_, patch, path) => {
    const result = CreateRequestInput.safeParse({ flowId: 'db-admin', durationMinutes: 30, ...patch });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(path);
  });
});

describe('isRequestor', () => {
  const restricted = flow({ requestors: { users: ['alice'], groups: ['oncall'] } });
  it.each<[string, Identity, AccessFlow, boolean]>([
    ['anyone when everyone may ask', mallory, flow(), true],
    ['a listed user', alice, restricted, true],
    ['a member of a listed group', identity('zed', ['oncall']), restricted, true],
    ['someone else', mallory, restricted, false],
  ])('%s → %s', (_, who, f, expected) => {
    expect(isRequestor(f, who)).toBe(expected);
  });
});

describe('buildRequest', () => {
  it('builds a PENDING request under a manual flow, pinning the flow', () => {
    const f = flow();
    const request = build(f);
    expect(AccessRequest.parse(request)).toEqual(request);
    expect(request).toEqual({
      id: 'req-1',
      tickets: {},
      requester: alice,
      grantee: alice,
      flowId: 'db-admin',
      flowVersion: 3,
      flow: f,
      units: [{ integrationId: 'pg', resource: 'app', permission: 'readwrite' }],
      unitTypes: ['postgresql'],
      justification: 'incident 42',
      durationMinutes: 30,
      status: 'PENDING',
      votes: [],
      createdAt: NOW.toISOString(),
      approvalDeadline: new Date(NOW.getTime() + 30 * 60_000).toISOString(),
      extensions: [],
      grants: [],
      attempt: 0,
      created: { by: 'alice', channel: 'api', action: 'create', at: NOW.toISOString() },
      lastChange: { by: 'alice', channel: 'api', action: 'create', at: NOW.toISOString() },
      version: 1,
    });
  });

  it('auto-approves a self-serve flow with a system decision and no deadline', () => {
    const request = build(flow({ approval: { mode: 'auto' } }));
    expect(request.status).toBe('APPROVED');
    expect(request.decision).toMatchObject({ outcome: 'auto', by: 'stint:system', at: NOW.toISOString() });
    expect(request.approvalDeadline).toBeUndefined();
  });

  it('auto-approves a break-glass flow even though it names approvers', () => {
    const request = build(flow({ breakGlass: true, justificationRequired: false }));
    expect(request.status).toBe('APPROVED');
    expect(request.decision?.outcome).toBe('auto');
  });

  it('grants the requester unless an admin names someone else', () => {
    const forGina = build(flow(), { grantee: { sub: 'gina', email: 'gina@example.com' } }, { isAdmin: true });
    expect(forGina.grantee).toEqual({ sub: 'gina', email: 'gina@example.com', groups: [] });
    expect(forGina.requester).toEqual(alice);
    const self = build(flow(), { grantee: { sub: 'alice', email: 'alice@example.com' } });
    expect(self.grantee).toEqual(alice);
  });

  it('refuses an on-behalf request for a grantee who is not a requestor of the flow, naming the grantee', () => {
    const engineeringOnly = flow({ requestors: { everyone: false, users: [], groups: ['engineering'] } });
    const adminInEngineering = identity('root', ['engineering']);
    const gina = { sub: 'gina', email: 'gina@example.com' };

    const outsider = failure(() =>
      build(
        engineeringOnly,
        { grantee: gina },
        { requester: adminInEngineering, isAdmin: true, grantee: { ...gina, groups: ['sales'] } },
      ),
    );
    expect(outsider).toBeInstanceOf(ForbiddenError);
    expect(outsider.field).toBe('grantee');
    // Unknown to the directory: no groups, so a group-only flow cannot admit them either.
    expect(
      failure(() => build(engineeringOnly, { grantee: gina }, { requester: adminInEngineering, isAdmin: true })),
    ).toBeInstanceOf(ForbiddenError);

    const member = build(
      engineeringOnly,
      { grantee: gina },
      { requester: adminInEngineering, isAdmin: true, grantee: { ...gina, groups: ['engineering'] } },
    );
    expect(member.grantee).toEqual({ ...gina, groups: ['engineering'] });
    expect(member.requester).toEqual(adminInEngineering);
  });

  it('admits an on-behalf grantee named in the flow’s users', () => {
    const forGina = flow({ requestors: { everyone: false, users: ['gina'], groups: ['engineering'] } });
    const request = build(
      forGina,
      { grantee: { sub: 'gina', email: 'gina@example.com' } },
      { requester: identity('root', ['engineering']), isAdmin: true },
    );
    expect(request.grantee.sub).toBe('gina');
  });

  it('omits the justification when none is required nor given', () => {
    const request = build(flow({ justificationRequired: false }), { justification: undefined });
    expect('justification' in request).toBe(false);
  });

  it('resolves the requested targets against the flow', () => {
    const f = flow(twoTargets);
    const request = build(f, {
      targets: [
        { resource: 'billing', permission: 'readonly' },
        { resource: 'app', permission: 'readonly', integrationId: 'pg' },
      ],
    });
    expect(request.units).toEqual([
      { integrationId: 'pg', resource: 'billing', permission: 'readonly' },
      { integrationId: 'pg', resource: 'app', permission: 'readonly' },
    ]);
  });

  it('uses integrationId to choose between two integrations offering the same resource', () => {
    const f = flow({
      targets: [
        { integrationId: 'pg', resource: 'app', permission: 'readonly' },
        { integrationId: 'pg2', resource: 'app', permission: 'readonly' },
      ],
    });
    const request = build(f, { targets: [{ resource: 'app', permission: 'readonly', integrationId: 'pg2' }] });
    expect(request.units).toEqual([{ integrationId: 'pg2', resource: 'app', permission: 'readonly' }]);
  });

  it('takes the units of a bundle the flow offers', () => {
    const request = build(flow({ bundles: ['ops'] }), { bundle: 'ops' }, { bundle: opsBundle });
    expect(request.bundle).toBe('ops');
    expect(request.units).toEqual(opsBundle.units);
  });

  it('accepts a request inside working hours', () => {
    const f = flow({ workingHours: { timezone: 'UTC', days: [3], start: '09:00', end: '17:00' } });
    expect(build(f).status).toBe('PENDING');
  });

  it('lets break-glass requests through outside working hours', () => {
    const f = flow({ breakGlass: true, workingHours: { timezone: 'UTC', days: [6], start: '09:00', end: '10:00' } });
    expect(build(f).status).toBe('APPROVED');
  });

  const offHours = { timezone: 'Asia/Tokyo', days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' }; // 19:00 in Tokyo
  const pgWithout = (mutate: (i: Integration) => Integration) =>
    new Map([...integrations].map(([id, i]) => [id, id === 'pg' ? mutate(i) : i]));
  const noPermission = pgWithout((i) =>
    Integration.parse({ ...i, resources: [{ id: 'app', permissions: [{ id: 'readonly', grants: ['r'] }] }] }),
  );
  const noResource = pgWithout((i) =>
    Integration.parse({ ...i, resources: [{ id: 'other', permissions: i.resources[0]?.permissions }] }),
  );

  it.each<[string, () => unknown, new (...args: never[]) => DomainError, string | undefined]>([
    ['a deleted flow', () => build(flow({ deleted: true })), NotFoundError, 'flowId'],
    ['a flow other than the one asked for', () => build(flow(), { flowId: 'other' }), NotFoundError, 'flowId'],
    [
      'a requester who is not a requestor',
      () => build(flow({ requestors: { groups: ['oncall'] } })),
      ForbiddenError,
      'flowId',
    ],
    [
      'a grantee other than the requester, by a non-admin',
      () => build(flow(), { grantee: { sub: 'gina', email: 'gina@example.com' } }),
      ForbiddenError,
      'grantee',
    ],
    [
      'a duration over the maximum',
      () => build(flow({ maxMinutes: 20, defaultMinutes: 10 })),
      PolicyError,
      'durationMinutes',
    ],
    ['no justification when required', () => build(flow(), { justification: undefined }), PolicyError, 'justification'],
    [
      'no justification on a break-glass flow',
      () => build(flow({ breakGlass: true, justificationRequired: false }), { justification: undefined }),
      PolicyError,
      'justification',
    ],
    ['a request outside working hours', () => build(flow({ workingHours: offHours })), PolicyError, undefined],
    ['targets omitted with several targets', () => build(flow(twoTargets)), ValidationError, 'targets'],
    [
      'targets omitted with one target and a bundle',
      () => build(flow({ bundles: ['ops'] })),
      ValidationError,
      'targets',
    ],
    [
      'a target the flow does not offer',
      () =>
        build(flow(twoTargets), {
          targets: [
            { resource: 'app', permission: 'readonly' },
            { resource: 'app', permission: 'readwrite' },
          ],
        }),
      PolicyError,
      'targets.1.permission',
    ],
    [
      'a target on another integration than the flow offers',
      () => build(flow(), { targets: [{ resource: 'app', permission: 'readwrite', integrationId: 'pg2' }] }),
      PolicyError,
      'targets.0.integrationId',
    ],
    [
      'an ambiguous target',
      () =>
        build(
          flow({
            targets: [
              { integrationId: 'pg', resource: 'app', permission: 'readonly' },
              { integrationId: 'pg2', resource: 'app', permission: 'readonly' },
            ],
          }),
          { targets: [{ resource: 'app', permission: 'readonly' }] },
        ),
      ValidationError,
      'targets.0.integrationId',
    ],
    [
      'the same target twice',
      () =>
        build(flow(twoTargets), {
          targets: [
            { resource: 'billing', permission: 'readonly' },
            { resource: 'billing', permission: 'readonly' },
          ],
        }),
      ValidationError,
      'targets.1',
    ],
    [
      'a bundle the flow does not offer',
      () => build(flow(), { bundle: 'ops' }, { bundle: opsBundle }),
      PolicyError,
      'bundle',
    ],
    ['a bundle not found', () => build(flow({ bundles: ['ops'] }), { bundle: 'ops' }), NotFoundError, 'bundle'],
    [
      'a deleted bundle',
      () =>
        build(flow({ bundles: ['ops'] }), { bundle: 'ops' }, { bundle: Bundle.parse({ ...opsBundle, deleted: true }) }),
      NotFoundError,
      'bundle',
    ],
    [
      'a different bundle in the context',
      () => build(flow({ bundles: ['ops'] }), { bundle: 'ops' }, { bundle: Bundle.parse({ ...opsBundle, id: 'dev' }) }),
      NotFoundError,
      'bundle',
    ],
    [
      'a bundle unit whose integration is missing',
      () => build(flow({ bundles: ['ops'] }), { bundle: 'ops' }, { bundle: opsBundle, integrations: new Map() }),
      NotFoundError,
      'bundle',
    ],
    [
      'the only target of a missing integration',
      () => build(flow(), {}, { integrations: new Map() }),
      NotFoundError,
      'targets',
    ],
    [
      'a target of a deleted integration',
      () =>
        build(
          flow(),
          { targets: [{ resource: 'app', permission: 'readwrite' }] },
          { integrations: pgWithout((i) => ({ ...i, deleted: true })) },
        ),
      NotFoundError,
      'targets.0',
    ],
    [
      'a target whose resource the integration no longer has',
      () => build(flow(), { targets: [{ resource: 'app', permission: 'readwrite' }] }, { integrations: noResource }),
      NotFoundError,
      'targets.0.resource',
    ],
    [
      'a target whose permission the integration no longer offers',
      () => build(flow(), { targets: [{ resource: 'app', permission: 'readwrite' }] }, { integrations: noPermission }),
      NotFoundError,
      'targets.0.permission',
    ],
  ])('refuses %s', (_, act, kind, field) => {
    const error = failure(act);
    expect(error).toBeInstanceOf(kind);
    expect(error.field).toBe(field);
  });

  it('says the working-hours window in the refusal', () => {
    const error = failure(() => build(flow({ workingHours: offHours })));
    expect(error.message).toContain('09:00–17:00 (Asia/Tokyo)');
  });

  it('says the limit when the duration is too long', () => {
    expect(failure(() => build(flow(), { durationMinutes: 61 })).message).toContain('60 minutes');
  });

  it('lets an admin request only under flows they are a requestor of', () => {
    const f = flow({ requestors: { groups: ['oncall'] } });
    expect(failure(() => build(f, {}, { isAdmin: true, requester: identity('root', ['admins']) }))).toBeInstanceOf(
      ForbiddenError,
    );
  });
});

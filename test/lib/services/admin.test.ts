import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BundleInput } from '#lib/domain/bundle.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '#lib/domain/errors.ts';
import { FlowInput } from '#lib/domain/flow.ts';
import { IntegrationInput } from '#lib/domain/integration.ts';
import { integrationChecks } from '#lib/integrations/checks/registry.ts';
import { AdminService } from '#lib/services/admin.ts';
import { RequestService } from '#lib/services/requests.ts';
import { Store } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { anIdentity } from '../../support/fixtures.ts';
import { RecordingExecutions } from '../../support/recording-executions.ts';
import { LOCAL_SECRETS, ROLES, TestClock } from '../../support/services.ts';

const admin = anIdentity({ sub: 'root', groups: [ROLES.adminGroup] });
const auditor = anIdentity({ sub: 'watcher', groups: [ROLES.auditorGroup] });
const alice = anIdentity({ sub: 'alice', groups: ['dev'] });
const bob = anIdentity({ sub: 'bob', groups: ['sales'] });

const integrationInput = IntegrationInput.parse({
  name: 'Application database',
  type: 'postgresql',
  config: { host: 'db.internal', port: 5432, database: 'postgres' },
  secretRef: 'env:PG_ADMIN',
  resources: [{ id: 'app', permissions: [{ id: 'readonly', grants: ['app_readonly'] }] }],
});

function flowInput(overrides: Record<string, unknown> = {}): FlowInput {
  return FlowInput.parse({
    name: 'Read-only',
    requestors: { everyone: true },
    targets: [{ integrationId: 'pg', resource: 'app', permission: 'readonly' }],
    approval: { mode: 'auto' },
    defaultMinutes: 15,
    maxMinutes: 60,
    ...overrides,
  });
}

let table: LocalTable;
let store: Store;
let service: AdminService;

beforeEach(async () => {
  table = await startDynalite();
  const clock = new TestClock('2030-01-15T10:00:00.000Z');
  store = new Store(table.doc, table.tableName, { now: clock.now });
  service = new AdminService({ store, roles: ROLES, now: clock.now, secretRefMode: LOCAL_SECRETS });
  await service.putIntegration('pg', integrationInput, admin, 'api', integrationChecks);
});
afterEach(async () => {
  await table.stop();
});

async function fieldOf(promise: Promise<unknown>): Promise<{ error: unknown; field: string | undefined }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, field: error instanceof ValidationError ? error.field : undefined };
}

describe('admin only', () => {
  it.each([
    ['an auditor', auditor],
    ['a requester', alice],
  ])('refuses %s every configuration call', async (_who, who) => {
    const calls: Promise<unknown>[] = [
      service.putFlow('f', flowInput(), who, 'api'),
      service.putIntegration('pg2', integrationInput, who, 'api', integrationChecks),
      service.putBundle('b', BundleInput.parse({ name: 'B', units: flowInput().targets }), who, 'api'),
      service.get('integration', 'pg', who),
      service.list('flow', who, {}),
      service.remove('integration', 'pg', who, 'api'),
    ];
    for (const call of calls) await expect(call).rejects.toBeInstanceOf(ForbiddenError);
    expect(await store.getFlow('f')).toBeUndefined();
    expect(await store.getIntegration('pg')).toBeDefined();
  });
});

describe('putFlow', () => {
  it('stores a flow with its version and who changed it', async () => {
    const first = await service.putFlow('read', flowInput(), admin, 'api');
    const second = await service.putFlow('read', flowInput({ maxMinutes: 90 }), admin, 'portal');

    expect(first).toMatchObject({ id: 'read', version: 1, lastChange: { by: 'root', channel: 'api', action: 'put' } });
    expect(second).toMatchObject({ version: 2, maxMinutes: 90, lastChange: { channel: 'portal' } });
    expect(await service.get('flow', 'read', admin)).toEqual(second);
  });

  it.each([
    ['integration', { integrationId: 'nope', resource: 'app', permission: 'readonly' }, 'body.targets.1.integrationId'],
    ['resource', { integrationId: 'pg', resource: 'nope', permission: 'readonly' }, 'body.targets.1.resource'],
    ['permission', { integrationId: 'pg', resource: 'app', permission: 'nope' }, 'body.targets.1.permission'],
  ])('refuses a target naming a missing %s, naming the field', async (_what, target, field) => {
    const input = flowInput({ targets: [{ integrationId: 'pg', resource: 'app', permission: 'readonly' }, target] });

    const result = await fieldOf(service.putFlow('read', input, admin, 'api'));

    expect(result.error).toBeInstanceOf(ValidationError);
    expect(result.field).toBe(field);
    expect(await store.getFlow('read')).toBeUndefined();
  });

  it('refuses a flow offering a bundle that does not exist', async () => {
    const result = await fieldOf(service.putFlow('read', flowInput({ bundles: ['ghost'] }), admin, 'api'));

    expect(result.error).toBeInstanceOf(ValidationError);
    expect(result.field).toBe('body.bundles.0');
  });
});

describe('putIntegration', () => {
  it.each([
    ['without the admin database', { host: 'db.internal' }, 'body.config.database'],
    ['with an unknown setting', { host: 'db.internal', database: 'postgres', colour: 'blue' }, 'body.config.colour'],
    [
      'with a port that is not a number',
      { host: 'db.internal', database: 'postgres', port: '5432' },
      'body.config.port',
    ],
  ])('refuses a postgresql config %s, naming the field', async (_case, config, field) => {
    const result = await fieldOf(
      service.putIntegration('pg2', { ...integrationInput, config }, admin, 'api', integrationChecks),
    );

    expect(result.error).toBeInstanceOf(ValidationError);
    expect(result.field).toBe(field);
    expect(await store.getIntegration('pg2')).toBeUndefined();
  });

  describe('secretRef by mode', () => {
    const inAws = () => new AdminService({ store, roles: ROLES, secretRefMode: { local: false, prefix: 'stint/' } });
    const arn = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-AbCdEf`;

    it.each([
      ['env:', 'env:AWS_SECRET_ACCESS_KEY'],
      ['file:', 'file:/proc/self/environ'],
      ['an ARN outside the prefix', arn('prod/other-team-db')],
      ['an ARN whose name only contains the prefix', arn('x-stint/pg')],
    ])('in AWS refuses %s with a 400 on body.secretRef and stores nothing', async (_case, secretRef) => {
      const result = await fieldOf(
        inAws().putIntegration('pg2', { ...integrationInput, secretRef }, admin, 'api', integrationChecks),
      );

      expect(result.error).toBeInstanceOf(ValidationError);
      expect(result.field).toBe('body.secretRef');
      expect(await store.getIntegration('pg2')).toBeUndefined();
    });

    it('in AWS accepts a Secrets Manager ARN under the prefix', async () => {
      const secretRef = arn('stint/pg-admin');
      const stored = await inAws().putIntegration(
        'pg2',
        { ...integrationInput, secretRef },
        admin,
        'api',
        integrationChecks,
      );

      expect(stored.secretRef).toBe(secretRef);
    });

    it('locally accepts env: and file: references', async () => {
      for (const secretRef of ['env:PG_ADMIN', 'file:/run/secrets/pg.json']) {
        expect(
          (await service.putIntegration('pg2', { ...integrationInput, secretRef }, admin, 'api', integrationChecks))
            .secretRef,
        ).toBe(secretRef);
      }
    });
  });

  it('checks the config of each type against its own driver, naming the field', async () => {
    // A PostgreSQL config (with `database`, no `tls`) is not a valid mysql config.
    const result = await fieldOf(
      service.putIntegration('my', { ...integrationInput, type: 'mysql' }, admin, 'api', integrationChecks),
    );

    expect(result.error).toBeInstanceOf(ValidationError);
    expect(result.field).toMatch(/^body\.config\./);
  });
});

describe('putBundle', () => {
  it('refuses a unit the integration does not offer, naming the field', async () => {
    const input = BundleInput.parse({
      name: 'On-call',
      units: [{ integrationId: 'pg', resource: 'app', permission: 'admin' }],
    });

    const result = await fieldOf(service.putBundle('oncall', input, admin, 'api'));

    expect(result.error).toBeInstanceOf(ValidationError);
    expect(result.field).toBe('body.units.0.permission');
  });
});

describe('catalog', () => {
  it('lists only the flows the caller may request under', async () => {
    await service.putFlow('everyone', flowInput(), admin, 'api');
    await service.putFlow('devs', flowInput({ requestors: { groups: ['dev'] } }), admin, 'api');
    await service.putFlow('bob-only', flowInput({ requestors: { users: ['bob'] } }), admin, 'api');

    expect((await service.catalog(alice)).map((f) => f.id).sort()).toEqual(['devs', 'everyone']);
    expect((await service.catalog(bob)).map((f) => f.id).sort()).toEqual(['bob-only', 'everyone']);
  });
});

describe('remove', () => {
  it('hides a deleted flow from get, list, the catalog and new requests', async () => {
    await service.putFlow('keep', flowInput(), admin, 'api');
    await service.putFlow('gone', flowInput(), admin, 'api');

    await service.remove('flow', 'gone', admin, 'api');

    await expect(service.get('flow', 'gone', admin)).rejects.toBeInstanceOf(NotFoundError);
    expect((await service.list('flow', admin, {})).items.map((f) => f.id)).toEqual(['keep']);
    expect((await service.catalog(alice)).map((f) => f.id)).toEqual(['keep']);
    const requests = new RequestService({ store, executions: new RecordingExecutions(), roles: ROLES });
    const error = await requests
      .create({ flowId: 'gone', durationMinutes: 10, justification: 'x' }, alice, 'api')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ field: 'flowId' });
    await expect(service.remove('flow', 'gone', admin, 'api')).rejects.toBeInstanceOf(NotFoundError);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryStore } from '#lib/directory/store.ts';
import { ForbiddenError, ValidationError } from '#lib/domain/errors.ts';
import { RequestService } from '#lib/services/requests.ts';
import { Store } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aFlow, anIdentity, anIntegration } from '../../support/fixtures.ts';
import { RecordingExecutions } from '../../support/recording-executions.ts';
import { ROLES, seedFlow, seedIntegration, TestClock } from '../../support/services.ts';

/** An admin asks on someone's behalf: the grantee must be a requestor of the flow, judged on their own groups. */
const engineeringOnly = aFlow({
  id: 'engineering-db',
  requestors: { everyone: false, users: [], groups: ['engineering'] },
  approval: { mode: 'auto' },
});
const scim = { by: 'scim', channel: 'scim' } as const;
const root = anIdentity({ sub: 'root', groups: [ROLES.adminGroup, 'engineering'] });

let table: LocalTable;
let store: Store;
let directory: DirectoryStore;
let service: RequestService;

beforeEach(async () => {
  table = await startDynalite();
  const clock = new TestClock('2030-01-15T10:00:00.000Z');
  store = new Store(table.doc, table.tableName, { now: clock.now });
  directory = new DirectoryStore(table.doc, table.tableName);
  service = new RequestService({
    store,
    executions: new RecordingExecutions(),
    roles: ROLES,
    now: clock.now,
    directory,
  });
  await seedIntegration(store, anIntegration());
  await seedFlow(store, engineeringOnly);
  for (const id of ['erin', 'sam']) {
    await directory.createUser({ userName: `${id}@example.com`, emails: [`${id}@example.com`] }, scim, { id });
  }
  await directory.createGroup({ displayName: 'engineering', members: ['erin'] }, scim);
  await directory.createGroup({ displayName: 'sales', members: ['sam'] }, scim);
});
afterEach(async () => {
  await table.stop();
});

const onBehalfOf = (sub: string, email = `${sub}@example.com`) => ({
  flowId: engineeringOnly.id,
  durationMinutes: 15,
  justification: 'pairing',
  grantee: { sub, email },
});

describe('on-behalf requests', () => {
  it('grants a grantee whose directory groups make them a requestor, recording requester and grantee', async () => {
    const request = await service.create(onBehalfOf('erin'), root, 'api');

    expect(request.requester.sub).toBe('root');
    expect(request.grantee).toMatchObject({ sub: 'erin', email: 'erin@example.com', groups: ['engineering'] });
    expect((await store.getRequest(request.id))?.grantee.sub).toBe('erin');
  });

  it('refuses a grantee outside the flow’s requestors even though the admin is one, and stores nothing', async () => {
    const refused = service.create(onBehalfOf('sam'), root, 'api');

    await expect(refused).rejects.toBeInstanceOf(ForbiddenError);
    await expect(refused).rejects.toMatchObject({ field: 'grantee' });
    expect((await store.listAllRequests({})).items).toEqual([]);
  });

  it('refuses a grantee the directory does not know when only groups admit requestors', async () => {
    await expect(service.create(onBehalfOf('nobody'), root, 'api')).rejects.toMatchObject({ field: 'grantee' });
  });

  it('refuses a deactivated grantee and an email the directory does not have for them', async () => {
    await expect(service.create(onBehalfOf('erin', 'someone-else@example.com'), root, 'api')).rejects.toBeInstanceOf(
      ValidationError,
    );
    await directory.updateUser('erin', (u) => ({ userName: u.userName, emails: u.emails, active: false }), scim);
    await expect(service.create(onBehalfOf('erin'), root, 'api')).rejects.toBeInstanceOf(ForbiddenError);
  });
});

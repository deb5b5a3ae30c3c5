import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DomainError } from '#lib/domain/errors.ts';
import type { Identity } from '#lib/domain/identity.ts';
import type { AccessRequest } from '#lib/domain/request.ts';
import { RequestService } from '#lib/services/requests.ts';
import { Store } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aFlow, anIdentity, anIntegration, aRequest } from '../../support/fixtures.ts';
import { RecordingExecutions } from '../../support/recording-executions.ts';
import { ROLES, seedFlow, seedIntegration, TestClock } from '../../support/services.ts';

/** A caller who may not see a request learns nothing from any route of it: they get what a missing id gets. */
const alice = anIdentity({ sub: 'alice' });
const bob = anIdentity({ sub: 'bob', groups: ['sales'] });
const flow = aFlow({ maxExtensions: 2 });

let table: LocalTable;
let store: Store;
let executions: RecordingExecutions;
let service: RequestService;

beforeEach(async () => {
  table = await startDynalite();
  const clock = new TestClock('2030-01-15T10:00:00.000Z');
  store = new Store(table.doc, table.tableName, { now: clock.now });
  executions = new RecordingExecutions();
  service = new RequestService({ store, executions, roles: ROLES, now: clock.now });
  await seedIntegration(store, anIntegration());
  await seedFlow(store, flow);
});
afterEach(async () => {
  await table.stop();
});

type Route = [name: string, call: (id: string, who: Identity) => Promise<unknown>];
const routes: Route[] = [
  ['get', (id, who) => service.get(id, who)],
  ['approve', (id, who) => service.decide(id, who, { vote: 'approve', channel: 'api' })],
  ['reject', (id, who) => service.decide(id, who, { vote: 'reject', reason: 'no', channel: 'api' })],
  ['cancel', (id, who) => service.cancel(id, who, { channel: 'api' })],
  ['revoke', (id, who) => service.revoke(id, who, { channel: 'api' })],
  ['extend', (id, who) => service.extend(id, who, { minutes: 5, channel: 'api' })],
  ['access', (id, who) => service.access(id, who)],
];

/** What the call was refused with, as the API would show it (status, type, field, detail), with the id masked. */
async function refusal(call: () => Promise<unknown>, id: string) {
  try {
    await call();
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return { status: error.status, type: error.type, field: error.field, detail: error.message.replaceAll(id, '<id>') };
  }
  throw new Error('expected a refusal, the call succeeded');
}

async function stored(overrides: Partial<AccessRequest>): Promise<AccessRequest> {
  const request = aRequest({ requester: alice, grantee: alice, flow, flowId: flow.id, ...overrides });
  await store.createRequest(request);
  return request;
}

describe.each([
  ['PENDING', { status: 'PENDING', approvalDeadline: '2030-01-15T11:00:00.000Z', approvalToken: 'approval-token' }],
  [
    'ACTIVE',
    {
      status: 'ACTIVE',
      grantedAt: '2030-01-15T10:00:00.000Z',
      expiresAt: '2030-01-15T10:30:00.000Z',
      enforcedExpiresAt: '2030-01-15T10:30:00.000Z',
      activeToken: 'active-token',
    },
  ],
] as const)('a %s request someone else may not see', (_status, overrides) => {
  it.each(routes)('%s answers exactly as for an id that does not exist, and changes nothing', async (_name, call) => {
    const request = await stored(overrides);
    const missing = '01J00000000000000000000000';

    const forInvisible = await refusal(() => call(request.id, bob), request.id);
    const forMissing = await refusal(() => call(missing, bob), missing);

    expect(forInvisible).toEqual(forMissing);
    expect(forInvisible.status).toBe(404);
    const after = await store.getRequest(request.id);
    expect(after?.version).toBe(request.version);
    expect(executions.resumes).toEqual([]);
    expect(executions.fails).toEqual([]);
  });
});

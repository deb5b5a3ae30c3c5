import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '#lib/store/store.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';
import { aBundle, aChange, aFlow, anIdentity, anIntegration, aRequest } from '../../support/fixtures.ts';

let table: LocalTable;
const sent: string[] = [];

beforeAll(async () => {
  table = await startDynalite();
  // Every command any store method sends goes through this stack, whatever document-client command wraps it.
  table.doc.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(context.commandName ?? 'unknown');
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
});
afterAll(async () => {
  await table.stop();
});

describe('store', () => {
  it('reaches every access pattern without sending a Scan', async () => {
    const store = new Store(table.doc, table.tableName);
    const change = aChange();
    const { id: flowId, version: _fv, lastChange: _fc, deleted: _fd, ...flow } = aFlow();
    const { id: integrationId, version: _iv, lastChange: _ic, deleted: _id, ...integration } = anIntegration();
    const { id: bundleId, version: _bv, lastChange: _bc, deleted: _bd, ...bundle } = aBundle();
    const request = aRequest({ createdAt: new Date().toISOString() });
    const unit = request.units[0] ?? { integrationId: 'pg', resource: 'app', permission: 'readonly' };

    await store.createRequest(request);
    await store.getRequest(request.id);
    const saved = await store.saveRequest({ ...request, justification: 'edited' }, 1);
    await store.updateRequest(request.id, (r) => ({ ...r, justification: 'again' }));
    await store.listRequestsByRequester(request.requester.sub, { status: 'PENDING' });
    const approver = anIdentity({ sub: 'approver-1', groups: ['dba'] });
    await store.listRequestsAwaitingApprover(approver, {});
    const onCallShift = { provider: 'pagerduty', schedule: 'PSCHED', email: approver.email, start: null, end: null };
    await store.listRequestsAwaitingApprover(
      approver,
      {},
      new Map([['oncall:pagerduty:schedule:PSCHED', { shifts: [onCallShift] }]]),
    );
    await store.listRequestsByStatus('PENDING', { dueBefore: new Date().toISOString() });
    await store.listAllRequests({ status: 'PENDING' });
    await store.putFlow(flowId, flow, change);
    await store.getFlow(flowId);
    await store.listFlows();
    await store.deleteFlow(flowId, change);
    await store.putIntegration(integrationId, integration, change);
    await store.getIntegration(integrationId);
    await store.listIntegrations();
    await store.getIntegrations([integrationId]);
    await store.deleteIntegration(integrationId, change);
    await store.putBundle(bundleId, bundle, change);
    await store.getBundle(bundleId);
    await store.listBundles();
    await store.getBundles([bundleId]);
    await store.deleteBundle(bundleId, change);
    const leaseKey = `${unit.integrationId}/${unit.resource}/${request.grantee.sub}`;
    await store.addLeaseHolder(leaseKey, request.id, change);
    await store.setLeaseOwned(leaseKey, true, change);
    await store.getLease(leaseKey);
    await store.removeLeaseHolder(leaseKey, request.id, change);
    await store.finishLeaseRevoke(leaseKey, request.id, change);

    expect(saved.version).toBe(2);
    expect(new Set(sent)).toEqual(
      new Set([
        'BatchWriteItemCommand',
        'PutItemCommand',
        'GetItemCommand',
        'QueryCommand',
        'BatchGetItemCommand',
        'UpdateItemCommand',
      ]),
    );
    expect(sent).not.toContain('ScanCommand');
  });

  it('would notice a Scan: the recorder sees one sent through the same client', async () => {
    const before = sent.length;

    await table.doc.send(new ScanCommand({ TableName: table.tableName, Limit: 1 }));

    expect(sent.slice(before)).toEqual(['ScanCommand']);
  });
});

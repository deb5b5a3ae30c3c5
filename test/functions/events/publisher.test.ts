import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { Context, DynamoDBRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StintEvent } from '#events/schemas.ts';
import {
  ACTIVE_TOKEN,
  APPROVAL_TOKEN,
  insert,
  modify,
  REQUEST_ID,
  requestItem,
  requestStages,
  SEALED_SECRET,
  sampleChanges,
} from '#lib/events/samples.ts';
import { streamRecord } from '../../support/event-fixtures.ts';

vi.hoisted(() => {
  process.env.STINT_EVENT_BUS_NAME = 'stint-test-bus';
  // Powertools Logger writes through the global console in dev mode, so the tests can read what it logs.
  process.env.POWERTOOLS_DEV = 'true';
});

const { handler } = await import('#functions/events/publisher.ts');

const eventBridge = mockClient(EventBridgeClient);
const context: Context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'stint-publisher',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:stint-publisher',
  memoryLimitInMB: '256',
  awsRequestId: 'req-1',
  logGroupName: '/aws/lambda/stint-publisher',
  logStreamName: 'stream',
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

const s = requestStages();
const created = () => streamRecord(insert(requestItem(s.pending)), '101');
const tokenRegistered = () => streamRecord(modify(requestItem(s.pending), requestItem(s.awaiting)), '102');
const voted = () => streamRecord(modify(requestItem(s.awaiting), requestItem(s.voted)), '103');
const approved = () => streamRecord(modify(requestItem(s.voted), requestItem(s.approved)), '104');
const malformed = () => streamRecord(insert({ ...requestItem(s.granting), status: 'LIMBO' }), '103');

const sentEntries = (): PutEventsRequestEntry[] =>
  eventBridge.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);
const sentEvents = () => sentEntries().map((entry) => StintEvent.parse(JSON.parse(entry.Detail ?? 'null')));
const run = (records: DynamoDBRecord[]) => handler({ Records: records }, context);

let logged: string[];
beforeEach(() => {
  eventBridge.reset();
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'eb-1' }] });
  logged = [];
  for (const level of ['debug', 'info', 'warn', 'error', 'log'] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logged.push(args.map(String).join(' '));
    });
  }
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('publisher', () => {
  it('publishes one entry per state change of a batch, in order, on the configured bus', async () => {
    const result = await run([created(), tokenRegistered(), voted(), approved()]);

    expect(result).toEqual({ batchItemFailures: [] });
    const entries = sentEntries();
    expect(entries.map((e) => [e.Source, e.DetailType, e.EventBusName])).toEqual([
      ['stint', 'request.created', 'stint-test-bus'],
      ['stint', 'request.approval_recorded', 'stint-test-bus'],
      ['stint', 'request.approved', 'stint-test-bus'],
    ]);
    expect(entries.map((e) => e.Time?.toISOString())).toEqual([
      s.pending.lastChange.at,
      s.voted.lastChange.at,
      s.approved.lastChange.at,
    ]);
    expect(sentEvents().map((e) => e.id)).toEqual([
      `request:${REQUEST_ID}:1`,
      `request:${REQUEST_ID}:3`,
      `request:${REQUEST_ID}:4`,
    ]);
  });

  it('reports a record whose entry EventBridge refused, and holds back the records after it', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 0, Entries: [{ EventId: 'eb-1' }] })
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }] });

    const result = await run([created(), voted(), approved()]);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: '103' }, { itemIdentifier: '104' }] });
    expect(sentEntries().map((e) => e.DetailType)).toEqual(['request.created', 'request.approval_recorded']);
    expect(logged.join('\n')).toContain('EventBridge refused 1 event(s): InternalFailure');
  });

  it('reports a record when PutEvents itself fails', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('socket hang up'));

    const result = await run([created()]);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: '101' }] });
  });

  it('reports a record with a malformed image instead of dropping it, logging ids only', async () => {
    const result = await run([created(), malformed(), approved()]);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: '103' }, { itemIdentifier: '104' }] });
    expect(sentEntries().map((e) => e.DetailType)).toEqual(['request.created']);
    const logs = logged.join('\n');
    expect(logs).toMatch(/"recordId": *"evt-103"/);
    expect(logs).toContain('unreadable new image of a request: status');
    for (const secret of [APPROVAL_TOKEN, ACTIVE_TOKEN, SEALED_SECRET, s.pending.justification ?? '?'])
      expect(logs).not.toContain(secret);
  });

  it('puts no task token, sealed secret, grant or key attribute in any Detail', async () => {
    const records = Object.values(sampleChanges()).map((change, i) => streamRecord(change, String(1000 + i)));

    const result = await run(records);

    expect(result).toEqual({ batchItemFailures: [] });
    const details = sentEntries().map((e) => e.Detail ?? '');
    expect(details).toHaveLength(records.length);
    for (const detail of details) {
      for (const secret of [APPROVAL_TOKEN, ACTIVE_TOKEN, SEALED_SECRET]) expect(detail).not.toContain(secret);
      for (const key of ['approvalToken', 'activeToken', 'sealedSecret', '"pk"', '"sk"', '"gsi', '"entity"'])
        expect(detail).not.toContain(key);
    }
  });

  it('publishes nothing for a TTL removal and reports no failure', async () => {
    const result = await run([streamRecord({ eventName: 'REMOVE', oldImage: requestItem(s.revoked) }, '200')]);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});

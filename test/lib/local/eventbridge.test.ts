import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalEventBridge, rateMinutes, type StintBusEvent } from '#lib/local/eventbridge.ts';
import { loadTemplate } from '#lib/local/template.ts';
import { sdkConfig, serveAws } from './aws-server.ts';

const fn = { Type: 'AWS::Lambda::Function', Properties: {}, Metadata: { 'stint:entry': 'x.ts' } };
const arn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const template = loadTemplate({
  Resources: {
    Bus: { Type: 'AWS::Events::EventBus', Properties: { Name: 'stint' } },
    Audit: fn,
    Flaky: fn,
    Tick: fn,
    Sched: fn,
    AuditRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: { Ref: 'Bus' },
        EventPattern: { source: ['stint'], 'detail-type': [{ prefix: 'request.' }] },
        State: 'ENABLED',
        Targets: [
          { Arn: arn('Audit'), Id: 'a' },
          { Arn: arn('Flaky'), Id: 'f', RetryPolicy: { MaximumRetryAttempts: 2 } },
        ],
      },
    },
    DetailRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: 'stint',
        EventPattern: { source: ['stint'] },
        Targets: [{ Arn: arn('Audit'), Id: 'd', InputPath: '$.detail' }],
      },
    },
    DefaultBusRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventPattern: { source: ['stint'] },
        Targets: [{ Arn: arn('Audit'), Id: 'x', Input: '{"const":1}' }],
      },
    },
    TickRule: {
      Type: 'AWS::Events::Rule',
      Properties: { ScheduleExpression: 'rate(5 minutes)', State: 'ENABLED', Targets: [{ Arn: arn('Tick'), Id: 't' }] },
    },
    Schedule: {
      Type: 'AWS::Scheduler::Schedule',
      Properties: { ScheduleExpression: 'rate(1 hour)', Target: { Arn: arn('Sched'), Input: '{"job":"reconcile"}' } },
    },
  },
});

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

function bridge(fail: (fn: string, attempt: number) => boolean = () => false) {
  const calls: { fn: string; event: unknown }[] = [];
  const attempts: Record<string, number> = {};
  const eb = new LocalEventBridge(template, {
    retryBaseMs: 1,
    invoke: async (fnRef, event) => {
      attempts[fnRef] = (attempts[fnRef] ?? 0) + 1;
      if (fail(fnRef, attempts[fnRef] ?? 0)) throw new RangeError(`${fnRef} failed`);
      calls.push({ fn: fnRef, event });
    },
  });
  stops.push(() => eb.stop());
  return { eb, calls, attempts };
}

async function client(eb: LocalEventBridge) {
  const server = await serveAws({ AWSEvents: eb });
  const c = new EventBridgeClient(sdkConfig(server.url));
  stops.push(async () => {
    c.destroy();
    await server.close();
  });
  return c;
}

describe('LocalEventBridge', () => {
  it('accepts PutEvents from the SDK, logs the event and delivers it to the targets of matching rules on its bus', async () => {
    const { eb, calls } = bridge();
    const seen: StintBusEvent[] = [];
    eb.subscribe((e) => seen.push(e));
    const c = await client(eb);
    const out = await c.send(
      new PutEventsCommand({
        Entries: [{ Source: 'stint', DetailType: 'request.created', Detail: '{"id":"r1"}', EventBusName: 'stint' }],
      }),
    );
    await eb.idle();
    expect(out.FailedEntryCount).toBe(0);
    expect(eb.events()).toEqual([
      expect.objectContaining({
        id: out.Entries?.[0]?.EventId,
        source: 'stint',
        'detail-type': 'request.created',
        detail: { id: 'r1' },
        bus: 'stint',
        account: '000000000000',
      }),
    ]);
    expect(seen).toHaveLength(1);
    const byFn = calls.map((c) => [c.fn, c.event]).sort(([a], [b]) => String(a).localeCompare(String(b)));
    expect(byFn).toEqual([
      ['Audit', expect.objectContaining({ 'detail-type': 'request.created', detail: { id: 'r1' } })],
      ['Audit', { id: 'r1' }],
      ['Flaky', expect.objectContaining({ source: 'stint' })],
    ]);
    expect(calls.every((c) => !(typeof c.event === 'object' && c.event !== null && 'bus' in c.event))).toBe(true);
  });

  it('does not deliver an event that matches no rule on its bus', async () => {
    const { eb, calls } = bridge();
    eb.putEvents([{ Source: 'other', DetailType: 'request.created', Detail: '{}', EventBusName: 'stint' }]);
    eb.putEvents([{ Source: 'stint', DetailType: 'request.created', Detail: '{}' }]); // default bus
    await eb.idle();
    expect(calls).toEqual([{ fn: 'Audit', event: { const: 1 } }]);
    expect(eb.events()).toHaveLength(2);
  });

  it('rejects entries with a malformed detail or an unknown bus, per entry', async () => {
    const { eb } = bridge();
    const c = await client(eb);
    const out = await c.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'stint', DetailType: 'x', Detail: 'not json', EventBusName: 'stint' },
          { Source: 'stint', DetailType: 'x', Detail: '{}', EventBusName: 'nope' },
          {
            Source: 'stint',
            DetailType: 'x',
            Detail: '{}',
            EventBusName: 'arn:aws:events:local:000000000000:event-bus/stint',
          },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(2);
    expect(out.Entries?.map((e) => e.ErrorCode ?? 'ok')).toEqual([
      'MalformedDetail',
      'ResourceNotFoundException',
      'ok',
    ]);
  });

  it('retries a failing target with backoff and succeeds within its retry policy', async () => {
    const { eb, attempts, calls } = bridge((fn, attempt) => fn === 'Flaky' && attempt < 3);
    eb.putEvents([{ Source: 'stint', DetailType: 'request.created', Detail: '{}', EventBusName: 'stint' }]);
    await eb.idle();
    expect(attempts.Flaky).toBe(3);
    expect(calls.filter((c) => c.fn === 'Flaky')).toHaveLength(1);
    expect(eb.deadLetters()).toEqual([]);
  });

  it('dead-letters an event once the target retry policy is exhausted', async () => {
    const { eb, attempts } = bridge((fn) => fn === 'Flaky');
    eb.putEvents([{ Source: 'stint', DetailType: 'request.created', Detail: '{"id":"r9"}', EventBusName: 'stint' }]);
    await eb.idle();
    expect(attempts.Flaky).toBe(3);
    expect(eb.deadLetters()).toEqual([
      {
        rule: 'AuditRule',
        target: 'Flaky',
        event: expect.objectContaining({ detail: { id: 'r9' } }),
        error: 'RangeError: Flaky failed',
      },
    ]);
  });

  it('runs every scheduled target once on demand, with a scheduled event or the schedule input', async () => {
    const { eb, calls } = bridge();
    expect(eb.schedules()).toEqual([
      { id: 'TickRule', expression: 'rate(5 minutes)', target: 'Tick' },
      { id: 'Schedule', expression: 'rate(1 hour)', target: 'Sched' },
    ]);
    await eb.runSchedules();
    expect(calls).toEqual([
      {
        fn: 'Tick',
        event: expect.objectContaining({
          source: 'aws.events',
          'detail-type': 'Scheduled Event',
          resources: ['arn:aws:events:local:000000000000:rule/TickRule'],
        }),
      },
      { fn: 'Sched', event: { job: 'reconcile' } },
    ]);
  });

  it('runs each schedule on the clock’s ticks in proportion to its rate: the fastest at every tick', async () => {
    const { eb, calls } = bridge();
    // rate(5 minutes) and rate(1 hour): the hourly one runs at every 12th tick.
    for (let i = 0; i < 24; i++) await eb.tick();
    expect(calls.filter((c) => c.fn === 'Tick')).toHaveLength(24);
    expect(calls.filter((c) => c.fn === 'Sched')).toHaveLength(2);
  });

  it('reads rate expressions in minutes, and nothing else as a rate', () => {
    expect([rateMinutes('rate(1 minute)'), rateMinutes('rate(2 hours)'), rateMinutes('rate(1 day)')]).toEqual([
      1, 120, 1440,
    ]);
    expect(rateMinutes('cron(0 12 * * ? *)')).toBeUndefined();
  });
});

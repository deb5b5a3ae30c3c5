import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildSamples, REQUEST_ID, requestStages } from '#lib/events/samples.ts';
import { Store } from '#lib/store/store.ts';
import { ServiceNowOptions, serviceNowDriver } from '#lib/targets/kinds/servicenow.ts';
import { RequestTicketStore } from '#lib/targets/tickets.ts';
import { PermanentDeliveryError, RetryableDeliveryError } from '#lib/targets/types.ts';
import { contextFor, lifecycle, MemoryTickets } from '../../fixtures/itsm/context.ts';
import { type ServiceNowStandIn, startServiceNow } from '../../fixtures/itsm/servicenow.ts';
import { type LocalTable, startDynalite } from '../../support/dynalite.ts';

const SECRET = JSON.stringify({ username: 'stint.integration', password: 'sn-password-1' });
const BASIC = `Basic ${Buffer.from('stint.integration:sn-password-1').toString('base64')}`;

const options = {
  fields: { category: 'access', u_flow: '{{request.flowId}}', urgency: '3' },
  states: { 'grant.active': '2', 'grant.expired': '6' },
};

let sn: ServiceNowStandIn;
beforeEach(async () => {
  sn = await startServiceNow({ authorization: BASIC });
});
afterEach(async () => {
  await sn.close();
});

const target = (overrides: Record<string, unknown> = {}) => ({
  name: 'snow',
  kind: 'servicenow' as const,
  endpoint: sn.url,
  options: { ...options, ...overrides },
});

const only = <T>(map: Map<string, T>): T => {
  const values = [...map.values()];
  if (values.length !== 1 || values[0] === undefined) throw new Error(`expected one record, found ${values.length}`);
  return values[0];
};

describe('servicenow: a request’s whole life on dynalite', () => {
  let table: LocalTable;
  beforeEach(async () => {
    table = await startDynalite();
  });
  afterEach(async () => {
    await table.stop();
  });

  it('shows created → approved → active → expired as one incident with work notes and state changes', async () => {
    const store = new Store(table.doc, table.tableName);
    await store.createRequest(requestStages().pending);
    const ctx = contextFor(target(), SECRET, new RequestTicketStore(store));

    for (const event of lifecycle()) await serviceNowDriver.deliver([event], ctx);

    const incident = only(sn.tables.incident ?? new Map());
    expect(incident).toMatchObject({
      number: 'INC0010001',
      short_description: `Access request: alice → prod-db-admin (${REQUEST_ID})`,
      correlation_id: REQUEST_ID,
      correlation_display: 'Stint',
      category: 'access',
      u_flow: 'prod-db-admin',
      urgency: '3',
      state: '6',
      close_code: 'Solution provided',
      close_notes: `Access expired (Stint request ${REQUEST_ID}, request:${REQUEST_ID}:9)`,
    });
    expect(incident.description).toContain('Requester: alice <alice@example.com>');
    expect(incident.description).toContain('Access: pg-prod/payments/readwrite');
    expect(incident.description).toContain('Justification: INC-4711: fix stuck payouts in the settlement table');

    const notes = sn.journal.filter((j) => j.element_id === incident.sys_id);
    expect(notes.map((n) => n.element)).toEqual(['work_notes', 'work_notes', 'work_notes']);
    expect(notes[0]?.value).toContain('Request approved\nBy: carol via api\nWhen: 2026-03-03T09:06:00.000Z');
    expect(notes[0]?.value).toContain(`[stint-event:request:${REQUEST_ID}:4]`);
    expect(notes[1]?.value).toContain('Access granted');
    expect(notes[2]?.value).toContain('Access expired');

    const patches = sn.exchanges.filter((e) => e.method === 'PATCH');
    expect(patches.map((p) => p.path)).toEqual(Array(3).fill(`/api/now/table/incident/${incident.sys_id}`));
    expect(patches[1]?.body).toMatchObject({ state: '2' });
    expect((await store.getRequest(REQUEST_ID))?.tickets).toEqual({ snow: incident.sys_id });
    expect(
      sn.exchanges.every((e) => e.headers.authorization === BASIC && e.headers.accept === 'application/json'),
    ).toBe(true);
    expect(
      sn.exchanges.filter((e) => e.method !== 'GET').every((e) => e.headers['content-type'] === 'application/json'),
    ).toBe(true);
  });
});

describe('servicenow: tables and states', () => {
  it('opens a service request and moves request_state with a column map', async () => {
    const ctx = contextFor(
      target({
        table: 'sc_request',
        fields: { u_flow: '{{request.flowId}}' },
        states: { 'grant.active': 'in_process', 'grant.expired': { request_state: 'closed_complete', state: '3' } },
      }),
      SECRET,
      new MemoryTickets(),
    );

    for (const event of lifecycle()) await serviceNowDriver.deliver([event], ctx);

    expect(sn.tables.incident?.size).toBe(0);
    const request = only(sn.tables.sc_request ?? new Map());
    expect(request).toMatchObject({ number: 'REQ0010001', request_state: 'closed_complete', state: '3' });
    expect(sn.exchanges.filter((e) => e.method === 'PATCH')[1]?.body).toMatchObject({ request_state: 'in_process' });
  });

  it('puts notes in customer-visible comments when asked', async () => {
    const ctx = contextFor(target({ notesField: 'comments' }), SECRET, new MemoryTickets());
    const [created, approved] = lifecycle();
    if (!created || !approved) throw new Error('no samples');

    await serviceNowDriver.deliver([created], ctx);
    await serviceNowDriver.deliver([approved], ctx);
    await serviceNowDriver.deliver([approved], ctx);

    expect(sn.journal.map((j) => j.element)).toEqual(['comments']);
  });
});

describe('servicenow: redelivery', () => {
  it('creates no second record when request.created is delivered again', async () => {
    const tickets = new MemoryTickets();
    const ctx = contextFor(target(), SECRET, tickets);
    const [created] = lifecycle();
    if (!created) throw new Error('no samples');

    await serviceNowDriver.deliver([created], ctx);
    await serviceNowDriver.deliver([created], ctx);

    expect(sn.tables.incident?.size).toBe(1);
    expect(sn.exchanges.filter((e) => e.method === 'POST')).toHaveLength(1);
  });

  it('finds the record by correlation_id after a crash between the create and storing the key', async () => {
    const tickets = new MemoryTickets();
    tickets.failPuts = 1;
    const ctx = contextFor(target(), SECRET, tickets);
    const [created, approved] = lifecycle();
    if (!created || !approved) throw new Error('no samples');

    await expect(serviceNowDriver.deliver([created], ctx)).rejects.toThrow('simulated crash');
    await serviceNowDriver.deliver([created], ctx);
    await serviceNowDriver.deliver([approved], ctx);

    const incident = only(sn.tables.incident ?? new Map());
    expect(tickets.keys.get(`${REQUEST_ID}/snow`)).toBe(incident.sys_id);
    const lookups = sn.exchanges.filter((e) => e.method === 'GET' && e.path === '/api/now/table/incident');
    expect(lookups).toHaveLength(2);
    expect(Object.fromEntries(lookups[1]?.query ?? [])).toEqual({
      sysparm_query: `correlation_id=${REQUEST_ID}^ORDERBYsys_created_on`,
      sysparm_limit: '1',
      sysparm_fields: 'sys_id,number',
    });
    expect(sn.journal).toHaveLength(1);
  });

  it('writes each work note once when a later event is delivered again', async () => {
    const ctx = contextFor(target(), SECRET, new MemoryTickets());
    const [created, approved, active, expired] = lifecycle();
    if (!created || !approved || !active || !expired) throw new Error('no samples');

    for (const event of [created, approved, approved, active, expired, expired]) {
      await serviceNowDriver.deliver([event], ctx);
    }

    expect(sn.journal).toHaveLength(3);
    expect(only(sn.tables.incident ?? new Map()).state).toBe('6');
    const lookup = sn.exchanges.find((e) => e.path === '/api/now/table/sys_journal_field');
    expect(lookup?.query.get('sysparm_query')).toMatch(
      new RegExp(`^element_id=[0-9a-f]{32}\\^element=work_notes\\^valueLIKE\\[stint-event:request:${REQUEST_ID}:4\\]$`),
    );
  });

  it('still delivers (at least once) when journal entries cannot be read', async () => {
    const closed = await startServiceNow({ authorization: BASIC, journalReadable: false });
    try {
      const ctx = contextFor({ ...target(), endpoint: closed.url }, SECRET, new MemoryTickets());
      const [created, approved] = lifecycle();
      if (!created || !approved) throw new Error('no samples');
      await serviceNowDriver.deliver([created], ctx);
      await serviceNowDriver.deliver([approved], ctx);
      expect(closed.journal).toHaveLength(1);
    } finally {
      await closed.close();
    }
  });
});

describe('servicenow: ordering and failures', () => {
  it('opens the record from a later event when its request.created never reached this target', async () => {
    const tickets = new MemoryTickets();
    const ctx = contextFor(target(), SECRET, tickets);
    const [, approved] = lifecycle();
    if (!approved) throw new Error('no samples');

    await serviceNowDriver.deliver([approved], ctx);
    await serviceNowDriver.deliver([approved], ctx);

    const incident = only(sn.tables.incident ?? new Map());
    expect(sn.journal.filter((j) => j.element_id === incident.sys_id)).toHaveLength(1);
    expect(await tickets.get(approved.request.id, ctx.target.name)).toBe(incident.sys_id);
  });

  it.each([500, 502, 429])('treats %i from ServiceNow as retryable', async (status) => {
    const ctx = contextFor(target(), SECRET, new MemoryTickets());
    const [created] = lifecycle();
    if (!created) throw new Error('no samples');
    sn.failNext('POST /api/now/table/incident', { status, body: { error: { message: 'busy' }, status: 'failure' } });

    const error = await serviceNowDriver.deliver([created], ctx).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({ status });
    expect(sn.tables.incident?.size).toBe(0);
  });

  it('treats a 400 as permanent and keeps ServiceNow’s answer', async () => {
    const ctx = contextFor(target(), SECRET, new MemoryTickets());
    const [created] = lifecycle();
    if (!created) throw new Error('no samples');
    const answer = { error: { message: 'Invalid value', detail: 'urgency' }, status: 'failure' };
    sn.failNext('POST /api/now/table/incident', { status: 400, body: answer });

    const error = await serviceNowDriver.deliver([created], ctx).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({ status: 400 });
    expect(error instanceof PermanentDeliveryError ? JSON.parse(error.answer ?? '{}') : undefined).toEqual(answer);
  });

  it('reports a data policy refusal (403) as permanent with the answer', async () => {
    // close_notes renders empty for an expiry (no failure reason): the incident data policy refuses the resolve.
    const states = {
      'grant.expired': { state: '6', close_code: 'Solution provided', close_notes: '{{request.failureReason}}' },
    };
    const ctx = contextFor(target({ states }), SECRET, new MemoryTickets());
    const [created, , , expired] = lifecycle();
    if (!created || !expired) throw new Error('no samples');
    await serviceNowDriver.deliver([created], ctx);

    const error = await serviceNowDriver.deliver([expired], ctx).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({ status: 403 });
    expect(error instanceof PermanentDeliveryError ? error.answer : '').toContain('Data Policy Exception');
    expect(only(sn.tables.incident ?? new Map()).state).toBe('1');
  });

  it('ignores admin events', async () => {
    const ctx = contextFor(target(), SECRET, new MemoryTickets());
    await serviceNowDriver.deliver([buildSamples()['bundle.created']], ctx);
    expect(sn.exchanges).toHaveLength(0);
  });
});

describe('servicenow: credentials and options', () => {
  it('sends an OAuth bearer token when the secret holds one', async () => {
    const bearer = await startServiceNow({ authorization: 'Bearer sn-oauth-token' });
    try {
      const ctx = contextFor(
        { name: 'snow', kind: 'servicenow', endpoint: bearer.url },
        JSON.stringify({ token: 'sn-oauth-token' }),
        new MemoryTickets(),
      );
      const [created] = lifecycle();
      if (!created) throw new Error('no samples');
      await serviceNowDriver.deliver([created], ctx);
      expect(bearer.tables.incident?.size).toBe(1);
    } finally {
      await bearer.close();
    }
  });

  it('refuses a secret of the wrong shape without echoing it', async () => {
    const ctx = contextFor(target(), 'not-json-hunter2', new MemoryTickets());
    const [created] = lifecycle();
    if (!created) throw new Error('no samples');

    const error = await serviceNowDriver.deliver([created], ctx).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(String(error)).not.toContain('hunter2');
    expect(sn.exchanges).toHaveLength(0);
  });

  it('validates options strictly', () => {
    const issues = (input: unknown) =>
      ServiceNowOptions.safeParse(input).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];

    expect(ServiceNowOptions.parse({})).toMatchObject({ table: 'incident', notesField: 'work_notes', states: {} });
    expect(issues({ table: 'problem' })).toHaveLength(1);
    expect(issues({ fields: { correlation_id: 'x' } })).toEqual([
      'fields: may not set short_description, description, correlation_id, correlation_display, work_notes (set by Stint)',
    ]);
    expect(issues({ fields: { 'Bad Name': 'x' } })).toHaveLength(1);
    expect(issues({ states: { 'grant.expired': { state: '7', close_code: 'Solution provided' } } })).toEqual([
      'states.grant.expired.close_notes: required when an incident goes to state 7 (resolved/closed)',
    ]);
    expect(issues({ table: 'sc_request', states: { 'grant.expired': { state: '7' } } })).toEqual([]);
    expect(issues({ shortDescription: '{{request.nope}}' })).toEqual([
      'shortDescription: {{request.nope}}: request has no field "nope"',
    ]);
  });
});

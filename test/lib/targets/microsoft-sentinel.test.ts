import { describe, expect, it } from 'vitest';
import type { StintEvent } from '#events/schemas.ts';
import { ValidationError } from '#lib/domain/errors.ts';
import { TargetConfig, type TargetConfigInput } from '#lib/targets/config.ts';
import {
  createMicrosoftSentinelDriver,
  microsoftSentinelDriver,
  SENTINEL_MAX_CALL_BYTES,
  sentinelIngestionUrl,
} from '#lib/targets/kinds/microsoft-sentinel.ts';
import { PermanentDeliveryError, RetryableDeliveryError } from '#lib/targets/types.ts';
import { type Answer, context, deliveryError, manyEvents, type Received, samples, startVendor } from './siem-server.ts';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '0a123b56-c987-1234-abcd-1a2b3c4d5e6f';
const SECRET = 'Qx8Q~client.secret-value~do-not-leak';
const DCR = 'dcr-00000000000000000000000000000000';
const STREAM = 'Custom-StintAudit_CL';
const T0 = new Date('2026-03-03T12:00:00.000Z');

/** An Entra ID stand-in: the v2.0 token endpoint, client credentials only, numbered tokens. */
async function fakeEntra(answer?: (request: Received) => Answer | undefined) {
  let issued = 0;
  const vendor = await startVendor((request) => {
    const custom = answer?.(request);
    if (custom !== undefined) return custom;
    issued += 1;
    return {
      status: 200,
      body: JSON.stringify({
        token_type: 'Bearer',
        expires_in: 3599,
        ext_expires_in: 3599,
        access_token: `token-${issued}`,
      }),
    };
  });
  return vendor;
}

/** A DCE stand-in: 204 for a valid bearer token, 401 for a token it no longer accepts. */
async function fakeDce(answer?: (request: Received, index: number) => Answer | undefined, revoked = new Set<string>()) {
  return startVendor((request, index) => {
    const custom = answer?.(request, index);
    if (custom !== undefined) return custom;
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (token === undefined || revoked.has(token)) {
      return { status: 401, body: '{"error":{"code":"InvalidToken","message":"The provided token is invalid."}}' };
    }
    return { status: 204 };
  });
}

function target(endpoint: string, authorityHost: string, options: Record<string, unknown> = {}): TargetConfigInput {
  return {
    name: 'sentinel',
    kind: 'microsoft-sentinel',
    endpoint,
    secretRef: 'env:SENTINEL_CLIENT_SECRET',
    options: { tenantId: TENANT, clientId: CLIENT, dcrImmutableId: DCR, streamName: STREAM, authorityHost, ...options },
  };
}

const recordsOf = (request: Received | undefined): Record<string, unknown>[] => JSON.parse(request?.body ?? '[]');

function expectedRecord(event: StintEvent): Record<string, unknown> {
  const request = 'request' in event ? event.request : undefined;
  return {
    TimeGenerated: event.time,
    EventId: event.id,
    EventType: event.type,
    Severity: event.severity,
    Actor: event.actor.sub,
    ActorChannel: event.actor.channel,
    ...(request === undefined ? {} : { RequestId: request.id, Status: request.status }),
    ...(request !== undefined
      ? { FlowId: request.flowId }
      : event.type.startsWith('flow.') && 'after' in event
        ? { FlowId: event.after.id }
        : {}),
    Detail: event,
  };
}

describe('microsoft-sentinel wire format', () => {
  it('gets a client-credentials token from Entra ID, then posts the records to the DCR stream', async () => {
    const entra = await fakeEntra();
    const dce = await fakeDce();
    const events = samples();

    await createMicrosoftSentinelDriver().deliver(events, context(target(dce.url, entra.url), SECRET, T0));

    expect(entra.received).toHaveLength(1);
    const [token] = entra.received;
    expect(token?.method).toBe('POST');
    expect(token?.path).toBe(`/${TENANT}/oauth2/v2.0/token`);
    expect(token?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(token?.body))).toEqual({
      client_id: CLIENT,
      client_secret: SECRET,
      grant_type: 'client_credentials',
      scope: 'https://monitor.azure.com//.default',
    });

    expect(dce.received).toHaveLength(1);
    const [ingest] = dce.received;
    expect(ingest?.method).toBe('POST');
    expect(ingest?.path).toBe(`/dataCollectionRules/${DCR}/streams/${STREAM}`);
    expect(ingest?.query).toEqual({ 'api-version': '2023-01-01' });
    expect(ingest?.headers.authorization).toBe('Bearer token-1');
    expect(ingest?.headers['content-type']).toBe('application/json');
    expect(ingest?.raw.toString('utf8')).not.toContain(SECRET);
    expect(recordsOf(ingest)).toEqual(events.map(expectedRecord));
  });

  it('fills the request columns for request events and FlowId for flow events', async () => {
    const entra = await fakeEntra();
    const dce = await fakeDce();
    const events = samples().filter((e) => e.type === 'grant.active' || e.type === 'flow.updated');

    await createMicrosoftSentinelDriver().deliver(events, context(target(dce.url, entra.url), SECRET, T0));

    const [active, flow] = recordsOf(dce.received[0]);
    expect(active).toMatchObject({
      EventType: 'grant.active',
      RequestId: '01JQ8Z3K7M2X4V6B8N0P2R4T6W',
      Status: 'ACTIVE',
      FlowId: 'prod-db-admin',
      Actor: 'stint:system',
      ActorChannel: 'workflow',
    });
    expect(flow).toMatchObject({ EventType: 'flow.updated', FlowId: 'prod-db-admin' });
    expect(flow).not.toHaveProperty('RequestId');
    expect(flow).not.toHaveProperty('Status');
  });

  it('keeps a DCE path prefix and uses the configured sovereign-cloud scope', async () => {
    const entra = await fakeEntra();
    const dce = await fakeDce();

    await createMicrosoftSentinelDriver().deliver(
      manyEvents(1),
      context(target(`${dce.url}/prefix/`, entra.url, { scope: 'https://monitor.azure.us//.default' }), SECRET, T0),
    );

    expect(dce.received[0]?.path).toBe(`/prefix/dataCollectionRules/${DCR}/streams/${STREAM}`);
    expect(new URLSearchParams(entra.received[0]?.body).get('scope')).toBe('https://monitor.azure.us//.default');
  });

  it('keeps every call under the 1 MB limit, records in order', async () => {
    const entra = await fakeEntra();
    const dce = await fakeDce();
    const events = manyEvents(12, 150_000);

    await createMicrosoftSentinelDriver().deliver(events, context(target(dce.url, entra.url), SECRET, T0));

    expect(dce.received.length).toBeGreaterThan(1);
    for (const request of dce.received) {
      expect(request.raw.byteLength).toBeLessThanOrEqual(SENTINEL_MAX_CALL_BYTES);
    }
    expect(dce.received.flatMap((r) => recordsOf(r).map((rec) => rec.EventId))).toEqual(events.map((e) => e.id));
    expect(entra.received).toHaveLength(1);
  });

  it('refuses an event that alone is over the 1 MB limit without calling anyone', async () => {
    const entra = await fakeEntra();
    const dce = await fakeDce();

    const error = await deliveryError(
      createMicrosoftSentinelDriver().deliver(
        manyEvents(1, 1_100_000),
        context(target(dce.url, entra.url), SECRET, T0),
      ),
    );

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/request:01JTEST:0 is \d+ bytes serialized/);
    expect(dce.received).toHaveLength(0);
  });
});

describe('microsoft-sentinel token cache', () => {
  it('reuses the token for a second delivery', async () => {
    const entra = await fakeEntra();
    const dce = await fakeDce();
    const driver = createMicrosoftSentinelDriver();
    const later = new Date(T0.getTime() + 30 * 60_000);

    await driver.deliver(manyEvents(1), context(target(dce.url, entra.url), SECRET, T0));
    await driver.deliver(manyEvents(1), context(target(dce.url, entra.url), SECRET, later));

    expect(entra.received).toHaveLength(1);
    expect(dce.received.map((r) => r.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-1']);
  });

  it('asks once for concurrent deliveries', async () => {
    const entra = await fakeEntra();
    const dce = await fakeDce();
    const driver = createMicrosoftSentinelDriver();

    await Promise.all([
      driver.deliver(manyEvents(1), context(target(dce.url, entra.url), SECRET, T0)),
      driver.deliver(manyEvents(2), context(target(dce.url, entra.url), SECRET, T0)),
    ]);

    expect(entra.received).toHaveLength(1);
    expect(dce.received).toHaveLength(2);
  });

  it('refreshes a token that is about to expire', async () => {
    const entra = await fakeEntra();
    const dce = await fakeDce();
    const driver = createMicrosoftSentinelDriver();
    const nearExpiry = new Date(T0.getTime() + 3599_000 - 60_000);

    await driver.deliver(manyEvents(1), context(target(dce.url, entra.url), SECRET, T0));
    await driver.deliver(manyEvents(1), context(target(dce.url, entra.url), SECRET, nearExpiry));

    expect(entra.received).toHaveLength(2);
    expect(dce.received.map((r) => r.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
  });

  it('gets a new token once and retries when ingestion answers 401', async () => {
    const entra = await fakeEntra();
    const dce = await fakeDce(undefined, new Set(['token-1']));

    await createMicrosoftSentinelDriver().deliver(manyEvents(1), context(target(dce.url, entra.url), SECRET, T0));

    expect(entra.received).toHaveLength(2);
    expect(dce.received.map((r) => r.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
  });

  it('fails permanently when ingestion refuses the fresh token too', async () => {
    const entra = await fakeEntra();
    const dce = await fakeDce(undefined, new Set(['token-1', 'token-2', 'token-3']));

    const error = await deliveryError(
      createMicrosoftSentinelDriver().deliver(manyEvents(1), context(target(dce.url, entra.url), SECRET, T0)),
    );

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.status).toBe(401);
    expect(entra.received).toHaveLength(2);
    expect(dce.received).toHaveLength(2);
  });

  it('asks again after the secret changes', async () => {
    const entra = await fakeEntra();
    const dce = await fakeDce();
    const driver = createMicrosoftSentinelDriver();

    await driver.deliver(manyEvents(1), context(target(dce.url, entra.url), SECRET, T0));
    await driver.deliver(manyEvents(1), context(target(dce.url, entra.url), `${SECRET}-rotated`, T0));

    expect(entra.received.map((r) => new URLSearchParams(r.body).get('client_secret'))).toEqual([
      SECRET,
      `${SECRET}-rotated`,
    ]);
  });
});

describe('microsoft-sentinel answers', () => {
  it.each([503, 500, 429])('throws RetryableDeliveryError when ingestion answers %i', async (status) => {
    const entra = await fakeEntra();
    const dce = await fakeDce(() => ({ status, headers: { 'retry-after': '30' }, body: '{"error":{"code":"x"}}' }));

    const error = await deliveryError(
      createMicrosoftSentinelDriver().deliver(manyEvents(1), context(target(dce.url, entra.url), SECRET, T0)),
    );

    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error.status).toBe(status);
  });

  it.each([400, 403, 404, 413])(
    'throws PermanentDeliveryError with the answer when ingestion answers %i',
    async (status) => {
      const answer = '{"error":{"code":"InvalidStream","message":"Stream Custom-StintAudit_CL is not declared"}}';
      const entra = await fakeEntra();
      const dce = await fakeDce(() => ({ status, body: answer }));

      const error = await deliveryError(
        createMicrosoftSentinelDriver().deliver(manyEvents(1), context(target(dce.url, entra.url), SECRET, T0)),
      );

      expect(error).toBeInstanceOf(PermanentDeliveryError);
      expect(error.status).toBe(status);
      expect(error.answer).toBe(answer);
    },
  );

  it('fails permanently on a refused client secret, without calling ingestion', async () => {
    const answer = '{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}';
    const entra = await fakeEntra(() => ({ status: 401, body: answer }));
    const dce = await fakeDce();

    const error = await deliveryError(
      createMicrosoftSentinelDriver().deliver(manyEvents(1), context(target(dce.url, entra.url), SECRET, T0)),
    );

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/Entra token: HTTP 401/);
    expect(error.answer).toBe(answer);
    expect(dce.received).toHaveLength(0);
  });

  it('retries when the token endpoint is unavailable', async () => {
    const entra = await fakeEntra(() => ({ status: 503, body: 'Service Unavailable' }));
    const dce = await fakeDce();

    const error = await deliveryError(
      createMicrosoftSentinelDriver().deliver(manyEvents(1), context(target(dce.url, entra.url), SECRET, T0)),
    );

    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(dce.received).toHaveLength(0);
  });
});

describe('microsoft-sentinel configuration', () => {
  const config = (
    options: Record<string, unknown>,
    endpoint = 'https://stint-dce-a1b2.westeurope-1.ingest.monitor.azure.com',
  ) =>
    TargetConfig.parse({
      name: 'sentinel',
      kind: 'microsoft-sentinel',
      endpoint,
      secretRef: 'env:SENTINEL_CLIENT_SECRET',
      options: { tenantId: TENANT, clientId: CLIENT, dcrImmutableId: DCR, streamName: STREAM, ...options },
    });

  it('builds the ingestion URL and defaults the authority and scope', () => {
    expect(sentinelIngestionUrl(config({}))).toBe(
      `https://stint-dce-a1b2.westeurope-1.ingest.monitor.azure.com/dataCollectionRules/${DCR}/streams/${STREAM}?api-version=2023-01-01`,
    );
    expect(microsoftSentinelDriver.optionsSchema.parse(config({}).options)).toEqual({
      tenantId: TENANT,
      clientId: CLIENT,
      dcrImmutableId: DCR,
      streamName: STREAM,
      authorityHost: 'https://login.microsoftonline.com',
      scope: 'https://monitor.azure.com//.default',
    });
  });

  it.each([
    [{ authorityHost: 'http://login.example.com' }, /options.authorityHost: must be an https:\/\/ URL/],
    [{ authorityHost: 'https://login.microsoftonline.com/?x=1' }, /options.authorityHost: must have no query/],
    [{ dcrImmutableId: 'my-dcr' }, /options.dcrImmutableId: must be dcr- followed by 32 hex digits/],
    [{ streamName: 'StintAudit_CL' }, /options.streamName: must be Custom-<name>/],
    [{ clientId: 'not-a-guid' }, /options.clientId: must be a GUID/],
    [{ tenantId: 'has space' }, /options.tenantId/],
    [{ scope: 'https://monitor.azure.com/.default' }, /options.scope/],
    [{ workspaceKey: 'x' }, /options/],
  ])('refuses %j', (options, message) => {
    const check = () => microsoftSentinelDriver.checkTarget(config(options));
    expect(check).toThrow(ValidationError);
    expect(check).toThrow(message);
  });

  it('accepts a tenant domain and a loopback http authority (local runs)', () => {
    expect(() =>
      microsoftSentinelDriver.checkTarget(
        config({ tenantId: 'contoso.onmicrosoft.com', authorityHost: 'http://127.0.0.1:8443' }),
      ),
    ).not.toThrow();
  });

  it('refuses an endpoint with a query', () => {
    expect(() => microsoftSentinelDriver.checkTarget(config({}, 'https://dce.example.com/?api-version=1'))).toThrow(
      /takes no query/,
    );
  });
});

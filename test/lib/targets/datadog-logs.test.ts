import { describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/domain/errors.ts';
import { TargetConfig, type TargetConfigInput } from '#lib/targets/config.ts';
import {
  createDatadogLogsDriver,
  DATADOG_MAX_PAYLOAD_BYTES,
  datadogLogsDriver,
  datadogLogsUrl,
} from '#lib/targets/kinds/datadog-logs.ts';
import { OcsfUserAccessManagement } from '#lib/targets/ocsf.ts';
import { PermanentDeliveryError, RetryableDeliveryError } from '#lib/targets/types.ts';
import { context, deliveryError, manyEvents, samples, startVendor } from './siem-server.ts';

const API_KEY = 'dd-api-key-0123456789abcdef';
/** The request samples happen on 2026-03-03 between 09:00 and 15:40 UTC; the admin ones weeks away. */
const SAMPLE_NOW = new Date('2026-03-03T16:00:00.000Z');

function target(endpoint: string, options: Record<string, unknown> = {}): TargetConfigInput {
  return {
    name: 'dd',
    kind: 'datadog-logs',
    endpoint,
    secretRef: 'env:DD_API_KEY',
    options: { customIntake: true, ...options },
  };
}

const accepted = () => ({ status: 202, body: '{}' });
const entriesOf = (body: string): Record<string, unknown>[] => JSON.parse(body);

describe('datadog-logs wire format', () => {
  it('posts a gzipped JSON array of log items to /api/v2/logs with the DD-API-KEY header', async () => {
    const vendor = await startVendor(accepted);
    const events = samples();

    await datadogLogsDriver.deliver(
      events,
      context(target(vendor.url, { tags: ['env:prod', 'team:security'], hostname: 'stint-prod' }), API_KEY, SAMPLE_NOW),
    );

    expect(vendor.received).toHaveLength(1);
    const [request] = vendor.received;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/api/v2/logs');
    expect(request?.query).toEqual({});
    expect(request?.headers['dd-api-key']).toBe(API_KEY);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['content-encoding']).toBe('gzip');
    expect(request?.headers.authorization).toBeUndefined();
    const entries = entriesOf(request?.body ?? '');
    expect(entries).toHaveLength(events.length);
    expect(entries.filter((e) => e.timestamp !== undefined)).toHaveLength(
      events.filter((e) => e.time.startsWith('2026-03-03')).length,
    );
    entries.forEach((entry, i) => {
      const event = events[i];
      if (event === undefined) throw new Error('one entry per event');
      // Datadog takes timestamps from 18 hours before to 2 hours after now: the admin samples (weeks away) go without.
      const age = SAMPLE_NOW.getTime() - Date.parse(event.time);
      const recent = age < 17 * 3600_000 && age > -2 * 3600_000;
      expect(Object.keys(entry).sort()).toEqual(
        [
          'ddsource',
          'ddtags',
          'event_id',
          'hostname',
          'message',
          'service',
          'status',
          ...(recent ? ['timestamp'] : []),
        ].sort(),
      );
      expect(entry.ddsource).toBe('stint');
      expect(entry.ddtags).toBe(`env:prod,team:security,event_type:${event.type},severity:${event.severity}`);
      expect(entry.hostname).toBe('stint-prod');
      expect(entry.service).toBe('stint');
      expect(typeof entry.message).toBe('string');
      expect(JSON.parse(String(entry.message))).toEqual(event);
      expect(entry.event_id).toBe(event.id);
      expect(entry.timestamp).toBe(recent ? Date.parse(event.time) : undefined);
      expect(entry.status).toBe({ info: 'info', warning: 'warning', high: 'error' }[event.severity]);
    });
  });

  it('sends plain JSON without Content-Encoding when compression is off, and no hostname unless configured', async () => {
    const vendor = await startVendor(accepted);
    const [event] = samples();
    if (event === undefined) throw new Error('samples exist');

    await datadogLogsDriver.deliver(
      [event],
      context(target(`${vendor.url}/`, { compress: false, service: 'jit-broker' }), API_KEY, SAMPLE_NOW),
    );

    const [request] = vendor.received;
    expect(request?.headers['content-encoding']).toBeUndefined();
    expect(request?.raw.toString('utf8')).toBe(request?.body);
    const [entry] = entriesOf(request?.body ?? '');
    expect(entry?.hostname).toBeUndefined();
    expect(entry?.service).toBe('jit-broker');
  });

  it('keeps a relay path and appends /api/v2/logs to it', async () => {
    const vendor = await startVendor(accepted);

    await datadogLogsDriver.deliver(manyEvents(1), context(target(`${vendor.url}/relay/`), API_KEY, SAMPLE_NOW));

    expect(vendor.received[0]?.path).toBe('/relay/api/v2/logs');
  });

  it('sends at most 1000 entries per request, in order', async () => {
    const vendor = await startVendor(accepted);
    const events = manyEvents(1001);

    await datadogLogsDriver.deliver(events, context(target(vendor.url), API_KEY, SAMPLE_NOW));

    const batches = vendor.received.map((r) => entriesOf(r.body));
    expect(batches.map((b) => b.length)).toEqual([1000, 1]);
    expect(batches.flat().map((e) => e.event_id)).toEqual(events.map((e) => e.id));
  });

  it('keeps each request under the 5 MB uncompressed payload limit', async () => {
    const vendor = await startVendor(accepted);
    const events = manyEvents(30, 200_000);

    await datadogLogsDriver.deliver(events, context(target(vendor.url), API_KEY, SAMPLE_NOW));

    expect(vendor.received.length).toBeGreaterThan(1);
    for (const request of vendor.received) {
      expect(Buffer.byteLength(request.body, 'utf8')).toBeLessThanOrEqual(DATADOG_MAX_PAYLOAD_BYTES);
    }
    expect(vendor.received.flatMap((r) => entriesOf(r.body)).map((e) => e.event_id)).toEqual(events.map((e) => e.id));
  });

  it('leaves out the timestamp of an event older than Datadog accepts (a late re-drive), keeping it in the message', async () => {
    const vendor = await startVendor(accepted);
    const [event] = manyEvents(1);
    if (event === undefined) throw new Error('one event');
    const dayLater = new Date(Date.parse(event.time) + 24 * 3600_000);

    await datadogLogsDriver.deliver([event], context(target(vendor.url), API_KEY, dayLater));

    const [entry] = entriesOf(vendor.received[0]?.body ?? '');
    expect(entry?.timestamp).toBeUndefined();
    expect(JSON.parse(String(entry?.message)).time).toBe(event.time);
  });

  it('sends OCSF (User Access Management, 3005) when the target asks for it, or an injected formatter', async () => {
    const vendor = await startVendor(accepted);
    const ocsf = { ...target(vendor.url), format: 'ocsf' as const };
    const driver = createDatadogLogsDriver({ format: (event) => ({ class_uid: 3005, metadata: { uid: event.id } }) });

    await driver.deliver(manyEvents(1), context(ocsf, API_KEY, SAMPLE_NOW));
    await datadogLogsDriver.deliver(manyEvents(1), context(ocsf, API_KEY, SAMPLE_NOW));

    expect(vendor.received).toHaveLength(2);
    const [injected] = entriesOf(vendor.received[0]?.body ?? '');
    expect(JSON.parse(String(injected?.message))).toEqual({ class_uid: 3005, metadata: { uid: 'request:01JTEST:0' } });
    const [mapped] = entriesOf(vendor.received[1]?.body ?? '');
    const message = OcsfUserAccessManagement.parse(JSON.parse(String(mapped?.message)));
    expect(message.metadata.uid).toBe('request:01JTEST:0');
  });
});

describe('datadog-logs answers', () => {
  it.each([503, 500, 429, 408])('throws RetryableDeliveryError on %i', async (status) => {
    const vendor = await startVendor(() => ({ status, body: '{"errors":["try later"]}' }));

    const error = await deliveryError(
      datadogLogsDriver.deliver(manyEvents(1), context(target(vendor.url), API_KEY, SAMPLE_NOW)),
    );

    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect(error).toMatchObject({ status });
  });

  it.each([400, 403, 413])('throws PermanentDeliveryError with the answer on %i', async (status) => {
    const vendor = await startVendor(() => ({ status, body: '{"errors":["Bad request"]}' }));

    const error = await deliveryError(
      datadogLogsDriver.deliver(manyEvents(1), context(target(vendor.url), API_KEY, SAMPLE_NOW)),
    );

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error).toMatchObject({ status, answer: '{"errors":["Bad request"]}' });
  });

  it('stops at the first failed batch and does not send the next ones', async () => {
    const vendor = await startVendor((_, i) => (i === 0 ? { status: 202 } : { status: 503 }));

    await expect(
      datadogLogsDriver.deliver(manyEvents(2500), context(target(vendor.url), API_KEY, SAMPLE_NOW)),
    ).rejects.toBeInstanceOf(RetryableDeliveryError);

    expect(vendor.received).toHaveLength(2);
  });
});

describe('datadog-logs configuration', () => {
  const site = (endpoint: string, options: Record<string, unknown> = {}) =>
    TargetConfig.parse({ name: 'dd', kind: 'datadog-logs', endpoint, secretRef: 'env:DD_API_KEY', options });

  it('derives the intake URL of the configured or inferred site', () => {
    expect(datadogLogsUrl(site('https://http-intake.logs.datadoghq.eu', { site: 'datadoghq.eu' }))).toBe(
      'https://http-intake.logs.datadoghq.eu/api/v2/logs',
    );
    expect(datadogLogsUrl(site('https://http-intake.logs.us5.datadoghq.com/api/v2/logs'))).toBe(
      'https://http-intake.logs.us5.datadoghq.com/api/v2/logs',
    );
    expect(datadogLogsUrl(site('https://http-intake.logs.ddog-gov.com/'))).toBe(
      'https://http-intake.logs.ddog-gov.com/api/v2/logs',
    );
  });

  it.each([
    ['https://http-intake.logs.datadoghq.com', { site: 'datadoghq.eu' }, /does not match site datadoghq.eu/],
    ['https://logs.example.com', {}, /not a Datadog logs intake host/],
    ['http://http-intake.logs.datadoghq.com', {}, /does not match site datadoghq.com/],
    ['https://http-intake.logs.datadoghq.com/v1/input', {}, /path must be empty or \/api\/v2\/logs/],
    ['https://http-intake.logs.datadoghq.com/api/v2/logs?ddtags=x', {}, /no query/],
    ['https://relay.internal', { customIntake: true, site: 'datadoghq.com' }, /site does not apply/],
    ['https://http-intake.logs.datadoghq.com', { tags: ['has,comma'] }, /options.tags.0: must start with a letter/],
    ['https://http-intake.logs.datadoghq.com', { apiKey: 'x' }, /options/],
  ])('refuses %s with %j', (endpoint, options, message) => {
    const check = () => datadogLogsDriver.checkTarget(site(endpoint, options));
    expect(check).toThrow(ValidationError);
    expect(check).toThrow(message);
  });

  it('refuses delivery to a misconfigured endpoint without sending anything', async () => {
    const vendor = await startVendor(accepted);

    const error = await deliveryError(
      datadogLogsDriver.deliver(manyEvents(1), context({ ...target(vendor.url), options: {} }, API_KEY, SAMPLE_NOW)),
    );

    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(String(error)).toMatch(/127\.0\.0\.1 is not a Datadog logs intake host/);
    expect(vendor.received).toHaveLength(0);
  });

  it('validates options strictly with defaults', () => {
    expect(datadogLogsDriver.optionsSchema.parse({})).toEqual({
      customIntake: false,
      service: 'stint',
      tags: [],
      compress: true,
    });
    expect(datadogLogsDriver.optionsSchema.safeParse({ site: 'datadoghq.org' }).success).toBe(false);
    expect(datadogLogsDriver.maxBatch).toBe(1000);
  });
});

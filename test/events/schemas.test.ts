import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { EVENT_SCHEMAS, EVENT_TYPES, RequestCreated, severityOf } from '#events/schemas.ts';
import { buildSamples, generatedFiles } from '#lib/events/samples.ts';

const root = resolve(import.meta.dirname, '../..');
const committed = (path: string) => readFileSync(join(root, path), 'utf8');

describe('generated JSON Schema and samples', () => {
  const files = generatedFiles();

  it('has a schema and a sample for every event type', () => {
    expect(files.size).toBe(2 * EVENT_TYPES.length);
    for (const type of EVENT_TYPES) {
      expect(files.has(`events/schema/${type}.json`)).toBe(true);
      expect(files.has(`events/samples/${type}.json`)).toBe(true);
    }
  });

  it.each([...files.keys()])('%s is up to date (else run `npm run events:generate`)', (path) => {
    expect(committed(path), `${path} differs from events/schemas.ts: run \`npm run events:generate\``).toBe(
      files.get(path),
    );
  });

  it.each(['events/schema', 'events/samples'])('%s holds no file of a removed event type', (dir) => {
    const stale = readdirSync(join(root, dir)).filter((name) => !files.has(`${dir}/${name}`));
    expect(stale, 'run `npm run events:generate`').toEqual([]);
  });

  it.each(EVENT_TYPES)('the committed %s sample validates against its committed JSON Schema', (type) => {
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
    addFormats.default(ajv);
    const validate = ajv.compile(JSON.parse(committed(`events/schema/${type}.json`)));
    const sample: unknown = JSON.parse(committed(`events/samples/${type}.json`));

    expect(validate(sample), JSON.stringify(validate.errors)).toBe(true);
  });

  it('a JSON Schema refuses a request event carrying a task token', () => {
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
    addFormats.default(ajv);
    const validate = ajv.compile(JSON.parse(committed('events/schema/request.created.json')));
    const sample = buildSamples()['request.created'];
    const leaky = 'request' in sample ? { ...sample, request: { ...sample.request, approvalToken: 'AQ…' } } : {};

    expect(validate(leaky)).toBe(false);
  });
});

describe('event schemas', () => {
  it('refuses a request view with grants or tokens (strict)', () => {
    const sample = buildSamples()['request.created'];
    const request = 'request' in sample ? sample.request : {};

    expect(RequestCreated.safeParse(sample).success).toBe(true);
    expect(RequestCreated.safeParse({ ...sample, request: { ...request, activeToken: 'x' } }).success).toBe(false);
    expect(RequestCreated.safeParse({ ...sample, request: { ...request, grants: [] } }).success).toBe(false);
    expect(RequestCreated.safeParse({ ...sample, pk: 'REQ#1' }).success).toBe(false);
  });

  it('names its type in each schema and in each sample', () => {
    const samples = buildSamples();
    for (const type of EVENT_TYPES) {
      expect(samples[type].type).toBe(type);
      expect(EVENT_SCHEMAS[type].safeParse({ ...samples[type], type: 'something.else' }).success).toBe(false);
    }
  });

  it.each([
    ['grant.failed', false, 'high'],
    ['grant.revoke_failed', false, 'high'],
    ['request.created', true, 'high'],
    ['grant.active', true, 'high'],
    ['request.created', false, 'info'],
    ['grant.active', false, 'info'],
    ['grant.revoked', true, 'info'],
    ['request.rejected', false, 'info'],
    ['request.timed_out', false, 'info'],
    ['flow.deleted', false, 'warning'],
    ['integration.updated', false, 'info'],
  ] as const)('rates %s (break-glass: %s) %s', (type, breakGlass, severity) => {
    expect(severityOf(type, breakGlass)).toBe(severity);
  });
});

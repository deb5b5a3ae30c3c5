import { describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/domain/errors.ts';
import { TargetConfig, type TargetConfigInput, TargetKind } from '#lib/targets/config.ts';
import { splunkHecDriver } from '#lib/targets/kinds/splunk-hec.ts';
import { sumoLogicDriver } from '#lib/targets/kinds/sumo-logic.ts';
import { webhookDriver } from '#lib/targets/kinds/webhook.ts';
import { sizeBatches } from '#lib/targets/payload.ts';
import { driverFor, validateTargetOptions } from '#lib/targets/registry.ts';

function validationErrorOf(run: () => void): ValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

const target = (kind: TargetConfigInput['kind'], options: Record<string, unknown>) =>
  TargetConfig.parse({ name: 'siem', kind, endpoint: 'https://siem.example.com', secretRef: 'env:SIEM', options });

describe('driverFor', () => {
  it('returns the driver of each implemented kind', () => {
    expect(driverFor('webhook')).toBe(webhookDriver);
    expect(driverFor('splunk-hec')).toBe(splunkHecDriver);
    expect(driverFor('sumo-logic')).toBe(sumoLogicDriver);
    expect([webhookDriver.kind, splunkHecDriver.kind, sumoLogicDriver.kind]).toEqual([
      'webhook',
      'splunk-hec',
      'sumo-logic',
    ]);
  });

  it('has a driver for every kind, of that kind', () => {
    for (const kind of TargetKind.options) expect(driverFor(kind).kind).toBe(kind);
  });
});

describe('validateTargetOptions', () => {
  it('accepts valid options of each kind', () => {
    const valid = [
      target('webhook', {}),
      target('splunk-hec', { index: 'security', channel: '0b6f1c8e-8d3a-4f5e-9a2b-7c1d2e3f4a5b', maxBatchEvents: 50 }),
      target('sumo-logic', { category: 'security/stint', fields: { env: 'prod' }, gzip: false }),
    ];
    const results = valid.map((t) => {
      validateTargetOptions(t);
      return t.kind;
    });
    expect(results).toEqual(['webhook', 'splunk-hec', 'sumo-logic']);
  });

  it('names the invalid field', () => {
    const error = validationErrorOf(() => validateTargetOptions(target('splunk-hec', { index: 'Main Index' })));
    expect(error.field).toBe('options.index');
    expect(error.message).toBe(
      'target "siem" (splunk-hec): options.index: must be a Splunk index name (lowercase letters, digits, _ and -)',
    );
  });

  it('names an unknown option', () => {
    const error = validationErrorOf(() => validateTargetOptions(target('webhook', { secret: 'whsec_x' })));
    expect(error.field).toBe('options.secret');
    expect(error.message).toMatch(/^target "siem" \(webhook\): options\.secret: /);
  });

  it('names a nested field', () => {
    const error = validationErrorOf(() =>
      validateTargetOptions(target('sumo-logic', { fields: { env: 'prod,team=x' } })),
    );
    expect(error.field).toBe('options.fields.env');
    expect(error.issues).toEqual([
      { path: 'options.fields.env', message: 'must not contain ",", "=" or control characters' },
    ]);
  });

  it('refuses a header value with a line break (header injection)', () => {
    const error = validationErrorOf(() =>
      validateTargetOptions(target('sumo-logic', { category: 'a\r\nX-Sumo-Host: evil' })),
    );
    expect(error.field).toBe('options.category');
  });

  it('refuses a channel that is not a GUID', () => {
    const error = validationErrorOf(() => validateTargetOptions(target('splunk-hec', { channel: 'my-channel' })));
    expect(error.field).toBe('options.channel');
  });
});

describe('sizeBatches', () => {
  const entries = (...texts: string[]) => texts.map((text, i) => ({ id: `e${i}`, text }));
  const texts = (batches: { text: string }[][]) => batches.map((b) => b.map((e) => e.text));
  const limits = (maxBytes: number, maxCount: number, separator = 0) => ({
    maxBytes,
    maxCount,
    separator,
    overhead: 0,
    what: 'test limit',
  });

  it('splits by count and by bytes, in order, never leaving a record out', () => {
    expect(texts(sizeBatches(entries('a', 'b', 'c', 'd', 'e'), limits(1000, 2)))).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e'],
    ]);
    expect(texts(sizeBatches(entries('aaa', 'bbb', 'ccc'), limits(6, 10)))).toEqual([['aaa', 'bbb'], ['ccc']]);
    // With a one-byte separator, two 3-byte records need 7 bytes.
    expect(texts(sizeBatches(entries('aaa', 'bbb', 'ccc'), limits(6, 10, 1)))).toEqual([['aaa'], ['bbb'], ['ccc']]);
    expect(texts(sizeBatches(entries('aaa', 'bbb'), limits(7, 10, 1)))).toEqual([['aaa', 'bbb']]);
  });

  it('counts UTF-8 bytes, and refuses a record that can never fit, naming it', () => {
    expect(texts(sizeBatches(entries('éé', 'x'), limits(4, 10)))).toEqual([['éé'], ['x']]);
    expect(() => sizeBatches(entries('x', 'y'.repeat(50)), limits(10, 10))).toThrow(/event e1 is 50 bytes/);
    expect(sizeBatches([], limits(10, 10))).toEqual([]);
  });
});

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { synthKey, synthTemplate } from '#lib/local/synth.ts';

describe('the synthesized template cache', () => {
  it('keys a template by the config overrides and by the contents of what the stack is made from', () => {
    const root = mkdtempSync(join(tmpdir(), 'stint-synth-key-'));
    mkdirSync(join(root, 'infra'));
    writeFileSync(join(root, 'infra', 'stack.ts'), 'export const a = 1;');
    writeFileSync(join(root, 'package-lock.json'), '{}');
    const first = synthKey({}, root);
    expect(synthKey({}, root)).toBe(first);
    expect(synthKey({ stackName: 'Other' }, root)).not.toBe(first);
    writeFileSync(join(root, 'infra', 'stack.ts'), 'export const a = 2;');
    expect(synthKey({}, root)).not.toBe(first);
    writeFileSync(join(root, 'infra', 'stack.ts'), 'export const a = 1;');
    expect(synthKey({}, root)).toBe(first);
    writeFileSync(join(root, 'package-lock.json'), '{"lockfileVersion":3}');
    expect(synthKey({}, root)).not.toBe(first);
  });

  it('answers a template cached under the current key without synthesizing', async () => {
    const overrides = { stackName: `CacheProbe${Date.now()}` };
    const planted = { Description: 'planted', Resources: {} };
    const dir = join(import.meta.dirname, '../../../node_modules/.cache/stint-synth');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${synthKey(overrides)}.json`), JSON.stringify(planted));
    expect(await synthTemplate(overrides)).toEqual(planted);
  });
});

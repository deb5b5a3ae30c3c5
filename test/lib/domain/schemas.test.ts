import { describe, expect, it } from 'vitest';
import { FlowInput } from '#lib/domain/flow.ts';

const base = {
  name: 'Read-only',
  requestors: { everyone: true },
  targets: [{ integrationId: 'pg', resource: 'app', permission: 'readonly' }],
  approval: { mode: 'auto' },
  defaultMinutes: 15,
  maxMinutes: 15,
};

describe('FlowInput', () => {
  it('accepts a self-serve flow and fills defaults', () => {
    const flow = FlowInput.parse(base);
    expect(flow.justificationRequired).toBe(true);
    expect(flow.requestors.groups).toEqual([]);
  });

  it('refuses a default duration above the maximum, naming the field', () => {
    const result = FlowInput.safeParse({ ...base, defaultMinutes: 30 });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['defaultMinutes']);
  });

  it('refuses unknown fields', () => {
    const result = FlowInput.safeParse({ ...base, surprise: 1 });
    expect(result.success).toBe(false);
  });
});

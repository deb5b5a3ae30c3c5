import { describe, expect, it } from 'vitest';
import { FlowInput } from '#lib/domain/flow.ts';

const flow = (extra: Record<string, unknown>) => ({
  name: 'Database admin',
  requestors: { everyone: true },
  targets: [{ integrationId: 'pg', resource: 'app', permission: 'admin' }],
  approval: { mode: 'manual', sets: [{ users: [], groups: ['dba'] }], rule: { type: 'anyOf' }, timeoutMinutes: 60 },
  defaultMinutes: 30,
  maxMinutes: 60,
  ...extra,
});

describe('FlowInput.teamsChannel', () => {
  it.each(['19:a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6@thread.tacv2', '19:ops-approvals_0123456789@thread.skype'])(
    'accepts the Teams channel id %s',
    (teamsChannel) => {
      expect(FlowInput.parse(flow({ teamsChannel })).teamsChannel).toBe(teamsChannel);
    },
  );

  it.each([
    'General',
    'C0123456789',
    '19:abc@unq.gbl.spaces',
    '19:abc@thread.tacv2;messageid=1',
    `19:${'a'.repeat(300)}@thread.tacv2`,
  ])('refuses %s, which is not a Teams channel id', (teamsChannel) => {
    const parsed = FlowInput.safeParse(flow({ teamsChannel }));
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path.join('.'))).toEqual(['teamsChannel']);
  });

  it('is optional', () => {
    expect(FlowInput.parse(flow({})).teamsChannel).toBeUndefined();
  });
});

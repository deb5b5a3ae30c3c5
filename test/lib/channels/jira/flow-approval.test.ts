import { describe, expect, it } from 'vitest';
import { FlowInput, JiraApproval } from '#lib/domain/flow.ts';

const flow = {
  name: 'Prod DB',
  requestors: { everyone: true },
  targets: [{ integrationId: 'pg', resource: 'app', permission: 'readonly' }],
  approval: { mode: 'manual', sets: [{ users: ['approver-1'] }], rule: { type: 'anyOf' }, timeoutMinutes: 60 },
  defaultMinutes: 30,
  maxMinutes: 60,
};

describe('flow.jiraApproval', () => {
  it('accepts a jira target with approve and reject statuses, reject defaulting to none', () => {
    const parsed = FlowInput.parse({ ...flow, jiraApproval: { target: 'tickets', approveStatuses: ['Approved'] } });
    expect(parsed.jiraApproval).toEqual({ target: 'tickets', approveStatuses: ['Approved'], rejectStatuses: [] });
  });

  it('refuses a status that both approves and rejects, whatever its case', () => {
    const result = JiraApproval.safeParse({ target: 'tickets', approveStatuses: ['Done'], rejectStatuses: ['done'] });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['rejectStatuses', 'a status cannot both approve and reject'],
    ]);
  });

  it('refuses unknown keys and an empty approve list', () => {
    expect(JiraApproval.safeParse({ target: 'tickets', approveStatuses: ['A'], extra: 1 }).success).toBe(false);
    expect(JiraApproval.safeParse({ target: 'tickets', approveStatuses: [] }).success).toBe(false);
    expect(JiraApproval.safeParse({ target: 'Tickets!', approveStatuses: ['A'] }).success).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { ProblemError } from '../../portal/src/api/problem.ts';

describe("the portal's reading of a problem+json", () => {
  it('keys field messages by their path in the request body, whatever prefix or index notation the API used', () => {
    const problem = new ProblemError(400, {
      type: 'https://stint.dev/problems/validation',
      title: 'Invalid request',
      status: 400,
      detail: 'durationMinutes: must be at most 60',
      field: 'body.durationMinutes',
      errors: [
        { field: 'body.durationMinutes', message: 'must be at most 60' },
        { field: 'body.targets[0].resource', message: 'unknown resource' },
        { field: ['approval', 'sets', 2, 'groups'], message: 'at least one group' },
        { field: 'query.status', message: 'not a status' },
      ],
    });
    expect(problem.fields).toEqual({
      durationMinutes: 'must be at most 60',
      'targets.0.resource': 'unknown resource',
      'approval.sets.2.groups': 'at least one group',
      'query.status': 'not a status',
    });
    expect(problem.field).toBe('durationMinutes');
    expect(problem.forField('targets.0.resource')).toBe('unknown resource');
    expect(problem.message).toBe('durationMinutes: must be at most 60');
  });

  it('puts the detail on the named field when the problem lists no errors', () => {
    const problem = new ProblemError(409, { title: 'Conflict', status: 409, detail: 'flow exists', field: 'body.id' });
    expect(problem.fields).toEqual({ id: 'flow exists' });
    expect(problem.status).toBe(409);
  });
});

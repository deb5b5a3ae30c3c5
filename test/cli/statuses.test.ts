import { describe, expect, it } from 'vitest';
import { RequestStatus } from '#lib/domain/request.ts';
import { STATUSES } from '../../cli/src/statuses.ts';

describe('the CLI’s request statuses', () => {
  it('are the domain’s, in the same order', () => {
    expect([...STATUSES]).toEqual(RequestStatus.options);
  });
});

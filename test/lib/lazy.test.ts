import { describe, expect, it } from 'vitest';
import { lazy } from '#lib/lazy.ts';

describe('lazy', () => {
  it('builds the value on first use only, and keeps it', () => {
    let built = 0;
    const value = lazy(() => ({ n: ++built }));
    expect(built).toBe(0);
    const first = value();
    expect(value()).toBe(first);
    expect(built).toBe(1);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { lazy } from '#lib/lazy.ts';

const SCOPE_HOOK = Symbol.for('stint.local.scope');
const hooks = globalThis as { [SCOPE_HOOK]?: () => object | undefined };
const before = hooks[SCOPE_HOOK];
afterEach(() => {
  if (before === undefined) delete hooks[SCOPE_HOOK];
  else hooks[SCOPE_HOOK] = before;
});

describe('lazy', () => {
  it('builds the value on first use only, and keeps it', () => {
    let built = 0;
    const value = lazy(() => ({ n: ++built }));
    expect(built).toBe(0);
    const first = value();
    expect(value()).toBe(first);
    expect(built).toBe(1);
  });

  it('keeps one value per scope the local runtime names (one per function), and one outside any', () => {
    const a = {};
    const b = {};
    let scope: object | undefined;
    hooks[SCOPE_HOOK] = () => scope;
    let built = 0;
    const value = lazy(() => ({ n: ++built }));

    scope = a;
    const ofA = value();
    scope = b;
    const ofB = value();
    scope = undefined;
    const outside = value();
    scope = a;

    expect([ofA.n, ofB.n, outside.n]).toEqual([1, 2, 3]);
    expect(value()).toBe(ofA);
    expect(built).toBe(3);
  });
});

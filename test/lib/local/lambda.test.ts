import { describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { LambdaError, LambdaTimeoutError, LocalLambda } from '#lib/local/lambda.ts';
import { loadTemplate } from '#lib/local/template.ts';

const repoRoot = new URL('../../../', import.meta.url).pathname;
const fn = (entry: string | undefined, env: Record<string, unknown>, timeout?: number) => ({
  Type: 'AWS::Lambda::Function',
  Properties: { Environment: { Variables: env }, ...(timeout ? { Timeout: timeout } : {}) },
  ...(entry ? { Metadata: { 'stint:entry': entry } } : {}),
});
const HELLO = 'test/fixtures/local/handlers/hello.ts';
const SLOW = 'test/fixtures/local/handlers/slow.ts';

describe('LocalLambda', () => {
  it('invokes the stint:entry handler with a Lambda-like context and counts the invocation', async () => {
    const lambda = new LocalLambda(loadTemplate({ Resources: { Hello: fn(HELLO, {}, 30) } }), repoRoot);
    const result = await lambda.invoke('Hello', { greeting: 'hi' });
    expect(result).toMatchObject({ greeting: 'hi', functionName: 'Hello', requestId: expect.any(String) });
    const { remaining } = z.object({ remaining: z.number() }).parse(result);
    expect(remaining).toBeGreaterThan(25_000);
    expect(remaining).toBeLessThanOrEqual(30_000);
    expect(lambda.stats().invocations).toEqual({ Hello: 1 });
    expect(Object.keys(lambda.stats().coldImportMs)).toEqual(['Hello']);
  });

  it("sums the time spent in each function's handler over its invocations (what Lambda bills as duration)", async () => {
    const lambda = new LocalLambda(
      loadTemplate({ Resources: { Slow: fn(SLOW, {}, 5), Hello: fn(HELLO, {}, 5) } }),
      repoRoot,
    );
    await lambda.invoke('Slow', { id: 'first', sleepMs: 120 });
    await lambda.invoke('Slow', { id: 'second', sleepMs: 120 });
    const { durationMs } = lambda.stats();
    expect(Object.keys(durationMs)).toEqual(['Slow']); // a function never invoked has no duration
    expect(durationMs.Slow).toBeGreaterThanOrEqual(200); // both sleeps, not one
  });

  it('finds a function by ARN, qualified ARN and entry path', async () => {
    const t = loadTemplate({ Resources: { Hello: fn(HELLO, {}) } });
    const lambda = new LocalLambda(t, repoRoot);
    expect(lambda.find(t.functionArn('Hello')).id).toBe('Hello');
    expect(lambda.find(`${t.functionArn('Hello')}:live`).id).toBe('Hello');
    expect(lambda.find(HELLO).id).toBe('Hello');
    expect(() => lambda.find('Nope')).toThrow(LambdaError);
  });

  it('surfaces a handler error with its name', async () => {
    const lambda = new LocalLambda(loadTemplate({ Resources: { Hello: fn(HELLO, {}) } }), repoRoot);
    await expect(lambda.invoke('Hello', { fail: true })).rejects.toMatchObject({ name: 'PermanentError' });
  });

  it('gives each function its resolved template environment', () => {
    const lambda = new LocalLambda(
      loadTemplate({
        Resources: {
          T: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'stint' } },
          A: fn(HELLO, { TABLE: { Ref: 'T' }, ONLY_A: 'a' }),
          B: fn(HELLO, { TABLE: 'other', N: 3 }),
          NoEntry: fn(undefined, { TABLE: 'other' }),
        },
      }),
      repoRoot,
    );
    expect(lambda.find('A').environment).toEqual({ TABLE: 'stint', ONLY_A: 'a' });
    expect(lambda.environmentOf('B')).toMatchObject({ TABLE: 'other', N: '3' });
    expect(lambda.environmentOf('B')).not.toHaveProperty('ONLY_A');
    expect(lambda.functions().map((f) => f.id)).toEqual(['A', 'B']);
  });

  it('rejects an entry that does not export a handler', async () => {
    const lambda = new LocalLambda(
      loadTemplate({ Resources: { Bad: fn('test/fixtures/local/stack.ts', {}) } }),
      repoRoot,
    );
    await expect(lambda.invoke('Bad', {})).rejects.toThrow(/does not export a handler/);
  });

  it('fails an invocation that runs past the function timeout with Sandbox.Timedout, discarding the late result', async () => {
    const lambda = new LocalLambda(loadTemplate({ Resources: { Slow: fn(SLOW, {}, 1) } }), repoRoot);
    const { finished } = await import('../../fixtures/local/handlers/slow.ts');
    const late = lambda.invoke('Slow', { id: 'late', sleepMs: 1_300 });
    await expect(late).rejects.toMatchObject({
      name: 'Sandbox.Timedout',
      message: expect.stringMatching(/^RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds$/),
    });
    await expect(late).rejects.toBeInstanceOf(LambdaTimeoutError);
    expect(finished).not.toContain('late'); // still running when the invocation failed…
    await vi.waitFor(() => expect(finished).toContain('late'), { timeout: 2_000 }); // …and its result went nowhere
    await expect(lambda.invoke('Slow', { id: 'quick', sleepMs: 10 })).resolves.toMatchObject({ statusCode: 200 });
  });
});

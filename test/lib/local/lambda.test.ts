import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LambdaError, LocalLambda } from '#lib/local/lambda.ts';
import { loadTemplate } from '#lib/local/template.ts';

const repoRoot = new URL('../../../', import.meta.url).pathname;
const fn = (entry: string | undefined, env: Record<string, unknown>, timeout?: number) => ({
  Type: 'AWS::Lambda::Function',
  Properties: { Environment: { Variables: env }, ...(timeout ? { Timeout: timeout } : {}) },
  ...(entry ? { Metadata: { 'stint:entry': entry } } : {}),
});
const HELLO = 'test/fixtures/local/handlers/hello.ts';

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

  it('merges the resolved environments of every function', () => {
    const lambda = new LocalLambda(
      loadTemplate({
        Resources: {
          T: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'stint' } },
          A: fn(HELLO, { TABLE: { Ref: 'T' }, ONLY_A: 'a' }),
          B: fn(HELLO, { TABLE: 'stint', N: 3 }),
          NoEntry: fn(undefined, { TABLE: 'other' }),
        },
      }),
      repoRoot,
    );
    expect(lambda.mergedEnvironment()).toEqual({ TABLE: 'stint', ONLY_A: 'a', N: '3' });
    expect(lambda.functions().map((f) => f.id)).toEqual(['A', 'B']);
  });

  it('fails loudly when two functions set one variable to different values', () => {
    const lambda = new LocalLambda(
      loadTemplate({ Resources: { A: fn(HELLO, { TABLE: 'one' }), B: fn(HELLO, { TABLE: 'two' }) } }),
      repoRoot,
    );
    expect(() => lambda.mergedEnvironment()).toThrow(/A sets TABLE=one but B sets TABLE=two/);
  });

  it('rejects an entry that does not export a handler', async () => {
    const lambda = new LocalLambda(
      loadTemplate({ Resources: { Bad: fn('test/fixtures/local/stack.ts', {}) } }),
      repoRoot,
    );
    await expect(lambda.invoke('Bad', {})).rejects.toThrow(/does not export a handler/);
  });
});

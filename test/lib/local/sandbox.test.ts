import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { LocalLambda } from '#lib/local/lambda.ts';
import { loadTemplate } from '#lib/local/template.ts';

const repoRoot = new URL('../../../', import.meta.url).pathname;
const fn = (entry: string, env: Record<string, string>) => ({
  Type: 'AWS::Lambda::Function',
  Properties: { Environment: { Variables: env }, Timeout: 10 },
  Metadata: { 'stint:entry': `test/fixtures/local/handlers/sandbox/${entry}.ts` },
});
const Seen = z.object({
  atColdStart: z.string().nullable(),
  tableAtFirstUse: z.string().nullable(),
  table: z.string().nullable(),
  onlyA: z.string().nullable(),
  hasOnlyB: z.boolean(),
  keys: z.array(z.string()),
  setByHandler: z.string().nullable(),
  tableName: z.string(),
});

let lambda: LocalLambda;
beforeAll(() => {
  lambda = new LocalLambda(
    loadTemplate({
      Resources: {
        A: fn('a', { TABLE: 'table-a', ONLY_A: 'secret-of-a', STINT_TABLE_NAME: 'stint-a' }),
        B: fn('b', { TABLE: 'table-b', ONLY_B: 'b' }),
      },
    }),
    repoRoot,
    { base: { AWS_REGION: 'local' } },
  );
});
const invoke = async (id: string, event: object) => Seen.parse(await lambda.invoke(id, event));
afterEach(() => vi.unstubAllEnvs());

describe('each local function sees exactly its own environment', () => {
  it("sees its own variables and never another function's, at cold start, in singletons and while both run", async () => {
    // A is still waiting when B runs to the end: each reads its own after the other's invocation.
    const [a, b] = await Promise.all([invoke('A', { sleepMs: 50 }), invoke('B', {})]);

    expect(a).toMatchObject({
      atColdStart: 'secret-of-a',
      tableAtFirstUse: 'table-a',
      table: 'table-a',
      onlyA: 'secret-of-a',
      hasOnlyB: false,
      tableName: 'stint-a',
    });
    expect(b).toMatchObject({
      atColdStart: null,
      tableAtFirstUse: 'table-b',
      table: 'table-b',
      onlyA: null,
      hasOnlyB: true,
      // B's template gives it no table: its configuration says so, as it would in AWS.
      tableName: 'Configuration error: environment variable STINT_TABLE_NAME is not set for this function',
    });
    expect(b.keys).toEqual(Object.keys(lambda.environmentOf('B')).sort());
    expect(b.keys).toEqual(expect.arrayContaining(['AWS_LAMBDA_FUNCTION_NAME', 'AWS_REGION', 'ONLY_B', 'TABLE']));
    expect(b.keys).not.toContain('ONLY_A');
    expect(b.keys).not.toContain('STINT_TABLE_NAME');
    // The test process's own variables (vitest sets VITEST) are not the function's.
    expect(process.env.VITEST).toBeDefined();
    expect(b.keys).not.toContain('VITEST');
    expect(lambda.environmentOf('B')).toMatchObject({ AWS_LAMBDA_FUNCTION_NAME: 'B', AWS_REGION: 'local' });
  });

  it('keeps what a handler sets in process.env to that function, and the process environment out of it', async () => {
    vi.stubEnv('SET_OUTSIDE', 'by-the-test');
    const a = await invoke('A', { set: 'a-was-here' });
    const again = await invoke('A', {});
    const b = await invoke('B', {});

    expect(a.setByHandler).toBe('a-was-here');
    expect(again.setByHandler).toBe('a-was-here'); // the same sandbox on the next invocation, as a warm Lambda
    expect(b.setByHandler).toBeNull();
    expect(process.env.SET_BY_HANDLER).toBeUndefined();
    expect(a.keys).not.toContain('SET_OUTSIDE');
  });

  it('shows the process its own environment outside any handler', async () => {
    await invoke('A', {});
    expect(process.env.ONLY_A).toBeUndefined();
    expect(process.env.TABLE).toBeUndefined();
    expect('ONLY_B' in process.env).toBe(false);
    expect(Object.keys(process.env)).toContain('VITEST');
  });
});

describe('local stand-ins for a function environment', () => {
  const stack = loadTemplate({
    Resources: {
      A: fn('a', { ISSUER: 'https://cognito.example.com', SECRET_REF: 'arn:aws:secretsmanager:x' }),
      B: fn('b', { OTHER: 'o' }),
    },
  });

  it('replaces a variable only where the template sets it, and gives every function the ones no template sets', () => {
    const local = new LocalLambda(stack, repoRoot, {
      replace: { ISSUER: 'http://127.0.0.1/_local', OTHER: undefined, NOWHERE: 'x' },
      env: { SECRET_REF: 'env:THE_SECRET', THE_SECRET: 's3cret' },
    });
    expect(local.environmentOf('A')).toMatchObject({
      ISSUER: 'http://127.0.0.1/_local',
      SECRET_REF: 'env:THE_SECRET',
      THE_SECRET: 's3cret',
    });
    expect(local.environmentOf('B')).toMatchObject({ THE_SECRET: 's3cret' });
    expect(local.environmentOf('B')).not.toHaveProperty('OTHER'); // removed where set
    expect(local.environmentOf('B')).not.toHaveProperty('ISSUER');
    expect(local.environmentOf('B')).not.toHaveProperty('SECRET_REF');
    expect(local.environmentOf('A')).not.toHaveProperty('NOWHERE');
  });

  it('leaves out the variables Node reads only when the process starts', () => {
    const local = new LocalLambda(
      loadTemplate({ Resources: { A: fn('a', { NODE_OPTIONS: '--enable-source-maps', KEPT: 'k' }) } }),
      repoRoot,
    );
    expect(local.environmentOf('A')).toMatchObject({ KEPT: 'k' });
    expect(local.environmentOf('A')).not.toHaveProperty('NODE_OPTIONS');
  });
});

import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { LocalLambda } from '#lib/local/lambda.ts';
import { LocalStepFunctions, namedError, TaskTokenRegistry } from '#lib/local/stepfunctions.ts';
import { loadTemplate } from '#lib/local/template.ts';
import { sdkConfig, serveAws } from './aws-server.ts';

const definition = {
  StartAt: 'Wait',
  States: {
    Wait: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: 'Register', Payload: { 'id.$': '$.id', 'token.$': '$$.Task.Token' } },
      TimeoutSecondsPath: '$.waitSeconds',
      ResultPath: '$.resume',
      Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'TimedOut' }],
      Next: 'Work',
    },
    Work: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: 'Work', 'Payload.$': '$' },
      ResultSelector: { 'v.$': '$.Payload.v', 's.$': '$.StatusCode' },
      ResultPath: '$.work',
      Retry: [{ ErrorEquals: ['TransientError'], IntervalSeconds: 1, MaxAttempts: 2 }],
      Catch: [{ ErrorEquals: ['PermanentError'], ResultPath: '$.error', Next: 'Failed' }],
      End: true,
    },
    TimedOut: { Type: 'Pass', Result: 'timed-out', ResultPath: '$.outcome', End: true },
    Failed: { Type: 'Pass', Result: 'failed', ResultPath: '$.outcome', End: true },
  },
};
const template = loadTemplate({
  Resources: {
    Machine: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: { DefinitionString: { 'Fn::Join': ['', [JSON.stringify(definition)]] } },
    },
  },
});
const MACHINE = 'arn:aws:states:local:000000000000:stateMachine:Machine';

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
  vi.useRealTimers();
});

type Behaviour = { work?: (payload: unknown, attempt: number) => unknown; registerDelayMs?: number };
async function setup(behaviour: Behaviour = {}) {
  const tokens: string[] = [];
  const registered: ((token: string) => void)[] = [];
  let workAttempts = 0;
  const sfn = new LocalStepFunctions(template, {
    invoke: async (fn, payload) => {
      if (fn === 'Register') {
        const { token } = z.object({ token: z.string() }).parse(payload);
        if (behaviour.registerDelayMs !== undefined) await new Promise((r) => setTimeout(r, behaviour.registerDelayMs));
        tokens.push(token);
        for (const r of registered.splice(0)) r(token);
        return null;
      }
      workAttempts += 1;
      return behaviour.work ? behaviour.work(payload, workAttempts) : { v: 'worked' };
    },
  });
  stops.push(() => sfn.stop());
  const server = await serveAws({ AWSStepFunctions: sfn });
  const client = new SFNClient(sdkConfig(server.url));
  stops.push(async () => {
    client.destroy();
    await server.close();
  });
  /** Resolves with the next task token handed to the Register function. */
  const nextToken = () => new Promise<string>((resolve) => registered.push(resolve));
  return { sfn, client, tokens, nextToken, attempts: () => workAttempts };
}

describe('LocalStepFunctions', () => {
  it('resumes a waitForTaskToken task on SendTaskSuccess and returns the lambda:invoke result shape', async () => {
    const { sfn, client, nextToken } = await setup();
    const token = nextToken();
    const started = await client.send(
      new StartExecutionCommand({
        stateMachineArn: MACHINE,
        name: 'r1',
        input: JSON.stringify({ id: 'r1', waitSeconds: 60 }),
      }),
    );
    expect(started.executionArn).toBe('arn:aws:states:local:000000000000:execution:Machine:r1');
    await client.send(
      new SendTaskSuccessCommand({ taskToken: await token, output: JSON.stringify({ approved: true }) }),
    );
    const done = await sfn.waitForExecution(started.executionArn ?? '');
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output ?? '')).toEqual({
      id: 'r1',
      waitSeconds: 60,
      resume: { approved: true },
      work: { v: 'worked', s: 200 },
    });
    const described = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    expect(described.status).toBe('SUCCEEDED');
    expect(described.startDate).toBeInstanceOf(Date);
    expect(sfn.stateTransitions()).toBe(2);
  });

  it('times a wait out after TimeoutSecondsPath seconds of the state input, into Catch States.Timeout', async () => {
    const { sfn, client, nextToken } = await setup();
    const token = nextToken();
    const { executionArn } = sfn.startExecution(MACHINE, 't1', JSON.stringify({ id: 't1', waitSeconds: 1 }));
    const done = await sfn.waitForExecution(executionArn);
    expect(JSON.parse(done.output ?? '')).toMatchObject({ outcome: 'timed-out', error: { Error: 'States.Timeout' } });
    await expect(
      client.send(new SendTaskSuccessCommand({ taskToken: await token, output: '{}' })),
    ).rejects.toBeInstanceOf(TaskTimedOut);
  });

  it('times a wait out while its Lambda still runs without an unhandled rejection, into Catch States.Timeout', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    stops.push(() => void process.off('unhandledRejection', onUnhandled));
    const { sfn } = await setup({ registerDelayMs: 1_500 });
    const { executionArn } = sfn.startExecution(MACHINE, 't2', JSON.stringify({ id: 't2', waitSeconds: 1 }));
    const done = await sfn.waitForExecution(executionArn);
    // Node reports unhandled rejections after the microtask queue drains: give it a turn of the event loop.
    await new Promise((r) => setImmediate(r));
    expect(JSON.parse(done.output ?? '')).toMatchObject({ outcome: 'timed-out', error: { Error: 'States.Timeout' } });
    expect(unhandled).toEqual([]);
  });

  it('retries a task on a named Lambda error and catches a permanent one with its cause', async () => {
    const transient = await setup({
      work: (_p, n) => (n === 1 ? Promise.reject(namedError('TransientError', 'later')) : { v: 'second' }),
    });
    const token = transient.nextToken();
    const a = transient.sfn.startExecution(MACHINE, 'a', JSON.stringify({ id: 'a', waitSeconds: 60 }));
    transient.sfn.tokens.succeed(await token, {});
    expect(JSON.parse((await transient.sfn.waitForExecution(a.executionArn)).output ?? '')).toMatchObject({
      work: { v: 'second' },
    });
    expect(transient.attempts()).toBe(2);

    const permanent = await setup({ work: () => Promise.reject(namedError('PermanentError', 'no such role')) });
    const token2 = permanent.nextToken();
    const b = permanent.sfn.startExecution(MACHINE, 'b', JSON.stringify({ id: 'b', waitSeconds: 60 }));
    permanent.sfn.tokens.succeed(await token2, {});
    const out = JSON.parse((await permanent.sfn.waitForExecution(b.executionArn)).output ?? '');
    expect(out.outcome).toBe('failed');
    expect(out.error.Error).toBe('PermanentError');
    expect(JSON.parse(out.error.Cause)).toEqual({ errorType: 'PermanentError', errorMessage: 'no such role' });
    expect(permanent.attempts()).toBe(1);
  });

  it('fails the execution with the error of SendTaskFailure when no catcher matches', async () => {
    const { sfn, client, nextToken } = await setup();
    const token = nextToken();
    const { executionArn } = sfn.startExecution(MACHINE, 'f', JSON.stringify({ id: 'f', waitSeconds: 60 }));
    await client.send(new SendTaskFailureCommand({ taskToken: await token, error: 'Rejected', cause: 'by approver' }));
    const done = await sfn.waitForExecution(executionArn);
    expect([done.status, done.error, done.cause]).toEqual(['FAILED', 'Rejected', 'by approver']);
  });

  it('returns the running execution for the same name and input, and ExecutionAlreadyExists otherwise', async () => {
    const { sfn, client, nextToken } = await setup();
    const token = nextToken();
    const input = JSON.stringify({ id: 'd', waitSeconds: 60 });
    const first = await client.send(new StartExecutionCommand({ stateMachineArn: MACHINE, name: 'd', input }));
    const again = await client.send(new StartExecutionCommand({ stateMachineArn: MACHINE, name: 'd', input }));
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate).toEqual(first.startDate);
    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn: MACHINE, name: 'd', input: '{"id":"other"}' })),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    sfn.tokens.succeed(await token, {});
    await sfn.waitForExecution(first.executionArn ?? '');
    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn: MACHINE, name: 'd', input })),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
  });

  it('answers InvalidToken for a malformed token and TaskDoesNotExist for an unknown or used one', async () => {
    const { sfn, client, nextToken } = await setup();
    await expect(
      client.send(new SendTaskSuccessCommand({ taskToken: 'garbage', output: '{}' })),
    ).rejects.toBeInstanceOf(InvalidToken);
    await expect(
      client.send(new SendTaskSuccessCommand({ taskToken: 'stint-local-unknown', output: '{}' })),
    ).rejects.toBeInstanceOf(TaskDoesNotExist);
    const token = nextToken();
    sfn.startExecution(MACHINE, 'u', JSON.stringify({ id: 'u', waitSeconds: 60 }));
    const t = await token;
    await client.send(new SendTaskSuccessCommand({ taskToken: t, output: '{}' }));
    await expect(client.send(new SendTaskSuccessCommand({ taskToken: t, output: '{}' }))).rejects.toBeInstanceOf(
      TaskDoesNotExist,
    );
  });

  it('stops an execution: ABORTED, and its token no longer exists', async () => {
    const { sfn, client, nextToken } = await setup();
    const token = nextToken();
    const { executionArn } = sfn.startExecution(MACHINE, 's', JSON.stringify({ id: 's', waitSeconds: 60 }));
    const t = await token;
    await client.send(new StopExecutionCommand({ executionArn }));
    expect(sfn.describeExecution(executionArn).status).toBe('ABORTED');
    await expect(client.send(new SendTaskSuccessCommand({ taskToken: t, output: '{}' }))).rejects.toBeInstanceOf(
      TaskDoesNotExist,
    );
  });

  it('rejects a definition with a task resource the local runtime cannot run', () => {
    const bad = loadTemplate({
      Resources: {
        M: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            DefinitionString: JSON.stringify({
              StartAt: 'Put',
              States: { Put: { Type: 'Task', Resource: 'arn:aws:states:::dynamodb:putItem', End: true } },
            }),
          },
        },
      },
    });
    expect(() => new LocalStepFunctions(bad, { invoke: async () => null })).toThrow(
      /not supported by the local runtime/,
    );
  });
});

describe('TaskTokenRegistry', () => {
  it('keeps a wait longer than 2^31 ms pending until its time, then rejects with States.Timeout', async () => {
    vi.useFakeTimers();
    const registry = new TaskTokenRegistry();
    const thirtyDays = 30 * 24 * 3600 * 1000;
    const { promise } = registry.mint('e', thirtyDays);
    const settled = promise.then(
      () => 'resolved',
      (e: Error) => e.name,
    );
    await vi.advanceTimersByTimeAsync(2 ** 31 + 1000);
    expect(registry.pendingCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(thirtyDays - 2 ** 31);
    expect(await settled).toBe('States.Timeout');
    expect(registry.pendingCount()).toBe(0);
  });
});

describe('LocalStepFunctions with a Lambda that times out', () => {
  it('reports a function timeout as Lambda.Unknown with the Sandbox.Timedout cause, which the Catch handles', async () => {
    const slowTemplate = loadTemplate({
      Resources: {
        Slow: {
          Type: 'AWS::Lambda::Function',
          Properties: { Timeout: 1 },
          Metadata: { 'stint:entry': 'test/fixtures/local/handlers/slow.ts' },
        },
        Machine: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            DefinitionString: JSON.stringify({
              StartAt: 'Slow',
              States: {
                Slow: {
                  Type: 'Task',
                  Resource: 'arn:aws:states:::lambda:invoke',
                  Parameters: { FunctionName: 'Slow', 'Payload.$': '$' },
                  Catch: [{ ErrorEquals: ['Lambda.Unknown'], ResultPath: '$.error', Next: 'TimedOut' }],
                  End: true,
                },
                TimedOut: { Type: 'Pass', Result: 'timed-out', ResultPath: '$.outcome', End: true },
              },
            }),
          },
        },
      },
    });
    const lambda = new LocalLambda(slowTemplate, new URL('../../../', import.meta.url).pathname);
    const sfn = new LocalStepFunctions(slowTemplate, { invoke: (fn, payload) => lambda.invoke(fn, payload) });
    stops.push(() => sfn.stop());
    const { executionArn } = sfn.startExecution(MACHINE, 'slow', JSON.stringify({ id: 'sfn', sleepMs: 1_300 }));
    const done = await sfn.waitForExecution(executionArn);
    const out = z
      .object({ outcome: z.string(), error: z.object({ Error: z.string(), Cause: z.string() }) })
      .parse(JSON.parse(done.output ?? '{}'));
    expect([done.status, out.outcome, out.error.Error]).toEqual(['SUCCEEDED', 'timed-out', 'Lambda.Unknown']);
    expect(JSON.parse(out.error.Cause)).toMatchObject({
      errorType: 'Sandbox.Timedout',
      errorMessage: expect.stringMatching(/Task timed out after 1\.00 seconds$/),
    });
  });
});

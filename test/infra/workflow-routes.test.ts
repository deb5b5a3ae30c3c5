import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalStepFunctions } from '#lib/local/stepfunctions.ts';
import { type LocalTemplate, loadTemplate } from '#lib/local/template.ts';
import type { LoadOutput } from '#lib/workflow/contract.ts';
import { type CfnTemplate, functionByEntry, onlyResourceOfType, synth } from './synth.ts';

/**
 * The synthesized definition run by the local engine with stand-in step functions: where an execution goes with and
 * without a route in its input, and with a branch no state knows.
 */
let cfn: CfnTemplate;
let template: LocalTemplate;
let machineArn: string;
beforeAll(() => {
  ({ cfn } = synth({ stackName: 'StintTest' }));
  template = loadTemplate(cfn);
  machineArn = template.stateMachineArn(onlyResourceOfType(cfn, 'AWS::StepFunctions::StateMachine')[0]);
});

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

const grantRoute: LoadOutput = {
  next: 'grant',
  waitSeconds: 1,
  version: 2,
  driver: 'postgresql',
  branch: 'grant:postgresql',
  integrationIds: ['pg'],
};
const doneRoute: LoadOutput = {
  next: 'done',
  waitSeconds: 1,
  version: 5,
  driver: 'postgresql',
  branch: 'done',
  integrationIds: [],
};

/** Runs one execution; Load answers `loads` (then the grant's route forever), the grant driver answers done. */
async function run(input: unknown, loads: unknown[] = []) {
  const load = functionByEntry(cfn, 'functions/workflow/load.ts').logicalId;
  const driver = functionByEntry(cfn, 'functions/workflow/driver-postgresql.ts').logicalId;
  const invoked: string[] = [];
  const driverInputs: unknown[] = [];
  const sfn = new LocalStepFunctions(template, {
    invoke: async (ref, event) => {
      const fn = template.functionId(ref);
      if (fn === load) {
        invoked.push('load');
        return loads.shift() ?? grantRoute;
      }
      if (fn === driver) {
        invoked.push('grant');
        driverInputs.push(event);
        return doneRoute;
      }
      throw new Error(`unexpected function ${ref}`);
    },
  });
  stops.push(() => sfn.stop());
  const { executionArn } = sfn.startExecution(machineArn, 'r1', JSON.stringify(input));
  const done = await sfn.waitForExecution(executionArn);
  return { done, invoked, driverInputs, transitions: sfn.stateTransitions() };
}

describe('routing of the synthesized state machine', () => {
  it('loads first when the input has no route (a resumed execution: only requestId and attempt)', async () => {
    const { done, invoked, transitions } = await run({ requestId: 'r1', attempt: 1 });

    expect(done.status).toBe('SUCCEEDED');
    expect(invoked).toEqual(['load', 'grant']);
    // Route, Load, Route, GrantPostgresql, Route, Done.
    expect(transitions).toBe(6);
  });

  it('goes straight to the step of the route in its input, and on by the route the step answers', async () => {
    const { done, invoked, transitions } = await run({ requestId: 'r1', attempt: 0, load: grantRoute });

    expect(done.status).toBe('SUCCEEDED');
    expect(invoked).toEqual(['grant']);
    // Route, GrantPostgresql, Route, Done.
    expect(transitions).toBe(4);
  });

  it('hands the driver step the route that chose it, with the integrations to read alongside the request', async () => {
    const fromCaller = await run({
      requestId: 'r1',
      attempt: 0,
      load: { ...grantRoute, integrationIds: ['pg', 'ro'] },
    });
    const fromLoad = await run({ requestId: 'r1', attempt: 1 }, [{ ...grantRoute, integrationIds: ['pg2'] }]);

    expect(fromCaller.driverInputs).toEqual([
      expect.objectContaining({
        requestId: 'r1',
        action: 'grant',
        route: expect.objectContaining({ integrationIds: ['pg', 'ro'] }),
      }),
    ]);
    expect(fromLoad.driverInputs).toEqual([
      expect.objectContaining({
        attempt: 1,
        action: 'grant',
        route: expect.objectContaining({ integrationIds: ['pg2'], loaded: true }),
      }),
    ]);
  });

  it('runs the driver step on a caller route without the hint (a route from before it existed)', async () => {
    const { integrationIds: _hint, ...older } = grantRoute;

    const { done, invoked, driverInputs } = await run({ requestId: 'r1', attempt: 0, load: older });

    expect(done.status).toBe('SUCCEEDED');
    expect(invoked).toEqual(['grant']);
    expect(driverInputs).toEqual([expect.objectContaining({ action: 'grant', route: older })]);
  });

  it('loads when a caller hands a branch no state knows', async () => {
    const { done, invoked } = await run({ requestId: 'r1', attempt: 0, load: { ...grantRoute, branch: 'grant:nope' } });

    expect(done.status).toBe('SUCCEEDED');
    expect(invoked).toEqual(['load', 'grant']);
  });

  it('fails the execution (no loop) when Load itself answers a branch no state knows', async () => {
    const { done, invoked } = await run({ requestId: 'r1', attempt: 0 }, [{ ...grantRoute, branch: 'grant:nope' }]);

    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('UnknownNext');
    expect(invoked).toEqual(['load']);
  });
});

import { describe, expect, it } from 'vitest';
import { loadTemplate, TemplateError } from '#lib/local/template.ts';
import { synthFixtureTemplate } from '../../fixtures/local/stack.ts';

const template = () => loadTemplate(synthFixtureTemplate());

describe('loadTemplate on the synthesized fixture stack', () => {
  it('resolves a function environment to local table, bus and state machine names', () => {
    const t = template();
    const [id, start] =
      t
        .ofType('AWS::Lambda::Function')
        .find(([, r]) => r.Metadata?.['stint:entry'] === 'test/fixtures/local/handlers/start.ts') ?? [];
    expect(id).toBeDefined();
    const env = t.resolve(start?.Properties.Environment);
    const [tableId] = t.ofType('AWS::DynamoDB::GlobalTable')[0] ?? [];
    const [machineId] = t.ofType('AWS::StepFunctions::StateMachine')[0] ?? [];
    expect(env).toEqual({
      Variables: {
        TABLE_NAME: tableId,
        BUS_NAME: 'stint',
        STATE_MACHINE_ARN: `arn:aws:states:local:000000000000:stateMachine:${machineId}`,
      },
    });
  });

  it('resolves the state machine definition (Fn::Join, Ref AWS::Partition, Fn::GetAtt Arn) to parseable JSON', () => {
    const t = template();
    const [, machine] = t.ofType('AWS::StepFunctions::StateMachine')[0] ?? [];
    const definition: unknown = JSON.parse(t.resolveString(machine?.Properties.DefinitionString, 'definition'));
    const [registerId] = t.ofType('AWS::Lambda::Function').find(([id]) => id.startsWith('RegisterFn')) ?? [];
    expect(definition).toMatchObject({
      StartAt: 'WaitForResume',
      States: {
        WaitForResume: {
          Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
          Parameters: { FunctionName: `arn:aws:lambda:local:000000000000:function:${registerId}` },
        },
      },
    });
  });

  it('maps a function name, ARN or qualified ARN back to its logical id', () => {
    const t = template();
    const [id] = t.ofType('AWS::Lambda::Function')[0] ?? [''];
    expect(t.functionId(id)).toBe(id);
    expect(t.functionId(t.functionArn(id))).toBe(id);
    expect(t.functionId(`${t.functionArn(id)}:$LATEST`)).toBe(id);
    expect(t.functionId('arn:aws:lambda:local:000000000000:function:Nope')).toBeUndefined();
  });
});

// biome-ignore-start lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not JS templates
describe('intrinsics', () => {
  const t = loadTemplate({
    Parameters: { Stage: { Type: 'String', Default: 'dev' } },
    Mappings: { Sizes: { dev: { mem: 128 } } },
    Conditions: { IsDev: { 'Fn::Equals': [{ Ref: 'Stage' }, 'dev'] } },
    Resources: {
      T: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'named-table' } },
      F: { Type: 'AWS::Lambda::Function', Properties: {} },
      B: { Type: 'AWS::Events::EventBus', Properties: { Name: { 'Fn::Sub': 'bus-${AWS::Region}' } } },
    },
  });

  it.each([
    [
      { 'Fn::Sub': 'arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${T}' },
      'arn:aws:x:local:000000000000:named-table',
    ],
    [
      { 'Fn::Sub': ['${A}-${F.Arn}-${!Literal}', { A: { Ref: 'Stage' } }] },
      'dev-arn:aws:lambda:local:000000000000:function:F-${Literal}',
    ],
    [{ 'Fn::Select': [1, { 'Fn::Split': [',', 'a,b,c'] }] }, 'b'],
    [{ 'Fn::Join': ['/', ['x', { Ref: 'B' }, 1]] }, 'x/bus-local/1'],
    [{ 'Fn::FindInMap': ['Sizes', { Ref: 'Stage' }, 'mem'] }, 128],
    [{ 'Fn::If': ['IsDev', 'yes', 'no'] }, 'yes'],
    [{ 'Fn::GetAtt': ['T', 'StreamArn'] }, 'arn:aws:dynamodb:local:000000000000:table/named-table/stream/local'],
    [{ 'Fn::GetAtt': 'B.Arn' }, 'arn:aws:events:local:000000000000:event-bus/bus-local'],
    [{ a: [{ Ref: 'AWS::NoValue' }, 1], b: { Ref: 'AWS::NoValue' } }, { a: [1] }],
  ])('resolves %j', (input, expected) => {
    expect(t.resolve(input)).toEqual(expected);
  });

  it('fails loudly on a Ref to an unknown resource', () => {
    expect(() => t.resolve({ Ref: 'Missing' })).toThrow(TemplateError);
  });

  it('fails loudly on an unsupported intrinsic', () => {
    expect(() => t.resolve({ 'Fn::ImportValue': 'x' })).toThrow(/Unsupported intrinsic Fn::ImportValue/);
  });
});
// biome-ignore-end lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax

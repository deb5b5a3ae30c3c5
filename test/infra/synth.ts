import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as z from 'zod';
import { parseStintConfig, type StintConfigInput } from '#infra/config.ts';
import { StintStack } from '#infra/stint-stack.ts';

/** A small built portal (index.html, assets/app.js, and a config.json that must never be uploaded). */
export const PORTAL_FIXTURE_DIST = fileURLToPath(new URL('../fixtures/portal-dist/', import.meta.url));

/**
 * Synthesizes the stack for a test file (once, in a beforeAll). Bundling is skipped
 * (`aws:cdk:bundling-stacks: []`): the template is the same, esbuild does not run. The portal is the fixture build.
 */
export function synth(
  input: StintConfigInput,
  options: { readonly portalDistPath?: string } = {},
): { stack: StintStack; template: Template; cfn: CfnTemplate } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new StintStack(app, 'StintTest', {
    config: parseStintConfig(input),
    portalDistPath: options.portalDistPath ?? PORTAL_FIXTURE_DIST,
  });
  const template = Template.fromStack(stack);
  return { stack, template, cfn: CfnTemplate.parse(template.toJSON()) };
}

const Resource = z.object({
  Type: z.string(),
  Properties: z.record(z.string(), z.unknown()).default({}),
  Metadata: z.record(z.string(), z.unknown()).optional(),
});
export const CfnTemplate = z.object({ Resources: z.record(z.string(), Resource) });
export type CfnTemplate = z.infer<typeof CfnTemplate>;
export type CfnResource = z.infer<typeof Resource>;

export function resourcesOfType(cfn: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(cfn.Resources).filter(([, r]) => r.Type === type);
}

/** The one resource of a type (among those `which` keeps, when given). */
export function onlyResourceOfType(
  cfn: CfnTemplate,
  type: string,
  which: (logicalId: string, resource: CfnResource) => boolean = () => true,
): [string, CfnResource] {
  const found = resourcesOfType(cfn, type).filter(([id, r]) => which(id, r));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  const [only] = found;
  if (only === undefined) throw new Error(`no ${type}`);
  return only;
}

const LambdaFunction = z.object({
  Runtime: z.string(),
  Architectures: z.array(z.string()),
  MemorySize: z.number(),
  Timeout: z.number(),
  TracingConfig: z.object({ Mode: z.string() }),
  LoggingConfig: z.object({ LogGroup: z.object({ Ref: z.string() }) }),
  Role: z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.literal('Arn')]) }),
  Environment: z.object({ Variables: z.record(z.string(), z.unknown()) }),
  VpcConfig: z.object({ SubnetIds: z.array(z.string()), SecurityGroupIds: z.array(z.string()) }).optional(),
});
export type LambdaFunction = z.infer<typeof LambdaFunction> & { logicalId: string; entry: string };

/**
 * CDK's own deployment-time handlers: aws-s3-deployment uploading the portal, and emptying the portal buckets
 * before deletion with `removalPolicy: 'destroy'`. They run during deployments only, are not built with the house
 * construct, and test/infra/portal.test.ts covers them.
 */
const isDeploymentHandler = (logicalId: string): boolean =>
  logicalId.startsWith('CustomCDKBucketDeployment') || logicalId.startsWith('CustomS3AutoDeleteObjects');

/** Every AWS::Lambda::Function but CDK's deployment-time handlers, with its `stint:entry` metadata (undefined when missing). */
export function lambdaFunctions(cfn: CfnTemplate): (Omit<LambdaFunction, 'entry'> & { entry: unknown })[] {
  return resourcesOfType(cfn, 'AWS::Lambda::Function')
    .filter(([logicalId]) => !isDeploymentHandler(logicalId))
    .map(([logicalId, r]) => ({
      logicalId,
      entry: r.Metadata?.['stint:entry'],
      ...LambdaFunction.parse(r.Properties),
    }));
}

export function functionByEntry(cfn: CfnTemplate, entry: string): LambdaFunction {
  const found = lambdaFunctions(cfn).filter((f) => f.entry === entry);
  const [fn] = found;
  if (found.length !== 1 || fn === undefined)
    throw new Error(`expected one function for ${entry}, found ${found.length}`);
  return { ...fn, entry };
}

const Statement = z.object({
  Effect: z.enum(['Allow', 'Deny']),
  Action: z.union([z.string(), z.array(z.string())]),
  Resource: z.unknown(),
  Condition: z.unknown().optional(),
});
export type Statement = { effect: 'Allow' | 'Deny'; actions: string[]; resources: unknown[]; condition?: unknown };
const PolicyDocument = z.object({ Statement: z.array(Statement) });
const IamPolicy = z.object({ PolicyDocument, Roles: z.array(z.object({ Ref: z.string() })) });

/** Every statement of the policies attached to a function's role. */
export function statementsOf(cfn: CfnTemplate, entry: string): Statement[] {
  const roleId = functionByEntry(cfn, entry).Role['Fn::GetAtt'][0];
  const role = cfn.Resources[roleId];
  if (role === undefined) throw new Error(`role ${roleId} not in template`);
  const inline = z
    .object({ Policies: z.array(z.object({ PolicyDocument })).default([]) })
    .parse(role.Properties)
    .Policies.flatMap((p) => p.PolicyDocument.Statement);
  const attached = resourcesOfType(cfn, 'AWS::IAM::Policy')
    .map(([, p]) => IamPolicy.parse(p.Properties))
    .filter((p) => p.Roles.some((r) => r.Ref === roleId))
    .flatMap((p) => p.PolicyDocument.Statement);
  const managed = z.object({ ManagedPolicyArns: z.array(z.unknown()).default([]) }).parse(role.Properties);
  if (managed.ManagedPolicyArns.length > 0) throw new Error(`${entry}: role has managed policies`);
  return [...inline, ...attached].map((s) => ({
    effect: s.Effect,
    actions: typeof s.Action === 'string' ? [s.Action] : s.Action,
    resources: Array.isArray(s.Resource) ? s.Resource : [s.Resource],
    ...(s.Condition === undefined ? {} : { condition: s.Condition }),
  }));
}

/**
 * A function's DynamoDB grants, spelled as lib/store/access.ts spells them: `GetItem` on the table, `Query:gsi1` on
 * that index. Anything else shows as itself (`Scan@<resource>`, `Deny:…`, `*@…`), so an exact comparison catches
 * it. `leadingKeys`: the `dynamodb:LeadingKeys` patterns of the statements that carry a condition, when any does.
 */
export function tableGrants(cfn: CfnTemplate, entry: string): { actions: string[]; leadingKeys?: unknown[] } {
  const [tableId] = onlyResourceOfType(cfn, 'AWS::DynamoDB::GlobalTable');
  const tableArn = { 'Fn::GetAtt': [tableId, 'Arn'] };
  const known = new Map<string, string>([[JSON.stringify(tableArn), '']]);
  for (const index of ['gsi1', 'gsi2', 'gsi3']) {
    known.set(JSON.stringify({ 'Fn::Join': ['', [tableArn, `/index/${index}`]] }), `:${index}`);
  }
  const actions = new Set<string>();
  const leadingKeys: unknown[] = [];
  for (const s of statementsOf(cfn, entry)) {
    const dynamo = s.actions.filter((a) => a.startsWith('dynamodb:') || a === '*');
    if (dynamo.length === 0) continue;
    if (s.condition !== undefined) {
      const parsed = z
        .object({ 'ForAllValues:StringLike': z.object({ 'dynamodb:LeadingKeys': z.array(z.string()) }) })
        .strict()
        .safeParse(s.condition);
      leadingKeys.push(
        ...(parsed.success ? parsed.data['ForAllValues:StringLike']['dynamodb:LeadingKeys'] : [s.condition]),
      );
    }
    for (const action of dynamo) {
      for (const resource of s.resources) {
        const text = JSON.stringify(resource);
        const on = known.get(text) ?? `@${text}`;
        actions.add(`${s.effect === 'Deny' ? 'Deny:' : ''}${action.replace(/^dynamodb:/, '')}${on}`);
      }
    }
  }
  return { actions: [...actions].sort(), ...(leadingKeys.length === 0 ? {} : { leadingKeys: leadingKeys.sort() }) };
}

/** The resources a function may perform `action` on (exact action names; `*` wildcards are not expanded). */
export function allowedResources(cfn: CfnTemplate, entry: string, action: string): unknown[] {
  return statementsOf(cfn, entry)
    .filter((s) => s.effect === 'Allow' && s.actions.includes(action))
    .flatMap((s) => s.resources);
}

/** Every action allowed to a function. */
export function allowedActions(cfn: CfnTemplate, entry: string): Set<string> {
  return new Set(statementsOf(cfn, entry).flatMap((s) => (s.effect === 'Allow' ? s.actions : [])));
}

const State = z.looseObject({
  Type: z.string(),
  Next: z.string().optional(),
  Resource: z.string().optional(),
  TimeoutSeconds: z.number().optional(),
  TimeoutSecondsPath: z.string().optional(),
  SecondsPath: z.string().optional(),
  ResultPath: z.string().nullable().optional(),
  Parameters: z.record(z.string(), z.unknown()).optional(),
  Retry: z
    .array(
      z.object({
        ErrorEquals: z.array(z.string()),
        IntervalSeconds: z.number().optional(),
        MaxAttempts: z.number().optional(),
        BackoffRate: z.number().optional(),
        MaxDelaySeconds: z.number().optional(),
      }),
    )
    .optional(),
  Catch: z
    .array(z.object({ ErrorEquals: z.array(z.string()), Next: z.string(), ResultPath: z.string().optional() }))
    .optional(),
  Choices: z
    .array(
      z.object({
        Variable: z.string().optional(),
        StringEquals: z.string().optional(),
        IsPresent: z.boolean().optional(),
        Not: z.object({ Variable: z.string(), IsPresent: z.boolean() }).optional(),
        Next: z.string(),
      }),
    )
    .optional(),
  Default: z.string().optional(),
});
export type State = z.infer<typeof State>;
const Definition = z.object({ StartAt: z.string(), States: z.record(z.string(), State) });
export type Definition = z.infer<typeof Definition>;

/**
 * The state machine definition, with each CloudFormation intrinsic inside the Fn::Join replaced by a marker
 * such as `<Fn::GetAtt:LogicalId.Arn>` or `<Ref:AWS::Partition>`.
 */
export function stateMachineDefinition(cfn: CfnTemplate): Definition {
  const [, sm] = onlyResourceOfType(cfn, 'AWS::StepFunctions::StateMachine');
  const join = z
    .object({ DefinitionString: z.object({ 'Fn::Join': z.tuple([z.literal(''), z.array(z.unknown())]) }) })
    .parse(sm.Properties).DefinitionString['Fn::Join'][1];
  const text = join.map((part) => (typeof part === 'string' ? part : marker(part))).join('');
  return Definition.parse(JSON.parse(text));
}

function marker(intrinsic: unknown): string {
  const ref = z.object({ Ref: z.string() }).safeParse(intrinsic);
  if (ref.success) return `<Ref:${ref.data.Ref}>`;
  const att = z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.string()]) }).safeParse(intrinsic);
  if (att.success) return `<Fn::GetAtt:${att.data['Fn::GetAtt'][0]}.${att.data['Fn::GetAtt'][1]}>`;
  throw new Error(`unexpected intrinsic in the definition: ${JSON.stringify(intrinsic)}`);
}

import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { StintConfigInput } from '#infra/config.ts';
import { DELIVERY } from '#infra/constructs/delivery.ts';
import type { StintStack } from '#infra/stint-stack.ts';
import { eventPatternFor, TargetConfig, type TargetFilter } from '#lib/targets/config.ts';
import { dlqNameOf, targetOfQueueArn } from '#lib/targets/deliver.ts';
import {
  allowedActions,
  allowedResources,
  type CfnResource,
  type CfnTemplate,
  functionByEntry,
  lambdaFunctions,
  resourcesOfType,
  synth,
  tableGrants,
} from './synth.ts';

const secret = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/${name}-AbC123`;

const SPLUNK_FILTER: TargetFilter = { types: ['grant.active', 'grant.revoked'], minSeverity: 'warning' };
const HOOKS_FILTER: TargetFilter = { flowIds: ['prod-db'], labels: { env: ['prod'] } };

const CONFIG: StintConfigInput = {
  stackName: 'StintTest',
  targets: [
    {
      name: 'splunk',
      kind: 'splunk-hec',
      endpoint: 'https://splunk.example.com:8088/services/collector/event',
      secretRef: secret('splunk'),
      filter: SPLUNK_FILTER,
    },
    {
      name: 'hooks',
      kind: 'webhook',
      endpoint: 'https://hooks.example.com/stint',
      secretRef: secret('hooks'),
      filter: HOOKS_FILTER,
      maxReceiveCount: 4,
    },
    {
      name: 'tickets',
      kind: 'jira',
      endpoint: 'https://acme.atlassian.net',
      secretRef: secret('jira'),
      options: { projectKey: 'SEC' },
    },
  ],
};

const ENTRIES = {
  splunk: 'functions/delivery/splunk-hec.ts',
  hooks: 'functions/delivery/webhook.ts',
  tickets: 'functions/delivery/jira.ts',
} as const;

let stack: StintStack;
let cfn: CfnTemplate;

beforeAll(() => {
  ({ stack, cfn } = synth(CONFIG));
});

const getAtt = (logicalId: string, attribute = 'Arn') => ({ 'Fn::GetAtt': [logicalId, attribute] });

/** The logical id of the queue named `name` (exactly one). */
function queueId(template: CfnTemplate, name: string): string {
  const found = resourcesOfType(template, 'AWS::SQS::Queue').filter(([, q]) => q.Properties.QueueName === name);
  const [only] = found;
  if (found.length !== 1 || only === undefined)
    throw new Error(`expected one queue named ${name}, found ${found.length}`);
  return only[0];
}

function queue(name: string): CfnResource['Properties'] {
  const resource = cfn.Resources[queueId(cfn, name)];
  if (resource === undefined) throw new Error(`no queue ${name}`);
  return resource.Properties;
}

const RuleTarget = z.object({
  Arn: z.unknown(),
  DeadLetterConfig: z.object({ Arn: z.unknown() }).optional(),
  RetryPolicy: z.object({ MaximumEventAgeInSeconds: z.number(), MaximumRetryAttempts: z.number() }).optional(),
  SqsParameters: z.object({ MessageGroupId: z.string() }).optional(),
});
const Rule = z.object({
  EventBusName: z.unknown().optional(),
  EventPattern: z.unknown().optional(),
  Targets: z.array(RuleTarget).default([]),
});

/** Every rule with a target on the queue (logical id). */
function rulesTo(queueLogicalId: string): z.infer<typeof Rule>[] {
  return resourcesOfType(cfn, 'AWS::Events::Rule')
    .map(([, r]) => Rule.parse(r.Properties))
    .filter((r) => r.Targets.some((t) => JSON.stringify(t.Arn) === JSON.stringify(getAtt(queueLogicalId))));
}

const EventSourceMapping = z.object({
  FunctionName: z.object({ Ref: z.string() }),
  EventSourceArn: z.unknown(),
  BatchSize: z.number().optional(),
  MaximumBatchingWindowInSeconds: z.number().optional(),
  FunctionResponseTypes: z.array(z.string()).optional(),
});

function eventSourcesOf(entry: string): z.infer<typeof EventSourceMapping>[] {
  const fn = functionByEntry(cfn, entry);
  return resourcesOfType(cfn, 'AWS::Lambda::EventSourceMapping')
    .map(([, m]) => EventSourceMapping.parse(m.Properties))
    .filter((m) => m.FunctionName.Ref === fn.logicalId);
}

const Alarm = z.object({
  MetricName: z.string().optional(),
  Namespace: z.string().optional(),
  Dimensions: z.array(z.object({ Name: z.string(), Value: z.unknown() })).optional(),
  Threshold: z.number(),
  ComparisonOperator: z.string(),
  AlarmActions: z.array(z.unknown()).optional(),
});

function alarmsOn(queueLogicalId: string): z.infer<typeof Alarm>[] {
  return resourcesOfType(cfn, 'AWS::CloudWatch::Alarm')
    .map(([, a]) => Alarm.parse(a.Properties))
    .filter((a) =>
      (a.Dimensions ?? []).some(
        (d) =>
          d.Name === 'QueueName' && JSON.stringify(d.Value) === JSON.stringify(getAtt(queueLogicalId, 'QueueName')),
      ),
    );
}

describe('one EventBridge rule per target', () => {
  it.each([
    ['splunk', 'StintTest-target-splunk', SPLUNK_FILTER],
    ['hooks', 'StintTest-target-hooks', HOOKS_FILTER],
    ['tickets', 'StintTest-target-tickets.fifo', {}],
  ])('routes %s’s events to %s with the pattern of its filter, on the stint bus', (_name, queueName, filter) => {
    const rules = rulesTo(queueId(cfn, queueName));
    expect(rules).toHaveLength(1);
    expect(rules[0]?.EventPattern).toEqual(eventPatternFor(filter, 'stint'));
    expect(rules[0]?.EventBusName).toEqual({ Ref: stack.resolve(stack.events.bus.eventBusName).Ref });
  });

  it('writes the filter as the pattern EventBridge matches: severity list, flow ids and labels under the request', () => {
    expect(rulesTo(queueId(cfn, 'StintTest-target-splunk'))[0]?.EventPattern).toEqual({
      source: ['stint'],
      'detail-type': ['grant.active', 'grant.revoked'],
      detail: { severity: ['warning', 'high'] },
    });
    expect(rulesTo(queueId(cfn, 'StintTest-target-hooks'))[0]?.EventPattern).toEqual({
      source: ['stint'],
      detail: { request: { flowId: ['prod-db'], labels: { env: ['prod'] } } },
    });
  });

  it.each([
    ['StintTest-target-splunk', 'StintTest-target-splunk-dlq'],
    ['StintTest-target-hooks', 'StintTest-target-hooks-dlq'],
    // EventBridge takes no FIFO dead-letter queue: the ITSM target's rule uses its standard -dlq.
    ['StintTest-target-tickets.fifo', 'StintTest-target-tickets-dlq'],
  ])('sends to %s with a retry policy and %s as the rule’s dead-letter queue', (queueName, dlqName) => {
    const [target] = rulesTo(queueId(cfn, queueName))[0]?.Targets ?? [];
    expect(target?.RetryPolicy).toEqual({
      MaximumEventAgeInSeconds: DELIVERY.ruleMaxEventAgeHours * 3600,
      MaximumRetryAttempts: DELIVERY.ruleRetryAttempts,
    });
    expect(target?.DeadLetterConfig).toEqual({ Arn: getAtt(queueId(cfn, dlqName)) });
  });

  it('puts the ITSM target’s events in one FIFO message group, the target’s name', () => {
    expect(rulesTo(queueId(cfn, 'StintTest-target-tickets.fifo'))[0]?.Targets[0]?.SqsParameters).toEqual({
      MessageGroupId: 'tickets',
    });
    expect(rulesTo(queueId(cfn, 'StintTest-target-splunk'))[0]?.Targets[0]?.SqsParameters).toBeUndefined();
  });
});

describe('target queues', () => {
  it('makes the ITSM target’s queue and DLQ FIFO, deduplicated by content, and SIEM queues standard', () => {
    expect(queue('StintTest-target-tickets.fifo')).toMatchObject({ FifoQueue: true, ContentBasedDeduplication: true });
    expect(queue('StintTest-target-tickets-dlq.fifo')).toMatchObject({ FifoQueue: true });
    expect(queue('StintTest-target-splunk').FifoQueue).toBeUndefined();
    expect(queue('StintTest-target-hooks-dlq').FifoQueue).toBeUndefined();
  });

  it.each([
    ['StintTest-target-splunk', 'StintTest-target-splunk-dlq', 10],
    ['StintTest-target-hooks', 'StintTest-target-hooks-dlq', 4],
    ['StintTest-target-tickets.fifo', 'StintTest-target-tickets-dlq.fifo', 10],
  ])('redrives %s to %s after %i receives', (queueName, dlqName, maxReceiveCount) => {
    expect(queue(queueName).RedrivePolicy).toEqual({
      deadLetterTargetArn: getAtt(queueId(cfn, dlqName)),
      maxReceiveCount,
    });
  });

  it('names queues as the delivery core derives them: target from the queue ARN, DLQ from the queue name', () => {
    for (const [name, queueName] of [
      ['splunk', 'StintTest-target-splunk'],
      ['hooks', 'StintTest-target-hooks'],
      ['tickets', 'StintTest-target-tickets.fifo'],
    ] as const) {
      expect(targetOfQueueArn(`arn:aws:sqs:eu-west-1:123456789012:${queueName}`)?.name).toBe(name);
      expect(queue(queueName).RedrivePolicy).toMatchObject({
        deadLetterTargetArn: getAtt(queueId(cfn, dlqNameOf(queueName))),
      });
    }
  });

  it('encrypts every target queue, keeps messages 14 days, and hides a message 6× the function timeout', () => {
    const names = [
      'StintTest-target-splunk',
      'StintTest-target-splunk-dlq',
      'StintTest-target-hooks',
      'StintTest-target-hooks-dlq',
      'StintTest-target-tickets.fifo',
      'StintTest-target-tickets-dlq.fifo',
      'StintTest-target-tickets-dlq',
    ];
    for (const name of names) {
      expect(queue(name), name).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86400 });
    }
    for (const [name, entry] of [
      ['StintTest-target-splunk', ENTRIES.splunk],
      ['StintTest-target-tickets.fifo', ENTRIES.tickets],
    ] as const) {
      const visibility = z.number().parse(queue(name).VisibilityTimeout);
      expect(visibility).toBeGreaterThanOrEqual(6 * functionByEntry(cfn, entry).Timeout);
    }
  });

  it('lets only the target’s rule send to its queue, and refuses plain HTTP', () => {
    const Policy = z.object({
      Queues: z.array(z.object({ Ref: z.string() })),
      PolicyDocument: z.object({
        Statement: z.array(
          z.object({
            Effect: z.string(),
            Action: z.union([z.string(), z.array(z.string())]),
            Principal: z.unknown(),
            Condition: z.unknown(),
          }),
        ),
      }),
    });
    const queueLogicalId = queueId(cfn, 'StintTest-target-hooks');
    const [ruleId] =
      resourcesOfType(cfn, 'AWS::Events::Rule').find(([, r]) =>
        Rule.parse(r.Properties).Targets.some((t) => JSON.stringify(t.Arn) === JSON.stringify(getAtt(queueLogicalId))),
      ) ?? [];
    const statements = resourcesOfType(cfn, 'AWS::SQS::QueuePolicy')
      .map(([, p]) => Policy.parse(p.Properties))
      .filter((p) => p.Queues.some((q) => q.Ref === queueLogicalId))
      .flatMap((p) => p.PolicyDocument.Statement);
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]?.Principal).toEqual({ Service: 'events.amazonaws.com' });
    expect(allows[0]?.Action).toContain('sqs:SendMessage');
    expect(allows[0]?.Condition).toEqual({ ArnEquals: { 'aws:SourceArn': getAtt(z.string().parse(ruleId)) } });
    expect(statements.filter((s) => s.Effect === 'Deny')[0]?.Condition).toEqual({
      Bool: { 'aws:SecureTransport': 'false' },
    });
  });

  it.each([
    ['StintTest-target-splunk-dlq'],
    ['StintTest-target-hooks-dlq'],
    ['StintTest-target-tickets-dlq.fifo'],
    ['StintTest-target-tickets-dlq'],
  ])('alarms to the alerts topic when %s holds a message', (dlqName) => {
    const alarms = alarmsOn(queueId(cfn, dlqName));
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: stack.resolve(stack.alerts.topic.topicArn).Ref }],
    });
  });
});

describe('delivery functions', () => {
  it('creates one function per kind in use, through the house construct', () => {
    const entries = lambdaFunctions(cfn)
      .map((f) => f.entry)
      .filter((e) => typeof e === 'string' && e.startsWith('functions/delivery/'));
    expect(entries.sort()).toEqual(Object.values(ENTRIES).sort());
    for (const entry of Object.values(ENTRIES)) {
      const fn = functionByEntry(cfn, entry);
      expect(fn.Runtime).toBe('nodejs22.x');
      expect(fn.Timeout).toBe(DELIVERY.functionTimeoutSeconds);
    }
  });

  it.each([
    [ENTRIES.splunk, 'StintTest-target-splunk', 5, 100],
    [ENTRIES.hooks, 'StintTest-target-hooks', 5, 100],
    [ENTRIES.tickets, 'StintTest-target-tickets.fifo', undefined, 10],
  ])(
    'feeds %s from %s in batches (window %s s, at most %s) with partial failures',
    (entry, queueName, window, batch) => {
      const sources = eventSourcesOf(entry);
      expect(sources).toHaveLength(1);
      expect(sources[0]?.EventSourceArn).toEqual(getAtt(queueId(cfn, queueName)));
      expect(sources[0]?.BatchSize).toBe(batch);
      expect(sources[0]?.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(sources[0]?.MaximumBatchingWindowInSeconds).toBe(window);
    },
  );

  it('gives every delivery function all targets in STINT_TARGETS, as the runtime parses them', () => {
    const values = Object.values(ENTRIES).map(
      (entry) => functionByEntry(cfn, entry).Environment.Variables.STINT_TARGETS,
    );
    const [first] = values;
    expect(typeof first).toBe('string');
    expect(new Set(values).size).toBe(1);
    const targets = TargetConfig.array().parse(JSON.parse(z.string().parse(first)));
    expect(targets.map((t) => [t.name, t.kind, t.secretRef])).toEqual([
      ['splunk', 'splunk-hec', secret('splunk')],
      ['hooks', 'webhook', secret('hooks')],
      ['tickets', 'jira', secret('jira')],
    ]);
  });

  it.each([
    [ENTRIES.splunk, 'splunk', 'StintTest-target-splunk-dlq'],
    [ENTRIES.hooks, 'hooks', 'StintTest-target-hooks-dlq'],
    [ENTRIES.tickets, 'jira', 'StintTest-target-tickets-dlq.fifo'],
  ])('lets %s read only its targets’ secret and dead-letter only into their DLQ', (entry, secretName, dlqName) => {
    expect(allowedResources(cfn, entry, 'secretsmanager:GetSecretValue')).toEqual([secret(secretName)]);
    expect(allowedResources(cfn, entry, 'sqs:SendMessage')).toEqual([getAtt(queueId(cfn, dlqName))]);
    expect(allowedResources(cfn, entry, 'sqs:GetQueueUrl')).toContainEqual(getAtt(queueId(cfn, dlqName)));
  });

  it('lets only the ITSM function read and write the table, request items only (ticket keys live on requests)', () => {
    expect(tableGrants(cfn, ENTRIES.tickets)).toEqual({ actions: ['GetItem', 'PutItem'], leadingKeys: ['REQUEST#*'] });
    expect(functionByEntry(cfn, ENTRIES.tickets).Environment.Variables.STINT_TABLE_NAME).toBeDefined();
    for (const entry of [ENTRIES.splunk, ENTRIES.hooks]) {
      expect(
        [...allowedActions(cfn, entry)].filter((a) => a.startsWith('dynamodb:')),
        entry,
      ).toEqual([]);
      expect(functionByEntry(cfn, entry).Environment.Variables.STINT_TABLE_NAME, entry).toBeUndefined();
    }
  });

  it('passes cdk-nag AwsSolutions with no unacknowledged finding', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(
      report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
    ).toEqual([]);
  });
});

describe('a configuration with no targets', () => {
  it('deploys no delivery resources', () => {
    const { cfn: bare } = synth({ stackName: 'StintTest' });
    const names = resourcesOfType(bare, 'AWS::SQS::Queue').map(([, q]) => q.Properties.QueueName);
    expect(names.filter((n) => typeof n === 'string' && n.includes('-target-'))).toEqual([]);
    expect(
      lambdaFunctions(bare).filter((f) => typeof f.entry === 'string' && f.entry.startsWith('functions/delivery/')),
    ).toEqual([]);
    expect(
      resourcesOfType(bare, 'AWS::Events::Rule').filter(([, r]) => r.Properties.EventBusName !== undefined),
    ).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import {
  type ConfigMode,
  deadLetterQueueName,
  parseStintConfig,
  StintConfigError,
  targetQueueName,
  targetsEnvironment,
} from '#infra/config.ts';
import { TargetConfig } from '#lib/targets/config.ts';

const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/splunk-AbC123';

function target(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'siem',
    kind: 'splunk-hec',
    endpoint: 'https://splunk.example.com:8088/services/collector/event',
    secretRef: SECRET,
    ...overrides,
  };
}

function errorOf(targets: unknown, mode: ConfigMode = 'deployed', stackName = 'Stint'): string {
  try {
    parseStintConfig({ stackName, targets }, 'stint.config.ts', { mode });
  } catch (error) {
    if (error instanceof StintConfigError) return error.message;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('targets in stint.config.ts', () => {
  it('has no targets by default', () => {
    expect(parseStintConfig({ stackName: 'Stint' }).targets).toEqual([]);
  });

  it('keeps a valid target with its defaults filled in', () => {
    const config = parseStintConfig({
      stackName: 'Stint',
      targets: [
        target({ filter: { types: ['grant.active'], minSeverity: 'warning' } }),
        target({
          name: 'tickets',
          kind: 'jira',
          endpoint: 'https://acme.atlassian.net',
          maxReceiveCount: 5,
          options: { projectKey: 'SEC' },
        }),
      ],
    });
    expect(config.targets).toEqual([
      {
        name: 'siem',
        kind: 'splunk-hec',
        endpoint: 'https://splunk.example.com:8088/services/collector/event',
        secretRef: SECRET,
        filter: { types: ['grant.active'], minSeverity: 'warning' },
        format: 'stint',
        allowPrivateNetwork: false,
        options: {},
        maxReceiveCount: 10,
      },
      {
        name: 'tickets',
        kind: 'jira',
        endpoint: 'https://acme.atlassian.net',
        secretRef: SECRET,
        filter: {},
        format: 'stint',
        allowPrivateNetwork: false,
        options: { projectKey: 'SEC' },
        maxReceiveCount: 5,
      },
    ]);
  });

  it.each([
    [[target({ endpoint: 'http://splunk.example.com' })], 'targets.0.endpoint: must be an https URL, got http:'],
    [[target({ endpoint: 'ftp://splunk.example.com' })], 'targets.0.endpoint: must be an https URL, got ftp:'],
    [[target({ endpoint: 'splunk' })], 'targets.0.endpoint: must be a URL'],
    [
      [target({ endpoint: 'https://admin:hunter2@splunk.example.com' })],
      'targets.0.endpoint: must not carry credentials',
    ],
    [
      [target({ kind: 'qradar' })],
      'targets.0.kind: must be one of webhook, splunk-hec, datadog-logs, sumo-logic, microsoft-sentinel, elastic, jira, servicenow',
    ],
    [
      [{ name: 'siem', kind: 'webhook', endpoint: 'https://hooks.example.com' }],
      'targets.0.secretRef: is required (a Secrets Manager secret ARN; env:NAME or file:/path locally)',
    ],
    [
      [target({ secretRef: 'env:SPLUNK_TOKEN' })],
      'targets.0.secretRef: must be a Secrets Manager secret ARN in a deployed stack (env: and file: are local only)',
    ],
    [
      [target({ secretRef: 'file:/run/secrets/splunk' })],
      'targets.0.secretRef: must be a Secrets Manager secret ARN in a deployed stack (env: and file: are local only)',
    ],
    [
      [target({ secretRef: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/splunk' })],
      'targets.0.secretRef: must be the complete secret ARN, ending in the 6 characters Secrets Manager appends',
    ],
    [[target({ secretRef: 'hunter2' })], 'targets.0.secretRef: must be a Secrets Manager secret ARN'],
    [
      [target(), target({ name: 'other' }), target({ kind: 'webhook', endpoint: 'https://hooks.example.com' })],
      'targets.2.name: "siem" is already the name of targets[0]',
    ],
    [
      [target({ endpoint: 'https://169.254.169.254/latest/meta-data' })],
      'targets.0.endpoint: 169.254.169.254 is a link-local address, not a public one; set allowPrivateNetwork: true',
    ],
    [
      [target({ endpoint: 'https://10.1.2.3:8088' })],
      'targets.0.endpoint: 10.1.2.3 is a private address, not a public one; set allowPrivateNetwork: true',
    ],
    [
      [target({ endpoint: 'https://192.168.0.10' })],
      'targets.0.endpoint: 192.168.0.10 is a private address, not a public one',
    ],
    [
      [target({ endpoint: 'https://127.0.0.1:8088' })],
      'targets.0.endpoint: 127.0.0.1 is a loopback address, not a public one',
    ],
    // The WHATWG URL parser turns 2130706433 into 127.0.0.1 before the check sees it.
    [[target({ endpoint: 'https://2130706433/' })], 'targets.0.endpoint: 127.0.0.1 is a loopback address'],
    [[target({ endpoint: 'https://[::1]/' })], 'targets.0.endpoint: ::1 is a loopback address'],
    [[target({ endpoint: 'https://[fd00::1]/' })], 'targets.0.endpoint: fd00::1 is a unique local (private) address'],
    [[target({ endpoint: 'https://[::ffff:10.0.0.1]/' })], 'targets.0.endpoint: ::ffff:a00:1 is a private address'],
    [[target({ endpoint: 'https://localhost:8088' })], 'targets.0.endpoint: localhost is a loopback address'],
    [[target({ name: 'Splunk' })], 'targets.0.name: must be 1–31 lowercase letters, digits or "-"'],
    [[target({ name: 'siem-dlq' })], 'targets.0.name: must not end in "-dlq" (that names dead-letter queues)'],
    [[target({ maxReceiveCount: 0 })], 'targets.0.maxReceiveCount: must be at least 1'],
    [[target({ kind: 'jira', format: 'ocsf' })], 'targets.0.format: applies to SIEM kinds only'],
    [[target({ filter: { types: ['grant.granted'] } })], 'targets.0.filter.types.0:'],
    [[target({ token: 'abc' })], 'targets.0: Unrecognized key: "token"'],
  ])('rejects %j naming the field', (targets, message) => {
    expect(errorOf(targets)).toContain(`stint.config.ts: ${message}`);
  });

  it('refuses a target whose queue names would exceed 80 characters with this stack name', () => {
    const stackName = `Stint-${'x'.repeat(40)}`;
    // Stint-xxx…xxx-target-a-rather-long-target-name-dlq: 46 + 8 + 25 + 4 = 83 characters; 3 fewer fit exactly.
    expect(errorOf([target({ name: 'a-rather-long-target-name' })], 'deployed', stackName)).toBe(
      `stint.config.ts: targets.0.name: makes a queue name of 83 characters with stack name "${stackName}" ` +
        '(SQS allows 80); shorten the target or the stack name',
    );
    const fits = parseStintConfig({ stackName, targets: [target({ name: 'a-rather-long-target-n' })] });
    expect(fits.targets[0]?.name).toBe('a-rather-long-target-n');
  });

  it('refuses more targets than the delivery functions’ environment can hold', () => {
    const many = Array.from({ length: 20 }, (_, i) =>
      target({ name: `siem-${i}`, options: { index: 'stint-audit-events', sourcetype: 'stint:audit' } }),
    );
    expect(errorOf(many)).toMatch(/^stint\.config\.ts: targets: the targets' configuration is \d+ bytes as JSON/);
  });

  it('accepts a private endpoint when the target allows a private network', () => {
    const [only] = parseStintConfig({
      stackName: 'Stint',
      targets: [target({ endpoint: 'https://10.1.2.3:8088', allowPrivateNetwork: true })],
    }).targets;
    expect(only?.endpoint).toBe('https://10.1.2.3:8088');
  });

  it('accepts env: and file: secrets and plain HTTP in local mode only', () => {
    const local = target({
      endpoint: 'http://127.0.0.1:9000',
      secretRef: 'env:SPLUNK_TOKEN',
      allowPrivateNetwork: true,
    });
    const config = parseStintConfig({ stackName: 'Stint', targets: [local] }, 'stint.config.ts', { mode: 'local' });
    expect(config.targets[0]?.secretRef).toBe('env:SPLUNK_TOKEN');
    expect(errorOf([local], 'deployed').split('\n')).toEqual([
      'stint.config.ts: targets.0.endpoint: must be an https URL, got http:',
      'stint.config.ts: targets.0.secretRef: must be a Secrets Manager secret ARN in a deployed stack (env: and file: are local only)',
    ]);
  });

  it('names the kind’s own checks under the right field: options, or the endpoint', () => {
    expect(errorOf([target({ kind: 'jira', options: {} })])).toMatch(
      /^stint\.config\.ts: targets\.0\.options\.projectKey: /m,
    );
    expect(errorOf([target({ kind: 'datadog-logs', endpoint: 'https://logs.example.com' })])).toMatch(
      /^stint\.config\.ts: targets\.0\.endpoint: /m,
    );
  });

  it('names target errors together with the other wrong fields, one per line', () => {
    let message = '';
    try {
      parseStintConfig({
        stackName: 'Stint',
        alarmEmail: 'x',
        targets: [target({ endpoint: 'http://a.example.com' })],
      });
    } catch (error) {
      if (error instanceof StintConfigError) message = error.message;
    }
    expect(message.split('\n')).toEqual([
      'stint.config.ts: alarmEmail: must be an email address',
      'stint.config.ts: targets.0.endpoint: must be an https URL, got http:',
    ]);
  });
});

describe('target naming and the delivery functions’ environment', () => {
  it('names queues <stack>-target-<name>, FIFO for ITSM kinds', () => {
    expect(targetQueueName('Stint', { name: 'siem', kind: 'splunk-hec' })).toBe('Stint-target-siem');
    expect(deadLetterQueueName('Stint', { name: 'siem', kind: 'splunk-hec' })).toBe('Stint-target-siem-dlq');
    expect(targetQueueName('Stint', { name: 'tickets', kind: 'jira' })).toBe('Stint-target-tickets.fifo');
    expect(deadLetterQueueName('Stint', { name: 'tickets', kind: 'servicenow' })).toBe('Stint-target-tickets-dlq.fifo');
  });

  it('gives the functions every target as TargetConfig, without infrastructure fields', () => {
    const { targets } = parseStintConfig({
      stackName: 'Stint',
      targets: [target({ maxReceiveCount: 3 }), target({ name: 'hooks', kind: 'webhook' })],
    });
    const parsed = TargetConfig.array().parse(JSON.parse(targetsEnvironment(targets)));
    expect(parsed.map((t) => t.name)).toEqual(['siem', 'hooks']);
    expect(JSON.parse(targetsEnvironment(targets))[0]).not.toHaveProperty('maxReceiveCount');
  });
});

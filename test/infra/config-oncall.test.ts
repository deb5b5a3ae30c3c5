import { describe, expect, it } from 'vitest';
import { type ConfigMode, oncallEnvironment, parseStintConfig, StintConfigError } from '#infra/config.ts';
import { oncallProvidersOf } from '#lib/oncall/config.ts';

const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/pagerduty-AbC123';

function provider(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'pagerduty', kind: 'pagerduty', secretRef: SECRET, ...overrides };
}

function errorOf(oncall: unknown, mode: ConfigMode = 'deployed'): string {
  try {
    parseStintConfig({ stackName: 'Stint', oncall }, 'stint.config.ts', { mode });
  } catch (error) {
    if (error instanceof StintConfigError) return error.message;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('oncall in stint.config.ts', () => {
  it('has no on-call provider by default', () => {
    expect(parseStintConfig({ stackName: 'Stint' }).oncall).toEqual([]);
  });

  it('keeps valid providers with their defaults filled in', () => {
    const config = parseStintConfig({
      stackName: 'Stint',
      oncall: [
        provider(),
        provider({ name: 'opsgenie-eu', kind: 'opsgenie', region: 'eu', cacheSeconds: 30 }),
        provider({ name: 'pd-proxy', apiUrl: 'https://pagerduty-proxy.example.com/api' }),
      ],
    });

    expect(config.oncall).toEqual([
      { name: 'pagerduty', kind: 'pagerduty', region: 'us', secretRef: SECRET, cacheSeconds: 60 },
      { name: 'opsgenie-eu', kind: 'opsgenie', region: 'eu', secretRef: SECRET, cacheSeconds: 30 },
      {
        name: 'pd-proxy',
        kind: 'pagerduty',
        region: 'us',
        apiUrl: 'https://pagerduty-proxy.example.com/api',
        secretRef: SECRET,
        cacheSeconds: 60,
      },
    ]);
  });

  it.each([
    [[provider({ kind: 'victorops' })], 'oncall.0.kind: must be one of pagerduty, opsgenie'],
    [[provider({ name: 'PagerDuty' })], 'oncall.0.name: must be 1–31 lowercase letters, digits or "-"'],
    [[provider(), provider({ kind: 'opsgenie' })], 'oncall.1.name: "pagerduty" is already the name of oncall[0]'],
    [[provider({ region: 'apac' })], 'oncall.0.region: must be "us" or "eu"'],
    [[provider({ cacheSeconds: 3600 })], 'oncall.0.cacheSeconds: must be at most 300'],
    [[provider({ cacheSeconds: -1 })], 'oncall.0.cacheSeconds: must be 0 (no cache) or more'],
    [[provider({ apiUrl: 'http://api.pagerduty.com' })], 'oncall.0.apiUrl: must be an https URL, got http:'],
    [[provider({ apiUrl: 'pagerduty' })], 'oncall.0.apiUrl: must be a URL'],
    [[provider({ apiUrl: 'https://k:s@api.pagerduty.com' })], 'oncall.0.apiUrl: must not carry credentials'],
    [[provider({ apiUrl: 'https://api.pagerduty.com/?token=x' })], 'oncall.0.apiUrl: must be a base URL'],
    [[provider({ apiUrl: 'https://127.0.0.1:8443' })], 'oncall.0.apiUrl: 127.0.0.1 is a loopback address'],
    [[provider({ apiUrl: 'https://10.0.0.5' })], 'oncall.0.apiUrl: 10.0.0.5 is a private address'],
    [[provider({ apiUrl: 'https://localhost' })], 'oncall.0.apiUrl: localhost is a loopback address'],
    [[provider({ secretRef: undefined })], 'oncall.0.secretRef:'],
    [[provider({ secretRef: 'u+abcdefgh12345' })], 'oncall.0.secretRef:'],
    [
      [provider({ secretRef: 'env:PAGERDUTY_KEY' })],
      'oncall.0.secretRef: must be a Secrets Manager secret ARN in a deployed stack (env: and file: are local only)',
    ],
    [
      [provider({ secretRef: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint/pagerduty' })],
      'oncall.0.secretRef: must be the complete secret ARN, ending in the 6 characters Secrets Manager appends',
    ],
    [[provider({ apiKey: 'u+abc' })], 'oncall.0: Unrecognized key: "apiKey"'],
    ['pagerduty', 'oncall: must be a list of on-call providers'],
  ])('rejects %j naming the field', (oncall, message) => {
    expect(errorOf(oncall)).toContain(`stint.config.ts: ${message}`);
  });

  it('accepts env:/file: secrets and a plain-HTTP loopback stand-in in local mode only', () => {
    const local = provider({ apiUrl: 'http://127.0.0.1:4010', secretRef: 'env:PAGERDUTY_KEY' });

    const config = parseStintConfig({ stackName: 'Stint', oncall: [local] }, 'stint.config.ts', { mode: 'local' });

    expect(config.oncall[0]?.apiUrl).toBe('http://127.0.0.1:4010');
    expect(errorOf([local], 'deployed').split('\n')).toEqual([
      'stint.config.ts: oncall.0.apiUrl: must be an https URL, got http:',
      'stint.config.ts: oncall.0.secretRef: must be a Secrets Manager secret ARN in a deployed stack (env: and file: are local only)',
    ]);
  });

  it('refuses more providers than a function environment can spare', () => {
    const many = Array.from({ length: 12 }, (_, i) =>
      provider({ name: `pagerduty-${i}`, apiUrl: `https://pagerduty-${i}.proxy.example.com/api` }),
    );
    expect(errorOf(many)).toMatch(/^stint\.config\.ts: oncall: the on-call providers' configuration is \d+ bytes/);
  });

  it('gives the functions STINT_ONCALL that oncallProvidersOf reads back', () => {
    const { oncall } = parseStintConfig({
      stackName: 'Stint',
      oncall: [provider(), provider({ name: 'og', kind: 'opsgenie', region: 'eu' })],
    });

    const json = oncallEnvironment(oncall);

    expect(oncallProvidersOf({ oncallJson: json })).toEqual(oncall);
    expect(json).not.toContain('token');
  });
});

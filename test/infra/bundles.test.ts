import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type RouteAccess, routes } from '#functions/api/routes.ts';
import { jiraWebhookRoutes, slackWebhookRoutes, teamsWebhookRoutes } from '#functions/callbacks/routes.ts';
import { REPO_ROOT } from '#infra/constructs/stint-function.ts';
import type { DRIVER_TYPES } from '#lib/workflow/contract.ts';
import { type BundleResult, bundleFunctions, functionEntries } from '../../scripts/bundles.ts';

/**
 * Every Lambda bundle as `cdk deploy` builds it (scripts/bundles.ts, one esbuild build, in memory), read through its
 * metafile: what a function carries is decided by its imports, so a bundle cannot silently regain what it shed.
 */
const KiB = 1024;
/** Issue 13: every function at most 300 KiB, /health at most 60 KiB. */
const GOAL = 300 * KiB;
const HEALTH_GOAL = 60 * KiB;
/**
 * Where the goal is not met yet, the ceiling each group holds now (measured, rounded up): a bundle may shrink, never
 * grow back. What stands in the way: the AWS SDK's floor (one client with the default credential chain is about 300
 * KiB), zod classic (about 100 KiB), and the drivers' own libraries (mysql2 with iconv-lite, ioredis).
 */
const CEILINGS: readonly (readonly [RegExp, number])[] = [
  [/^functions\/api\/auth-config\.ts$/, 130 * KiB],
  // The drivers' checks (lib/integrations/checks/) and the Lambda client that reads a custom function's tags.
  [/^functions\/api\/put-integration\.ts$/, 530 * KiB],
  [/^functions\/api\/(get-access|discover-integration)\.ts$/, 560 * KiB],
  // Who may ask or vote under an on-call set: the PagerDuty/Opsgenie clients, the outbound guard, Secrets Manager.
  [/^functions\/api\/(create-request|get-request|list-requests|approve-request|reject-request)\.ts$/, 530 * KiB],
  [/^functions\/api\//, 490 * KiB],
  [/^functions\/workflow\/driver-mysql\.ts$/, 1500 * KiB],
  [/^functions\/workflow\/driver-redis\.ts$/, 680 * KiB],
  [/^functions\/workflow\/reconciler\.ts$/, 590 * KiB],
  [/^functions\/workflow\/driver-/, 560 * KiB],
  [/^functions\/callbacks\//, 530 * KiB],
  [/^functions\//, 500 * KiB],
];
const budgetOf = (entry: string): number =>
  entry === 'functions/api/health.ts' ? HEALTH_GOAL : Math.max(GOAL, CEILINGS.find(([re]) => re.test(entry))?.[1] ?? 0);

const api = (pick: (access: readonly RouteAccess[]) => boolean) =>
  routes.filter((r) => pick(r.access)).map((r) => `functions/api/${r.entry}.ts`);
const callbacks = [...slackWebhookRoutes, ...teamsWebhookRoutes, ...jiraWebhookRoutes].map(
  (r) => `functions/callbacks/${r.entry}.ts`,
);
/**
 * A driver's client library belongs to its driver function only: put-integration checks an integration through
 * lib/integrations/checks/ (schemas and checks, no client), so it holds none of them.
 */
const driver = (type: (typeof DRIVER_TYPES)[number]) => [`functions/workflow/driver-${type}.ts`];

/** Packages (or files) and the only entries whose bundle may hold them; every other entry must not. */
const ONLY_IN: readonly { readonly input: RegExp; readonly why: string; readonly entries: readonly string[] }[] = [
  { input: /^node_modules\/pg(-protocol|-pool)?\//, why: 'connects to PostgreSQL', entries: driver('postgresql') },
  { input: /^node_modules\/mysql2\//, why: 'connects to MySQL', entries: driver('mysql') },
  { input: /^node_modules\/ioredis\//, why: 'connects to Redis', entries: driver('redis') },
  {
    input: /^node_modules\/@aws-sdk\/client-(sso-admin|identitystore|organizations)\//,
    why: 'grants through Identity Center',
    entries: driver('aws-identity-center'),
  },
  { input: /^node_modules\/@aws-sdk\/client-(iam|sts)\//, why: 'grants IAM roles', entries: driver('aws-iam-role') },
  {
    // The SDK's own STS client also comes with the default credential chain, which the bundles leave out.
    input: /^node_modules\/@aws-sdk\/nested-clients\//,
    why: 'assume roles in the accounts they manage (lib/integrations/aws-clients.ts)',
    entries: [...driver('aws-iam-role'), 'functions/workflow/driver-aws-identity-center.ts'],
  },
  {
    input: /^node_modules\/@aws-sdk\/client-sfn\//,
    why: 'is granted states:* (starts executions or ends waits)',
    entries: [
      ...api((a) => a.includes('startExecution') || a.includes('taskSuccess') || a.includes('taskFailure')),
      ...callbacks,
      'functions/workflow/register-token.ts',
      'functions/workflow/reconciler.ts',
    ],
  },
  {
    input: /^node_modules\/@aws-sdk\/client-lambda\//,
    // put-integration (access lambdaIntegrations) reads a custom function's tags (ListTags) in tag mode.
    why: "invokes driver functions or reads a custom function's tags",
    entries: [
      ...api((a) => a.includes('invokeDrivers') || a.includes('lambdaIntegrations')),
      'functions/workflow/driver-lambda.ts',
      'functions/workflow/reconciler.ts',
    ],
  },
  {
    input: /^node_modules\/@aws-sdk\/client-eventbridge\//,
    why: 'puts events',
    entries: ['functions/events/publisher.ts', 'functions/workflow/reconciler.ts'],
  },
];

/** Entries that must not hold an input at all. */
const NEVER_IN: readonly { readonly input: RegExp; readonly why: string; readonly entries: readonly string[] }[] = [
  { input: /^node_modules\/zod\/v4\/locales\/(?!en\.js$)/, why: 'only the English messages', entries: ['*'] },
  {
    input: /^node_modules\/@aws-sdk\/credential-provider-node\//,
    why: 'takes its credentials from the environment (BUNDLE_ALIASES)',
    entries: ['*'],
  },
  {
    input: /^node_modules\/zod\//,
    why: 'the public chain validates nothing with zod',
    entries: ['functions/api/health.ts'],
  },
  {
    input: /^node_modules\/@aws-sdk\/client-secrets-manager\//,
    why: "resolves no secret (get-access opens sealed credentials; the on-call routes read the providers' keys)",
    entries: [...api((a) => !a.includes('credentialsKey') && !a.includes('oncall')), 'functions/events/publisher.ts'],
  },
  {
    input: /^node_modules\/jose\//,
    why: 'verifies no token and seals nothing',
    entries: [
      ...routes.filter((r) => !r.auth).map((r) => `functions/api/${r.entry}.ts`),
      'functions/events/publisher.ts',
      'functions/workflow/reconciler.ts',
      ...functionEntries().filter((e) => e.startsWith('functions/delivery/') || e.startsWith('functions/scim/')),
    ],
  },
  {
    input: /^node_modules\/@aws-sdk\/client-dynamodb\//,
    why: 'reads no table',
    entries: routes.filter((r) => r.dynamo.length === 0).map((r) => `functions/api/${r.entry}.ts`),
  },
];

let bundles: BundleResult[];
// One build of every entry: a few seconds alone, minutes when the whole suite shares two cores.
beforeAll(async () => {
  bundles = await bundleFunctions(functionEntries());
}, 600_000);

const offending = (input: RegExp, keep: (entry: string) => boolean): Record<string, string[]> =>
  Object.fromEntries(
    bundles
      .filter((b) => keep(b.entry))
      .map((b) => [b.entry, Object.keys(b.inputs).filter((i) => input.test(i) && (b.inputs[i] ?? 0) > 0)] as const)
      .filter(([, inputs]) => inputs.length > 0)
      .map(([entry, inputs]) => [entry, inputs.slice(0, 3)]),
  );

describe('Lambda bundles', () => {
  it('bundles every entry under functions/ (routes modules aside)', () => {
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
        d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
      );
    const onDisk = walk(join(REPO_ROOT, 'functions'))
      .map((f) => relative(REPO_ROOT, f).replaceAll('\\', '/'))
      .filter((f) => !f.endsWith('/routes.ts'));
    expect([...functionEntries()].sort()).toEqual(onDisk.sort());
  });

  it('keeps /health within 60 KiB and every function within its budget', () => {
    const over = bundles
      .filter((b) => b.bytes > budgetOf(b.entry))
      .map((b) => `${b.entry}: ${(b.bytes / KiB).toFixed(1)} KiB > ${(budgetOf(b.entry) / KiB).toFixed(0)} KiB`);
    expect(over).toEqual([]);
    const health = bundles.find((b) => b.entry === 'functions/api/health.ts');
    expect(health?.bytes).toBeLessThanOrEqual(HEALTH_GOAL);
  });

  for (const rule of ONLY_IN) {
    it(`holds ${rule.input.source} only in functions that ${rule.why}`, () => {
      expect(rule.entries.length).toBeGreaterThan(0);
      expect(offending(rule.input, (entry) => !rule.entries.includes(entry))).toEqual({});
    });
  }

  for (const rule of NEVER_IN) {
    it(`holds no ${rule.input.source} where a function ${rule.why}`, () => {
      expect(rule.entries.length).toBeGreaterThan(0);
      expect(offending(rule.input, (entry) => rule.entries.includes('*') || rule.entries.includes(entry))).toEqual({});
    });
  }

  it('sees the inputs it rules on (the metafile names node_modules paths as these rules expect)', () => {
    const pg = bundles.find((b) => b.entry === 'functions/workflow/driver-postgresql.ts');
    expect(Object.keys(pg?.inputs ?? {}).some((i) => /^node_modules\/pg\//.test(i))).toBe(true);
    const create = bundles.find((b) => b.entry === 'functions/api/create-request.ts');
    expect(Object.keys(create?.inputs ?? {}).some((i) => /^node_modules\/@aws-sdk\/client-sfn\//.test(i))).toBe(true);
  });
});

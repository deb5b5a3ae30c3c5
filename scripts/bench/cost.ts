/**
 * What the measured lifecycles would cost on AWS at list prices (us-east-1, no free tier), and what an idle
 * deployment costs per month, read from the synthesized template. Every price is a named constant with the page it
 * was read from (through the research search tool's stored copies, 2026-12-04); where only a third-party copy of the
 * figure was found, the comment says so.
 */

type Price = { usd: number; per: string; source: string; confirmed: boolean; note?: string };

const READ = '2026-12-04';

export const PRICES = {
  /** $0.025 per 1,000 state transitions (US East (N. Virginia) row of the AWS table). */
  stepFunctionsTransition: {
    usd: 0.025 / 1000,
    per: 'state transition (Standard)',
    source: 'https://aws.amazon.com/step-functions/pricing/',
    confirmed: true,
  },
  /** $0.20 per 1M requests: the AWS page's copy found did not show the figure; cited by third parties. */
  lambdaRequest: {
    usd: 0.2 / 1e6,
    per: 'Lambda request',
    source: 'https://aws.amazon.com/lambda/pricing/',
    confirmed: false,
    note: 'figure not visible in the stored AWS page; from memory and third-party guides',
  },
  /** Arm, first tier (first 7.5 billion GB-s a month): $0.0000133334 per GB-s. */
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    per: 'GB-second (arm64)',
    source: 'https://aws.amazon.com/lambda/pricing/ (figure from https://cloudchipr.com/blog/aws-lambda-pricing)',
    confirmed: false,
    note: 'third-party copy of the AWS table',
  },
  /** On-demand, after the November 2024 price cut: $0.625 per million write request units. */
  dynamodbWru: {
    usd: 0.625 / 1e6,
    per: 'write request unit (on-demand)',
    source:
      'https://aws.amazon.com/dynamodb/pricing/on-demand/ (figure from https://airbyte.com/data-engineering-resources/dynamodb-pricing)',
    confirmed: false,
    note: 'third-party copy; the stored AWS pages were the provisioned and old pages',
  },
  /** On-demand: $0.125 per million read request units. */
  dynamodbRru: {
    usd: 0.125 / 1e6,
    per: 'read request unit (on-demand)',
    source:
      'https://aws.amazon.com/dynamodb/pricing/on-demand/ (figure from https://airbyte.com/data-engineering-resources/dynamodb-pricing)',
    confirmed: false,
    note: 'third-party copy',
  },
  /** Custom events published to a bus: $1.00 per million (64 KB chunks; ours are far smaller). */
  eventBridgeEvent: {
    usd: 1 / 1e6,
    per: 'custom event published',
    source:
      'https://aws.amazon.com/eventbridge/pricing/ (figure from https://blog.awsfundamentals.com/aws-eventbridge-pricing-guide)',
    confirmed: false,
    note: 'third-party copy',
  },
  /** Standard queue, first 100 billion requests a month: $0.40 per million. */
  sqsRequest: {
    usd: 0.4 / 1e6,
    per: 'SQS request (standard)',
    source: 'https://aws.amazon.com/sqs/pricing/ (figure from https://cloudburn.io/blog/amazon-sqs-pricing)',
    confirmed: false,
    note: 'third-party copy',
  },
  /** HTTP APIs, first 300 million a month: $1.00 per million. */
  httpApiRequest: {
    usd: 1 / 1e6,
    per: 'API Gateway HTTP API request',
    source:
      'https://aws.amazon.com/api-gateway/pricing/ (figure from https://www.learnaws.org/2021/01/10/api-gateway-pricing/)',
    confirmed: false,
    note: 'third-party copy; the stored AWS page did not show the table',
  },
  /** $1/month per KMS key (rotation adds $1/month per newly generated backing key, not counted). */
  kmsKeyMonth: {
    usd: 1,
    per: 'KMS key-month',
    source: 'https://aws.amazon.com/kms/pricing/',
    confirmed: true,
  },
  /** $0.40 per secret per month. */
  secretMonth: {
    usd: 0.4,
    per: 'Secrets Manager secret-month',
    source:
      'https://aws.amazon.com/secrets-manager/pricing/ (figure from https://hivebook.wiki/wiki/aws-secrets-manager-rotated-secrets-dynamic-db-credentials-kms)',
    confirmed: false,
    note: 'third-party copy',
  },
  /** Standard-resolution metric alarm: $0.10 per alarm-month. */
  alarmMonth: {
    usd: 0.1,
    per: 'CloudWatch standard alarm-month',
    source:
      'https://aws.amazon.com/cloudwatch/pricing/ (figure from https://c3x.dev/resources/aws/aws_cloudwatch_metric_alarm)',
    confirmed: false,
    note: 'third-party copy',
  },
  /** $3.00 per dashboard-month (beyond the free three): could not be confirmed in this search. */
  dashboardMonth: {
    usd: 3,
    per: 'CloudWatch dashboard-month',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
    confirmed: false,
    note: 'not confirmed (from memory)',
  },
  /** $0.01 per interface endpoint per AZ-hour: the stored AWS page describes the billing but not the figure. */
  interfaceEndpointAzHour: {
    usd: 0.01,
    per: 'interface VPC endpoint AZ-hour',
    source: 'https://aws.amazon.com/privatelink/pricing/',
    confirmed: false,
    note: 'not confirmed (from memory)',
  },
} satisfies Record<string, Price>;

export const PRICES_READ = READ;
const HOURS_PER_MONTH = 730;

/** What one lifecycle (or an average of many) did, as the local runtime counted it. */
export type LifecycleUsage = {
  transitions: number;
  invocations: Record<string, number>;
  /** Summed handler milliseconds per function; undefined when the measured tree does not count them. */
  durationMs: Record<string, number> | undefined;
  dynamodb: Record<string, number>;
  events: number;
  sqsRequests: number;
  apiRequests: number;
};

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);
const READS = new Set(['GetItem', 'Query', 'BatchGetItem', 'Scan']);

/**
 * Request units from call counts. Assumptions: every item is at most 1 KB (1 WRU per written item, 1 RRU per
 * strongly consistent read of up to 4 KB); every read is strongly consistent (the store reads with
 * ConsistentRead: true); a batch call or a Query touches one item. Stream reads by a Lambda trigger are free.
 */
export function requestUnits(calls: Record<string, number>): { rru: number; wru: number } {
  let rru = 0;
  let wru = 0;
  for (const [op, n] of Object.entries(calls)) {
    if (WRITES.has(op)) wru += n;
    else if (READS.has(op)) rru += n;
  }
  return { rru, wru };
}

export type CostLine = { item: string; usd: number };

/** Dollars per 1,000 lifecycles, by line. `memoryMb` is each function's template MemorySize. */
export function costPer1000(usage: LifecycleUsage, memoryMb: Record<string, number>): CostLine[] {
  const k = 1000;
  const invocations = Object.values(usage.invocations).reduce((a, b) => a + b, 0);
  const { rru, wru } = requestUnits(usage.dynamodb);
  const lines: CostLine[] = [
    { item: 'Step Functions transitions', usd: usage.transitions * PRICES.stepFunctionsTransition.usd * k },
    { item: 'Lambda requests', usd: invocations * PRICES.lambdaRequest.usd * k },
  ];
  if (usage.durationMs !== undefined) {
    const gbSeconds = Object.entries(usage.durationMs).reduce(
      (sum, [fn, ms]) => sum + (ms / 1000) * ((memoryMb[fn] ?? 128) / 1024),
      0,
    );
    lines.push({ item: 'Lambda duration (local ms)', usd: gbSeconds * PRICES.lambdaArmGbSecond.usd * k });
  }
  lines.push(
    { item: 'DynamoDB write units', usd: wru * PRICES.dynamodbWru.usd * k },
    { item: 'DynamoDB read units', usd: rru * PRICES.dynamodbRru.usd * k },
    { item: 'EventBridge events', usd: usage.events * PRICES.eventBridgeEvent.usd * k },
    { item: 'SQS requests', usd: usage.sqsRequests * PRICES.sqsRequest.usd * k },
    { item: 'API Gateway requests', usd: usage.apiRequests * PRICES.httpApiRequest.usd * k },
  );
  return lines;
}

type Resource = { Type: string; Properties?: Record<string, unknown> };

/** Runs a month of `rate(n unit)`; undefined for cron or unknown expressions (reported, not guessed). */
function runsPerMonth(expression: unknown): number | undefined {
  const m =
    typeof expression === 'string' ? /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression) : null;
  if (m === null) return undefined;
  const n = Number(m[1]);
  const hours = m[2]?.startsWith('minute') ? n / 60 : m[2]?.startsWith('hour') ? n : n * 24;
  return HOURS_PER_MONTH / hours;
}

/** One run of a scheduled target as measured locally: the function it invoked and what that run did. */
export type ScheduledRun = {
  function: string;
  invocations: number;
  durationMs: number | undefined;
  dynamodb: Record<string, number>;
};

/**
 * The monthly cost of a deployment that serves no request: resources billed by the month in the template, and
 * the scheduled rules' runs (each one Lambda request, its duration and its DynamoDB calls, as measured locally in
 * `run`). Free when idle and not counted: the table's storage (near zero), S3/CloudFront, Cognito (per active user),
 * log storage, the EventBridge archive (per GB archived).
 */
export function idleMonthly(
  template: { Resources?: Record<string, Resource> },
  memoryMb: Record<string, number>,
  run: Record<string, ScheduledRun>,
): { lines: CostLine[]; counts: Record<string, number> } {
  const resources = Object.entries(template.Resources ?? {});
  const count = (type: string) => resources.filter(([, r]) => r.Type === type).length;
  const endpoints = resources.filter(
    ([, r]) => r.Type === 'AWS::EC2::VPCEndpoint' && r.Properties?.VpcEndpointType === 'Interface',
  );
  const endpointAzs = endpoints.reduce((sum, [, r]) => {
    const subnets = r.Properties?.SubnetIds;
    return sum + (Array.isArray(subnets) ? subnets.length : 2);
  }, 0);
  const counts = {
    kmsKeys: count('AWS::KMS::Key'),
    secrets: count('AWS::SecretsManager::Secret'),
    alarms: count('AWS::CloudWatch::Alarm'),
    dashboards: count('AWS::CloudWatch::Dashboard'),
    interfaceEndpointAzs: endpointAzs,
  };
  const lines: CostLine[] = [
    { item: `KMS keys (${counts.kmsKeys})`, usd: counts.kmsKeys * PRICES.kmsKeyMonth.usd },
    { item: `Secrets Manager secrets (${counts.secrets})`, usd: counts.secrets * PRICES.secretMonth.usd },
    { item: `CloudWatch alarms (${counts.alarms})`, usd: counts.alarms * PRICES.alarmMonth.usd },
    { item: `CloudWatch dashboards (${counts.dashboards})`, usd: counts.dashboards * PRICES.dashboardMonth.usd },
    {
      item: `interface VPC endpoint AZs (${endpointAzs})`,
      usd: endpointAzs * HOURS_PER_MONTH * PRICES.interfaceEndpointAzHour.usd,
    },
  ];
  for (const [id, r] of resources) {
    if (r.Type !== 'AWS::Events::Rule' || r.Properties?.ScheduleExpression === undefined) continue;
    const runs = runsPerMonth(r.Properties.ScheduleExpression);
    const measured = run[id];
    if (runs === undefined || measured === undefined) {
      lines.push({ item: `schedule ${id} (${String(r.Properties.ScheduleExpression)}): not measured`, usd: 0 });
      continue;
    }
    const fnMemory = memoryMb[measured.function] ?? 128;
    const { rru, wru } = requestUnits(measured.dynamodb);
    const perRun =
      measured.invocations * PRICES.lambdaRequest.usd +
      ((measured.durationMs ?? 0) / 1000) * (fnMemory / 1024) * PRICES.lambdaArmGbSecond.usd +
      rru * PRICES.dynamodbRru.usd +
      wru * PRICES.dynamodbWru.usd;
    lines.push({
      item: `schedule ${String(r.Properties.ScheduleExpression)}: ${Math.round(runs)} runs (Lambda + DynamoDB)`,
      usd: perRun * runs,
    });
  }
  return { lines, counts };
}
